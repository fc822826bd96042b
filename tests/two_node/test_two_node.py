"""A second node joins the running sandbox (`ciab sandbox up --nodes 2`, issue 20's third flow and issue 17's
several-node half): it becomes a Nova compute node, an OVN chassis and a Ceph OSD host; node 1's services keep
running untouched; what crosses between the nodes is mutual TLS (RabbitMQ 5671, OVN's southbound 6642) and Geneve
from the overlay bridges; a server on node 2 reaches the external network through node 1's router over Geneve and
attaches a Ceph volume. In the order written (the re-run last)."""

import json
from pathlib import Path

from box import BOX, NETWORKS, OS_ADMIN, ciab, results
from conftest import SECOND

from ciab import runner

OVERLAY = {BOX: "172.31.242.11", SECOND: "172.31.242.12"}


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
    for port in (5671, 6642):  # without a node certificate: the handshake is refused
        probe = node2.run(f"timeout 10 openssl s_client -connect {controller}:{port} -brief </dev/null")
        assert "CERTIFICATE_REQUIRED" in probe.stderr + probe.stdout or probe.rc != 0, probe.stderr
    for port in (5672, 3306, 11211, 6641):  # the controller's backends stay on loopback
        assert node2.run(f"timeout 5 bash -c '</dev/tcp/{controller}/{port}'").rc != 0, port


def test_a_server_on_node_2_reaches_the_external_network_over_geneve_with_a_volume(node1, node2):
    """node 1's nova-compute is disabled while the smoke test runs, so the server lands on node 2; its router's
    gateway is on node 1, so the answer of the external gateway crossed Geneve both ways."""
    tx = [int(node2.check_output(f"cat /sys/class/net/br-overlay/statistics/{d}_packets")) for d in ("tx", "rx")]
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
    after = [int(node2.check_output(f"cat /sys/class/net/br-overlay/statistics/{d}_packets")) for d in ("tx", "rx")]
    assert after[0] > tx[0] and after[1] > tx[1]
    tunnels = node2.check_output("ovs-vsctl --bare --columns options find Interface type=geneve")
    assert f"remote_ip={OVERLAY[BOX]}" in tunnels.replace('"', "")
    [verify] = [e for e in events if e["event"] == "result"]
    said = [
        json.loads(path.read_text())["event_data"]["res"]["msg"]
        for path in Path(verify["artifact_dir"], "job_events").glob("*.json")
        if '"Smoke | what the guest printed"' in path.read_text() and '"runner_on_ok"' in path.read_text()
    ]
    assert f"ciab-guest: {NETWORKS['provider']['gateway']} answers" in str(said), said


def test_a_second_run_changes_nothing(node1):
    code, events = ciab("-i", "sandbox-two", "deploy")
    assert code == runner.EXIT_OK, [f for r in results(events) for f in r["failures"]]
    [deploy] = [e for e in events if e["event"] == "result"]
    assert deploy["changed"] == 0, deploy["stats"]
