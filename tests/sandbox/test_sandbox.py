"""The README's first command end to end: `ciab sandbox up` from no sandbox (conftest), with every default layer
through discover -> plan -> deploy -> verify; what a user gets at the end (summary, demo tenant, floating IPs); the
same command again changes nothing; the destroy guard. The layers' own checks are the other test_*.py files."""

import ipaddress
import json
import subprocess
import time
import uuid
from pathlib import Path

import pytest
from box import BOX, NETWORKS, OPENSTACK_SECRETS, OS_ADMIN, OS_DEMO, ciab, plan, results
from waiting import wait_for

from ciab import runner

STEPS = ["sandbox", "discover", "plan", "deploy", "verify"]


def step_results(events):
    """{step: its result event}, in the order the steps ran."""
    out, step = {}, None
    for event in events:
        if event["event"] == "step":
            step = event["step"]
        elif event["event"] == "result":
            out[step] = event
    return out


def test_sandbox_up_runs_every_phase_with_every_default_layer(sandbox):
    code, events = sandbox
    failures = [f for r in results(events) for f in r["failures"]]
    assert code == runner.EXIT_OK, failures
    assert [e["step"] for e in events if e["event"] == "step"] == STEPS
    assert all(r["ok"] for r in results(events))
    plays = {e.get("play") for e in events if e["event"] == "ansible" and e["type"] == "playbook_on_play_start"}
    assert {"Base configuration of every node", "OpenStack core services"} <= plays
    assert any(play.startswith("Ceph") for play in plays), plays
    # verify's smoke test: a server booted, its console showed DHCP, its router and the provider gateway answering
    passed = {e.get("task") for e in events if e["event"] == "ansible" and e["type"] == "runner_on_ok"}
    for task in (
        "Smoke | boot the server and wait for ACTIVE",
        "Smoke | the guest got its DHCP address, reached its router and the external gateway, sees the volume",
    ):
        assert task in passed, task
    # what it printed (the verify run's events): the guest's console lines, and that it ran as the demo member
    timing = "Smoke | time from the boot request to ACTIVE"
    [said] = [
        e["event_data"]["res"]["msg"]
        for e in _job_events(step_results(events)["verify"]["artifact_dir"])
        if e["event"] == "runner_on_ok" and e["event_data"].get("task") == timing
    ]
    gateway = NETWORKS["provider"]["gateway"]
    for line in ("ciab-guest: booted", "ciab-guest: eth0 ", "ciab-guest: gateway", f"ciab-guest: {gateway} answers"):
        assert line in said, line
    assert "as ciab-demo" in said


def _job_events(artifact_dir):
    """The events ansible-runner kept of a run (its artifact directory)."""
    return [json.loads(path.read_text()) for path in Path(artifact_dir, "job_events").glob("*.json")]


def test_summary_tells_where_everything_is(sandbox):
    _, events = sandbox
    [summary] = [e for e in events if e["event"] == "summary"]
    endpoints = summary["endpoints"]
    address = NETWORKS["management"]["subnet"].rsplit(".", 1)[0]
    for kind in (
        "identity",
        "image",
        "placement",
        "block-storage",
        "network",
        "compute",
        "key-manager",
        "object-store",
        "object-store-s3",
        "load-balancer",
    ):
        assert endpoints[kind].startswith(f"https://{address}."), (kind, endpoints)
    assert summary["clouds"] == str(OPENSTACK_SECRETS / "clouds.yaml")
    assert summary["ca"] == str(OPENSTACK_SECRETS / "pki" / "ca.crt")
    assert set(summary["clouds_names"]) == {"ciab-admin", "ciab-demo", "ciab-demo-manager"}
    assert "sshuttle" in summary["reach"] and NETWORKS["provider"]["subnet"] in summary["reach"]
    assert [p["step"] for p in summary["phases"]] == STEPS
    assert summary["layers"] == ["base", "ceph", "openstack", "k3s"]


def test_kubernetes_skipped_without_internet_and_nothing_half_installed(host, sandbox):
    """No k3s release reachable and no bundle: the layer says why, the deploy succeeds, nothing of k3s is on the box."""
    _, events = sandbox
    [summary] = [e for e in events if e["event"] == "summary"]
    assert summary["kubernetes"]["deployed"] is False
    assert "cannot be reached" in summary["kubernetes"]["reason"]
    tasks = {e.get("task") for e in events if e["event"] == "ansible"}
    assert "Kubernetes skipped | why, and how to provide a bundle" in tasks
    for path in ("/etc/rancher/k3s", "/usr/local/bin/k3s", "/etc/systemd/system/k3s.service", "/var/lib/rancher"):
        assert not host.file(path).exists, path


def test_box_name_resolves_to_the_management_address_only(host):
    address = plan()["ip"]["management"]["address"]
    assert host.check_output(f"getent ahostsv4 {BOX}").split()[0] == address
    lines = [line.split() for line in host.file("/etc/hosts").content_string.splitlines()]
    assert [line[0] for line in lines if BOX in line[1:]] == [address]


def test_provider_nic_has_no_address_and_is_the_provider_bridge_port(host):
    nic = plan()["nic"]["provider"]["name"]
    assert host.check_output(f"ip -4 -o addr show dev {nic}") == ""
    assert nic in host.check_output("ovs-vsctl list-ports br-ex").split()
    # the boot unit takes Docker's address off again at every start of the container
    assert host.service("ciab-sandbox-provider-nic").is_enabled


def test_plan_selects_exactly_the_sandbox_disks_and_nics(host):
    the_plan = plan()
    devices = the_plan["osd"]["devices"]
    assert [d["transport"] for d in devices] == ["loop", "loop"]
    assert all(d["loop_backing_file"].startswith("/var/lib/ciab/sandbox/") for d in devices)
    # Every other disk the container sees in sysfs belongs to the host and is rejected with a reason.
    assert all(r["reasons"] for r in the_plan["osd"]["rejected"])
    assert the_plan["nic"]["management"]["name"] == "eth0"
    assert the_plan["nic"]["provider"]["name"] == "eth1"
    assert the_plan["ip"]["management"]["cidr"] == NETWORKS["management"]["subnet"]
    assert the_plan["ip"]["provider"]["cidr"] == NETWORKS["provider"]["subnet"]
    assert the_plan["ip"]["provider"]["gateway"] == NETWORKS["provider"]["gateway"]


def test_external_network_carries_the_plans_provider_range(host):
    provider = plan()["ip"]["provider"]
    network = json.loads(host.check_output(f"{OS_ADMIN} network show public -f json"))
    assert network["router:external"] and network["provider:network_type"] == "flat"
    subnet = json.loads(host.check_output(f"{OS_ADMIN} subnet show public-subnet -f json"))
    assert subnet["cidr"] == provider["cidr"] and subnet["gateway_ip"] == provider["gateway"]
    assert subnet["allocation_pools"] == [{"start": provider["allocation_start"], "end": provider["allocation_end"]}]
    assert not subnet["enable_dhcp"]


def test_demo_tenant_is_a_member_with_its_network_and_router(host):
    token = json.loads(host.check_output(f"{OS_DEMO} token issue -f json"))
    roles = json.loads(host.check_output(f"{OS_ADMIN} role assignment list --user demo --project demo --names -f json"))
    assert {r["Role"] for r in roles} == {"member"}
    router = json.loads(host.check_output(f"{OS_DEMO} router show demo-router -f json"))
    public = json.loads(host.check_output(f"{OS_DEMO} network show public -f json"))
    assert router["external_gateway_info"]["network_id"] == public["id"]
    assert router["project_id"] == token["project_id"]
    assert (
        json.loads(host.check_output(f"{OS_DEMO} network show demo-net -f json"))["project_id"] == token["project_id"]
    )
    images = json.loads(host.check_output(f"{OS_DEMO} image list --public -f json"))
    assert "ciab-guest" in {i["Name"] for i in images}
    assert "SCS-1L-1-5" in {f["Name"] for f in json.loads(host.check_output(f"{OS_DEMO} flavor list -f json"))}


@pytest.fixture
def demo_server(host):
    """A server of the demo tenant on demo-net with a floating IP and a security group that lets ICMP in."""
    name = f"ciab-test-fip-{uuid.uuid4().hex[:6]}"
    server_id = fip = None
    try:
        host.check_output(f"{OS_DEMO} security group create {name}")
        host.check_output(f"{OS_DEMO} security group rule create --protocol icmp --ingress {name}")
        server = json.loads(
            host.check_output(
                f"{OS_DEMO} server create --image ciab-guest --flavor SCS-1L-1-5 --network demo-net "
                f"--security-group {name} --wait -f json {name}"
            )
        )
        server_id = server["id"]
        fip = json.loads(host.check_output(f"{OS_DEMO} floating ip create public -f json"))["floating_ip_address"]
        host.check_output(f"{OS_DEMO} server add floating ip {server_id} {fip}")
        yield server_id, fip
    finally:
        if server_id:
            host.run(f"{OS_DEMO} server delete --wait {server_id}")
        if fip:
            host.run(f"{OS_DEMO} floating ip delete {fip}")
        host.run(f"{OS_DEMO} security group delete {name}")


def test_floating_ip_answers_from_this_machine(host, demo_server):
    """This machine is the provider network's upstream router: the demo server answers at its floating IP, through
    the provider NIC, br-ex and OVN's gateway router (DNAT), like a box's floating IP answers on its LAN."""
    server_id, fip = demo_server
    provider = plan()["ip"]["provider"]
    start, end = (ipaddress.ip_address(provider[k]) for k in ("allocation_start", "allocation_end"))
    assert start <= ipaddress.ip_address(fip) <= end
    wait_for(host, f"{OS_DEMO} console log show {server_id}", lambda out: "ciab-guest: gateway" in out, 300)
    deadline = time.monotonic() + 120
    while subprocess.run(["ping", "-c", "1", "-W", "2", fip], capture_output=True, check=False).returncode != 0:
        assert time.monotonic() < deadline, f"the floating IP {fip} of the demo server does not answer"


def test_up_again_converges_with_nothing_changed(sandbox):
    """The same command on a machine where it already ran: every phase passes, the deploy changes nothing."""
    code, events = ciab("sandbox", "up")
    by_step = step_results(events)
    assert code == runner.EXIT_OK, [f for r in results(events) for f in r["failures"]]
    assert list(by_step) == STEPS
    assert by_step["deploy"]["changed"] == 0, by_step["deploy"]["stats"]
    # the smoke test passed after the first deploy and nothing changed since: only the read-only checks run
    assert any("the smoke test is left out" in e.get("text", "") for e in events if e["event"] == "message")
    tasks = {e.get("task") for e in events if e["event"] == "ansible"}
    assert "OpenStack | Keystone issues a token to the admin" in tasks
    assert not any(str(task).startswith("Smoke |") for task in tasks)
    [summary] = [e for e in events if e["event"] == "summary"]
    [first] = [e for e in sandbox[1] if e["event"] == "summary"]
    assert summary["endpoints"] == first["endpoints"]


def test_verify_and_status_answer(host):
    # status only reads: it verifies the layers deploy recorded (all of them), without the smoke test's servers.
    for command in (["verify", "--limit", "base"], ["status"]):
        code, events = ciab("-i", "sandbox", *command)
        assert code == runner.EXIT_OK, results(events)[0]["failures"]
    tasks = {e.get("task") for e in events if e["event"] == "ansible"}
    assert "OpenStack | Keystone issues a token to the admin" in tasks
    assert not any(str(task).startswith("Smoke |") for task in tasks)


def test_destroy_guard_keeps_the_box(host):
    code, events = ciab("-i", "sandbox", "destroy", "--yes-destroy", "some-other-box")
    assert code == runner.EXIT_REFUSED
    [message] = [e for e in events if e["event"] == "message"]
    assert "--yes-destroy NAME naming one box of inventory sandbox" in message["text"]
    running = subprocess.run(
        ["docker", "inspect", "-f", "{{.State.Running}}", BOX], capture_output=True, text=True, check=False
    )
    assert running.stdout.strip() == "true"
