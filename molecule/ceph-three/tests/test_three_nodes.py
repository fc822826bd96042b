"""Verify ciab.box.ceph on three nodes: one quorum, one OSD per host, host failure domain, every gateway answers."""

import json
import os
import sys
import time
import uuid
from pathlib import Path

import pytest
import yaml

# The S3 client of the single-node scenario.
sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "shared"))
from s3client import s3_roundtrip

SECRETS = Path(os.environ["MOLECULE_EPHEMERAL_DIRECTORY"]) / "secrets" / "ceph"
NODES = {"ciab-ceph-1": "172.31.251.11", "ciab-ceph-2": "172.31.251.12", "ciab-ceph-3": "172.31.251.13"}


def ceph_json(host, command):
    return json.loads(host.check_output(f"ceph {command} --format json"))


def healthy(host, timeout=240):
    deadline = time.monotonic() + timeout
    while host.run("ceph health").stdout.strip() != "HEALTH_OK":
        assert time.monotonic() < deadline, host.run("ceph health detail").stdout
        time.sleep(3)


def own_osd(host):
    """(id, uuid, device) of the node's one OSD, from the role's list (/etc/ceph/ciab-osds)."""
    lines = [line.split() for line in host.file("/etc/ceph/ciab-osds").content_string.splitlines()]
    [entry] = [line for line in lines if line and not line[0].startswith("#")]
    return entry[0], entry[1], entry[2]


@pytest.fixture
def first(host):
    """Cluster-wide checks run once, from the first node."""
    if host.backend.get_hostname() != "ciab-ceph-1":
        pytest.skip("cluster-wide check: runs on ciab-ceph-1")
    return host


def test_health_ok(first):
    healthy(first)


def test_three_monitors_in_one_quorum(first):
    quorum = ceph_json(first, "quorum_status")
    assert sorted(quorum["quorum_names"]) == sorted(NODES)


def test_one_osd_per_host_all_up(first):
    tree = ceph_json(first, "osd tree")
    hosts = [n for n in tree["nodes"] if n["type"] == "host"]
    assert sorted(h["name"] for h in hosts) == sorted(NODES)
    assert all(len(h["children"]) == 1 for h in hosts)
    stat = ceph_json(first, "osd stat")
    assert stat["num_osds"] == stat["num_up_osds"] == stat["num_in_osds"] == 3


def test_interrupted_prepares_left_one_finished_osd_per_device(host):
    """side_effect.yml killed ciab-ceph-3's ceph-volume twice (after `ceph osd new`, then in mkfs); the runs after
    the kills purged what each left: no OSD id that never started, three OSDs, and each node's device carries the
    OSD of its list with mkfs finished, as after an uninterrupted run."""
    osd_id, osd_uuid, device = own_osd(host)
    osds = ceph_json(host, "osd dump")["osds"]
    assert sorted((o["up"], o["in"], "new" in o["state"]) for o in osds) == [(1, 1, False)] * 3
    assert osd_uuid in {o["uuid"] for o in osds}
    label = json.loads(host.check_output(f"ceph-bluestore-tool show-label --dev {device}"))[device]
    assert (label["osd_uuid"], label["whoami"], label.get("mkfs_done")) == (osd_uuid, osd_id, "yes")


def test_replication_across_hosts(first):
    rule = ceph_json(first, "osd crush rule dump ciab_replicated_host")
    assert [s.get("type") for s in rule["steps"] if s["op"].startswith("choose")] == ["host"]
    for pool in ceph_json(first, "osd pool ls detail"):
        assert (pool["size"], pool["min_size"], pool["crush_rule"]) == (3, 2, rule["rule_id"]), pool["pool_name"]


def test_every_node_runs_its_daemons(host):
    name = host.check_output("hostname -s")
    for unit in (f"ceph-mon@{name}", f"ceph-mgr@{name}", f"ceph-radosgw@rgw.{name}", "ciab-ceph-osd-activate"):
        assert host.service(unit).is_enabled, unit
    assert host.service(f"ceph-mon@{name}").is_running


def test_rbd_roundtrip_survives_one_osd_down(first):
    """min_size 2: with one host's OSD stopped, writes and reads still work."""
    image = f"verify-{uuid.uuid4().hex[:8]}"
    osd_id = own_osd(first)[0]
    first.run_expect([0], "head -c 8388608 /dev/urandom > /tmp/rbd-in")
    first.run_expect([0], f"systemctl stop ceph-osd@{osd_id}")
    assert not first.service(f"ceph-osd@{osd_id}").is_running
    try:
        first.run_expect([0], f"timeout 120 rbd import --pool volumes /tmp/rbd-in {image}")
        first.run_expect([0], f"timeout 120 rbd export --pool volumes {image} /tmp/rbd-out")
        sums = first.check_output("sha256sum /tmp/rbd-in /tmp/rbd-out").split("\n")
        assert sums[0].split()[0] == sums[1].split()[0]
    finally:
        first.run(f"systemctl start ceph-osd@{osd_id}")
        first.run(f"rbd rm --pool volumes {image}; rm -f /tmp/rbd-in /tmp/rbd-out")
    healthy(first)


@pytest.mark.parametrize("node", sorted(NODES))
def test_every_gateway_serves_the_s3_user(node):
    # over TLS: each gateway's certificate, from the box's CA (cafile in the file), names its own address
    creds = {**yaml.safe_load((SECRETS / "s3-ciab.yml").read_text()), "endpoint": f"https://{NODES[node]}:7480"}
    assert creds["cafile"].endswith("/pki/ca.crt")
    put, got = s3_roundtrip(creds, f"verify-{node}-{uuid.uuid4().hex[:6]}", 64 * 1024)
    assert got == put


def test_the_firewall_lets_exactly_the_nodes_reach_cephs_daemons(host):
    """The cluster above formed with the host firewall on: every node's table lets the three nodes (and only
    them) reach the monitors, OSDs and managers; the object gateway is open to everyone."""
    nodes = host.check_output("nft list set inet ciab nodes4")
    assert all(address in nodes for address in NODES.values()), nodes
    assert "3300" in host.check_output("nft list set inet ciab nodes_tcp")
    assert "6800-7568" in host.check_output("nft list set inet ciab nodes_tcp")
    assert "7480" in host.check_output("nft list set inet ciab public_tcp")
    assert "counter packets" in host.check_output("nft list chain inet ciab input")
