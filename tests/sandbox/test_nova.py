"""Verify Nova on the all-in-one node: cells, the compute node on libvirt/QEMU, what the probes decided.

The boot of a server with an attached volume is the smoke test of playbooks/verify.yml (`sandbox up`: test_sandbox.py).
"""

import json
import shlex
import time
import uuid

import pytest
from box import BOX, CLIENT, OS_DEMO, console_session, vnc_listener, vnc_probe
from units import running_unit_user

OS = "openstack --os-cloud ciab-admin"
UNITS = ("nova-api", "nova-conductor", "nova-scheduler", "nova-novncproxy", "nova-compute")
NOVA = "/opt/ciab/openstack/2026.2/nova/bin"


def compute_services(host):
    return {s["Binary"]: s for s in json.loads(host.check_output(f"{OS} compute service list -f json"))}


@pytest.fixture(scope="module", autouse=True)
def compute_up(host):
    """nova-compute reports up (it may be coming back from the container restart of test_ceph.py)."""
    deadline = time.monotonic() + 300
    while True:
        result = host.run(f"{OS} compute service list -f json")
        if result.rc == 0 and all(
            s["State"] == "up" for s in json.loads(result.stdout) if s["Binary"] in ("nova-compute", "nova-conductor")
        ):
            return
        assert time.monotonic() < deadline, result.stdout + result.stderr
        time.sleep(5)


def test_services_up(host):
    services = compute_services(host)
    assert {"nova-conductor", "nova-scheduler", "nova-compute"} <= set(services)
    assert all(s["State"] == "up" and s["Status"] == "enabled" for s in services.values()), services


def test_cells_and_host_mapping(host):
    cells = host.check_output(f"sudo -u nova {NOVA}/nova-manage cell_v2 list_cells")
    assert "cell0" in cells and "cell1" in cells
    assert BOX in host.check_output(f"sudo -u nova {NOVA}/nova-manage cell_v2 list_hosts")


def test_hypervisor_is_qemu_tcg_here(host):
    """No /dev/kvm in the test container: the probe chose QEMU (TCG), and libvirt reports it."""
    hypervisors = json.loads(host.check_output(f"{OS} hypervisor list --long -f json"))
    assert [h["Hypervisor Type"] for h in hypervisors] == ["QEMU"]
    assert host.run("grep -Eq '^virt_type = qemu$' /etc/nova/nova.conf").rc == 0
    assert not host.file("/dev/kvm").exists


def test_libvirt_namespaces_off_because_the_node_is_a_container(host):
    assert host.check_output("systemd-detect-virt --container") == "docker"
    assert host.file("/etc/libvirt/qemu.conf").contains("^namespaces = \\[\\]$")


def test_memory_reserved_from_the_plan(host):
    conf = host.file("/etc/nova/nova.conf").content_string
    reserved = [line.split("=")[1].strip() for line in conf.splitlines() if line.startswith("reserved_host_memory_mb")]
    script = (
        "import json, openstack\n"
        "conn = openstack.connect(cloud='ciab-admin')\n"
        "provider = next(iter(conn.placement.resource_providers()))\n"
        "print(json.dumps(conn.placement.get(f'/resource_providers/{provider.id}/inventories/MEMORY_MB').json()))"
    )
    inventory = json.loads(host.check_output(f"{CLIENT}/python -c {shlex.quote(script)}"))
    assert str(inventory["reserved"]) == reserved[0]


def test_libvirt_secrets_hold_the_ceph_keys(host):
    secrets = host.check_output("virsh secret-list")
    for client in ("client.nova", "client.cinder"):
        assert f"ceph {client} secret" in secrets, client


def test_privsep_is_the_only_thing_nova_may_sudo(host):
    rules = host.check_output("sudo -l -U nova")
    allowed = [line.strip() for line in rules.splitlines() if "NOPASSWD" in line]
    assert len(allowed) == 1 and "/nova/bin/privsep-helper --config-file /etc/nova/nova.conf" in allowed[0]


@pytest.mark.parametrize("unit", UNITS)
def test_units_run_as_nova_and_are_enabled(host, unit):
    assert running_unit_user(host, unit) == "nova"


def test_each_request_reaches_placement_right_after_the_scheduler_starts(host):
    """nova-scheduler runs one worker: with one per core, one of the first boots after each start failed with an SSL
    error towards Placement (the workers shared the connection they inherited). Right after a restart, each of four
    requests for a flavor no host has room for is scheduled: each ends in 'No valid host', none in an error."""
    assert host.check_output("pgrep -c -f 'nova-schedule[r]: ServiceWrapper worker'") == "1"
    name = f"ciab-test-nowhere-{uuid.uuid4().hex[:6]}"
    # a trait of Placement's that no compute node here has (a GPU's)
    host.check_output(f"{OS} flavor create --ram 1024 --vcpus 1 --disk 5 --private {name}"
                      " --property trait:HW_GPU_API_CUDA_V10_0=required")  # fmt: skip
    try:
        host.check_output("systemctl restart nova-scheduler")
        for index in range(4):
            host.check_output(f"{OS} server create --flavor {name} --image ciab-guest --nic none {name}-{index}")
        faults = {}
        deadline = time.monotonic() + 120
        while len(faults) < 4:
            assert time.monotonic() < deadline, faults
            time.sleep(3)
            for server in json.loads(host.check_output(f"{OS} server list --name {name} -f json")):
                if server["Status"] == "ERROR":
                    faults[server["Name"]] = json.loads(host.check_output(f"{OS} server show -f json {server['ID']}"))
        assert all("No valid host" in f["fault"]["message"] for f in faults.values()), [
            f["fault"] for f in faults.values()
        ]
    finally:
        host.run(f"for s in $({OS} server list --name {name} -f value -c ID); do {OS} server delete --wait $s; done")
        host.run(f"{OS} flavor delete {name}")


@pytest.fixture(scope="module")
def server(host):
    """A member's server, deleted after the module."""
    name = f"ciab-test-server-{uuid.uuid4().hex[:6]}"
    boot = f"--flavor SCS-1L-1-5 --network demo-net --image ciab-guest --wait -f json {name}"
    server_id = json.loads(host.check_output(f"{OS_DEMO} server create {boot}"))["id"]
    yield server_id
    host.run(f"{OS_DEMO} server delete --wait {server_id}")


def test_the_console_reaches_the_guest_through_the_proxy_by_vencrypt_only(host, server):
    """Through the TLS console proxy a browser's session reaches the guest (its desktop's name names the libvirt
    domain). The guest's VNC server itself offers a plain client only VeNCrypt with x509 subtypes, and ends the TLS
    session of a client without a certificate of the box's CA; with the node certificate (what the proxy presents) it
    goes on."""
    session = console_session(host, server)
    domain = json.loads(host.check_output(f"{OS} server show -f json {server}"))["OS-EXT-SRV-ATTR:instance_name"]
    assert session == {"version": b"RFB 003.008\n", "types": [1], "result": b"\0\0\0\0", "size": session["size"],
                       "name": f"QEMU ({domain})"}, session  # fmt: skip
    assert min(session["size"]) > 0
    address, port = vnc_listener(host, domain)
    assert address == "127.0.0.1"  # one node: the proxy and the guests on the same node
    plain = vnc_probe(host, address, port, with_certificate=False)
    assert plain["types"] == [19] and plain["vencrypt"] == [0, 2] and plain["accepted"] == 1, plain
    assert set(plain["subtypes"]) <= {260, 261, 262}, plain  # X509None, X509Vnc, X509Plain: TLS with x509 only
    assert plain.get("result", "") == "" or "error" in plain, plain
    assert vnc_probe(host, address, port, with_certificate=True)["result"] == "00000000"


def test_server_snapshot_boots_again(host, server):
    """A snapshot of a server is an RBD clone of its disk in the images pool (Nova's direct snapshot: nova's Ceph key
    may write there), not a copy of the whole disk through Glance; it is an image that boots a second server."""
    name = f"ciab-test-snap-{uuid.uuid4().hex[:6]}"
    boot = f"{OS_DEMO} server create --flavor SCS-1L-1-5 --network demo-net --wait -f json"
    snap_server_id = image_id = None
    try:
        snapshot = host.check_output(f"{OS_DEMO} server image create --wait -f json --name {name} {server}")
        image_id = json.loads(snapshot)["id"]
        image = json.loads(host.check_output(f"{OS_DEMO} image show -f json {image_id}"))
        assert image["status"] == "active" and image["properties"]["stores"] == "rbd", image
        journal = host.check_output(f"journalctl --no-pager -u nova-compute --grep {server} --output cat")
        assert "Took" in journal and "to snapshot the instance" in journal, journal[-2000:]
        # the messages of Nova's fallback to copying the disk through Glance
        assert "Performing standard snapshot" not in journal and "beginning image upload" not in journal, journal
        snap_server_id = json.loads(host.check_output(f"{boot} --image {image_id} {name}-2"))["id"]
        assert json.loads(host.check_output(f"{OS_DEMO} server show -f json {snap_server_id}"))["status"] == "ACTIVE"
    finally:
        if snap_server_id:
            host.run(f"{OS_DEMO} server delete --wait {snap_server_id}")
        if image_id:
            host.run(f"{OS_DEMO} image delete {image_id}")
