"""A second node joins the running sandbox (`ciab sandbox up --nodes 2`, issue 20's third flow and issue 17's
several-node half): it becomes a Nova compute node, an OVN chassis and a Ceph OSD host; node 1's services keep
running untouched; what crosses between the nodes is mutual TLS (RabbitMQ 5671, OVN's southbound 6642) and Geneve
from the overlay bridges; a server on node 2 reaches the external network through node 1's router over Geneve and
attaches a Ceph volume. In the order written (the re-run last)."""

import json
import uuid
from pathlib import Path

import yaml
from box import (
    BOX,
    HARDWARE,
    NETWORKS,
    OS_ADMIN,
    OS_DEMO,
    ROOT,
    SCAN,
    ciab,
    console_session,
    outside,
    results,
    tls_probe,
    vnc_listener,
    vnc_probe,
)
from conftest import SECOND

from ciab import runner

OVERLAY = {BOX: HARDWARE["ciab_sandbox_overlay_address"], SECOND: HARDWARE["ciab_sandbox_second"]["overlay_address"]}


def test_the_join_restarted_nothing_on_node_1_and_changed_none_of_its_files(joined, node1):
    _, _, before, after = joined
    assert before["units"] and after["units"] == before["units"]
    assert after["configs"] == before["configs"]
    # the one change node 1 takes: its firewall knows the new node
    assert OVERLAY[SECOND] in node1.check_output("nft list set inet ciab nodes4")


def test_node_2_is_a_compute_node_chassis_and_osd_host_only(node1, node2):
    assert json.loads(node1.check_output("ceph mon dump --format json"))["mons"][0]["name"] == BOX
    assert len(json.loads(node1.check_output("ceph mon dump --format json"))["mons"]) == 1
    tree = json.loads(node1.check_output("ceph osd tree --format json"))["nodes"]
    [host2] = [n for n in tree if n["type"] == "host" and n["name"] == SECOND]
    osds = {n["id"]: n for n in tree if n["type"] == "osd"}
    assert host2["children"] and all(osds[i]["status"] == "up" for i in host2["children"])
    # the pools moved to the host failure domain at runtime: two copies, one on each node
    rules = {r["rule_id"]: r["rule_name"] for r in json.loads(node1.check_output("ceph osd crush rule dump -f json"))}
    pools = json.loads(node1.check_output("ceph osd pool ls detail -f json"))
    assert {(rules[p["crush_rule"]], p["size"]) for p in pools} == {("ciab_replicated_host", 2)}
    assert node1.check_output("ceph health") == "HEALTH_OK"
    services = json.loads(node1.check_output(f"{OS_ADMIN} compute service list --service nova-compute -f json"))
    assert {(s["Host"], s["State"]) for s in services} == {(BOX, "up"), (SECOND, "up")}
    for unit in ("mariadb", "rabbitmq-server", "memcached", "ovn-northd", "nginx", "keystone", "nova-api"):
        assert not node2.service(unit).is_running, unit
    assert node2.service("nova-compute").is_running and node2.service("ovn-controller").is_running
    ids = node2.check_output("ovs-vsctl get open . external_ids")
    assert "ovn-cms-options" not in ids  # no gateway: routers stay on node 1
    encap = node1.check_output(f"ovn-sbctl --bare --columns ip find Encap chassis_name={SECOND}")
    assert encap.split() == [OVERLAY[SECOND]]


def test_node_2_reaches_the_controller_over_mutual_tls_only(node1, node2):
    remote = node2.check_output("ovs-vsctl get open . external_ids:ovn-remote").strip('"')
    assert remote.startswith("ssl:") and remote.endswith(":6642")
    assert node2.check_output("ovn-appctl -t ovn-controller connection-status") == "connected"
    connections = node1.check_output("rabbitmqctl -q list_connections user peer_host ssl")
    node2_address = node2.check_output("ip -4 route get 1.1.1.1").split("src ")[1].split()[0]
    assert any(node2_address in line and "true" in line for line in connections.splitlines()), connections
    controller = remote.split(":")[1]
    for port in (5671, 6642):  # with node 2's certificate they answer, without one they refuse
        assert tls_probe(node2, controller, port, with_certificate=True).startswith("ANSWERED TLSv1.3")
        assert tls_probe(node2, controller, port, with_certificate=False).startswith(("REFUSED", "CLOSED"))
    for port in (5672, 3306, 11211, 6641):  # the controller's backends stay on loopback
        assert node2.run(f"timeout 5 bash -c '</dev/tcp/{controller}/{port}'").rc != 0, port


def tunnel_packets(node):
    """The packets node 2's Geneve port to node 1 sent and received (OVS's statistics; node 1 is its only peer)."""
    out = node.check_output("ovs-vsctl --format=json --columns=options,statistics find Interface type=geneve")
    [(options, statistics)] = json.loads(out)["data"]
    assert dict(options[1])["remote_ip"] == OVERLAY[BOX], options
    return dict(statistics[1])


def test_a_server_on_node_2_reaches_the_external_network_over_geneve_with_a_volume(node1, node2):
    """node 1's nova-compute is disabled while the smoke test runs, so the server lands on node 2; its router's
    gateway is on node 1, so the answer of the external gateway crossed Geneve both ways."""
    before = tunnel_packets(node2)
    node1.check_output(f"{OS_ADMIN} compute service set --disable {BOX} nova-compute")
    try:
        code, events = ciab("-i", "sandbox-two", "verify", "--limit", "openstack")
    finally:
        node1.check_output(f"{OS_ADMIN} compute service set --enable {BOX} nova-compute")
    assert code == runner.EXIT_OK, [f for r in results(events) for f in r["failures"]]
    passed = {e.get("task") for e in events if e["event"] == "ansible" and e["type"] == "runner_on_ok"}
    assert "Smoke | the guest got its DHCP address, reached its router and the external gateway, sees the volume" in (
        passed
    )
    after = tunnel_packets(node2)
    assert after["tx_packets"] > before["tx_packets"] and after["rx_packets"] > before["rx_packets"], (before, after)
    [verify] = [e for e in events if e["event"] == "result"]
    said = [
        json.loads(path.read_text())["event_data"]["res"]["msg"]
        for path in Path(verify["artifact_dir"], "job_events").glob("*.json")
        if '"Smoke | what the guest printed"' in path.read_text() and '"runner_on_ok"' in path.read_text()
    ]
    assert f"ciab-guest: {NETWORKS['provider']['gateway']} answers" in str(said), said


def test_the_console_of_a_server_on_node_2_crosses_between_the_nodes_by_vencrypt_only(node1, node2):
    """The console proxy on node 1 reaches the VNC server of a guest on node 2 over TLS, each side with its node
    certificate (VeNCrypt, x509): a browser's session through the proxy reaches the guest. Node 1 (a node: the firewall
    lets it reach 5900-5999) is offered only VeNCrypt there and refused without a certificate."""
    name = f"ciab-test-console-{uuid.uuid4().hex[:6]}"
    boot = f"--flavor SCS-1L-1-5 --network demo-net --image ciab-guest --wait -f json {name}"
    node1.check_output(f"{OS_ADMIN} compute service set --disable {BOX} nova-compute")
    try:
        server = json.loads(node1.check_output(f"{OS_DEMO} server create {boot}"))["id"]
    finally:
        node1.check_output(f"{OS_ADMIN} compute service set --enable {BOX} nova-compute")
    try:
        shown = json.loads(node1.check_output(f"{OS_ADMIN} server show -f json {server}"))
        assert shown["OS-EXT-SRV-ATTR:host"] == SECOND, shown
        domain = shown["OS-EXT-SRV-ATTR:instance_name"]
        session = console_session(node1, server)
        assert (session["types"], session["result"], session["name"]) == ([1], b"\0\0\0\0", f"QEMU ({domain})"), session
        address, port = vnc_listener(node2, domain)
        assert address == node2.check_output("ip -4 route get 1.1.1.1").split("src ")[1].split()[0]
        plain = vnc_probe(node1, address, port, with_certificate=False)
        assert plain["types"] == [19] and plain.get("result", "") == "", plain
        assert vnc_probe(node1, address, port, with_certificate=True)["result"] == "00000000"
    finally:
        node1.run(f"{OS_DEMO} server delete --wait {server}")


def test_node_2_has_no_port_open_to_the_management_network(node2):
    """A scan from a container on the management network (not a node): node 2 runs no API or dashboard, and its
    Ceph OSD and guests' consoles are for the box's nodes only."""
    address = yaml.safe_load((ROOT / ".cache" / "plan" / f"{SECOND}.yml").read_text())["ip"]["management"]["address"]
    scan = outside("python3", "-c", SCAN, address)
    assert scan.returncode == 0, scan.stderr
    assert json.loads(scan.stdout) == []


def test_a_sandbox_of_one_box_is_refused_while_the_second_exists(node2):
    code, events = ciab("sandbox", "up")
    assert code == runner.EXIT_USAGE
    [error] = [f["msg"] for r in results(events) for f in r["failures"]]
    assert "the sandbox has a second box, ciab-sandbox-2" in error and "--nodes 2" in error
    assert node2.service("nova-compute").is_running


def test_a_second_run_changes_nothing(node1):
    code, events = ciab("-i", "sandbox-two", "deploy")
    assert code == runner.EXIT_OK, [f for r in results(events) for f in r["failures"]]
    [deploy] = [e for e in events if e["event"] == "result"]
    assert deploy["changed"] == 0, deploy["stats"]
