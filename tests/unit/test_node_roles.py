"""Which node runs what by default (ciab.box.ciab's vars): a box grows by inventory alone without touching its first
node. The parts a cluster has once (Ceph monitors, managers, gateways, the OpenStack controller, the k3s server)
stay on the first node; every node computes, and is an OSD host when it has planned devices; the inventory's groups
win over the defaults.
"""

from __future__ import annotations

import base64
import json

import pytest
import yaml

from ciab import runner

PLAYBOOK = runner.ROOT / "tests" / "unit" / "playbooks" / "node_roles.yml"
DEVICE = ["/dev/disk/by-id/nvme-box-osd"]


def _roles(tmp_path, hosts: dict, groups: dict | None = None) -> dict:
    """Each node's view; a node's __ceph_node (what Ceph's preflight publishes) counts its ceph_osd_devices."""
    local = {"ansible_connection": "local", "ansible_python_interpreter": "{{ ansible_playbook_python }}"}
    children = {
        "ciab_nodes": {
            "hosts": {
                name: {**local, "__ceph_node": {"osd_count": len(hostvars.get("ceph_osd_devices", []))}, **hostvars}
                for name, hostvars in hosts.items()
            }
        }
    }
    children.update({name: {"hosts": {member: {} for member in members}} for name, members in (groups or {}).items()})
    inventory = tmp_path / "hosts.yml"
    inventory.write_text(yaml.safe_dump({"all": {"children": children}}))
    result = runner.run(str(PLAYBOOK), inventory=inventory, extravars={"node_roles_out": str(tmp_path)})
    assert result.exit_code == runner.EXIT_OK, result.failures
    return {name: json.loads((tmp_path / f"{name}.json").read_text()) for name in hosts}


def test_one_node_runs_everything(tmp_path):
    view = _roles(tmp_path, {"box1": {"ceph_osd_devices": DEVICE}})["box1"]
    for part in ("openstack_controllers", "openstack_computes", "ceph_mons", "ceph_mgrs", "ceph_osds", "ceph_rgws",
                 "k3s_servers"):  # fmt: skip
        assert view[part] == ["box1"], part
    assert view["k3s_agents"] == []
    assert view["is_osd"] is True


def test_a_second_node_computes_and_leaves_the_first_nodes_parts_alone(tmp_path):
    views = _roles(tmp_path, {"box1": {"ceph_osd_devices": DEVICE}, "box2": {"ceph_osd_devices": DEVICE}})
    assert views["box1"] == views["box2"] | {"is_osd": True}
    view = views["box1"]
    for part in ("openstack_controllers", "ceph_mons", "ceph_mgrs", "ceph_rgws", "k3s_servers"):
        assert view[part] == ["box1"], part
    assert view["openstack_computes"] == ["box1", "box2"]
    assert view["ceph_osds"] == ["box1", "box2"]
    assert view["k3s_agents"] == ["box2"]
    assert views["box2"]["is_osd"] is True


@pytest.mark.parametrize(("groups", "box2_is_osd"), [({}, False), ({"ceph_osds": ["box1", "box2"]}, True)])
def test_a_node_without_planned_devices_is_a_ceph_client_unless_named_an_osd_host(tmp_path, groups, box2_is_osd):
    """Without the group ceph_osds a second node with no device is a client (its preflight would refuse it as an
    OSD host); named in ceph_osds it stays one, and preflight tells what is missing. The first node stays an OSD
    host either way, so a box without any device is refused, not deployed without OSDs."""
    views = _roles(tmp_path, {"box1": {"ceph_osd_devices": []}, "box2": {"ceph_osd_devices": []}}, groups)
    assert views["box1"]["is_osd"] is True
    assert views["box2"]["is_osd"] is box2_is_osd


def test_the_inventorys_groups_win(tmp_path):
    groups = {"ceph_mons": ["box1", "box2", "box3"], "k3s_servers": ["box1", "box2", "box3"],
              "openstack_computes": ["box2", "box3"]}  # fmt: skip
    hosts = {name: {"ceph_osd_devices": DEVICE} for name in ("box1", "box2", "box3")}
    view = _roles(tmp_path, hosts, groups)["box3"]
    assert view["ceph_mons"] == ["box1", "box2", "box3"]
    assert view["ceph_mgrs"] == ["box1"]
    assert view["k3s_servers"] == ["box1", "box2", "box3"]
    assert view["k3s_agents"] == []
    assert view["openstack_computes"] == ["box2", "box3"]
    assert view["openstack_controllers"] == ["box1"]


@pytest.mark.parametrize(("made_with", "expected"), [(None, "1"), ("0", "0")])
def test_ceph_conf_keeps_the_crush_type_the_cluster_was_made_with(tmp_path, made_with, expected):
    """Two OSD hosts make the failure domain host (osd_crush_chooseleaf_type 1) for a new cluster; a cluster made
    on one node (0, in its first monitor's ceph.conf) keeps 0 when a second OSD host joins: ceph.conf stays as it
    was and no daemon restarts."""
    hostvars = {"ceph_osd_devices": DEVICE}
    if made_with is not None:
        conf = f"[global]\nfsid = x\nosd_crush_chooseleaf_type = {made_with}\n"
        hostvars["__ceph_conf_made"] = {"content": base64.b64encode(conf.encode()).decode()}
    views = _roles(tmp_path, {"box1": hostvars, "box2": hostvars})
    assert {view["chooseleaf_type"] for view in views.values()} == {expected}
