"""A node that joins changes nothing the first node's OpenStack services read: with one controller its backends
stay on loopback however many compute nodes the box has, and the listeners the other nodes use (RabbitMQ's TLS port,
OVN's southbound over SSL) are there from the first deploy. Node 1's inputs are compared as the roles see them,
planned offline for a box of one node and for the same box with a second node.
"""

from __future__ import annotations

import copy
import json

import pytest
import yaml
from plan_facts import REFERENCE_BOX_NICS, REFERENCE_BOX_ROUTES, inet, offline_host

from ciab import runner

PLAYBOOK = runner.ROOT / "tests" / "unit" / "playbooks" / "node_inputs.yml"


def _node(plan_dir, secrets, address):
    nics = copy.deepcopy(REFERENCE_BOX_NICS)
    nics[1]["addresses"] = [inet(f"{address}/24")]
    routes = copy.deepcopy(REFERENCE_BOX_ROUTES)
    routes[1]["prefsrc"] = address
    return offline_host(plan_dir, ciab_secrets_dir=str(secrets), ciab_nics=nics, ciab_routes=routes)


def _inputs(tmp, nodes: dict, extra: dict | None = None) -> dict:
    """Plan the nodes offline and read each node's inputs (``extra``: more inventory variables per node)."""
    tmp.mkdir()
    hosts = {name: _node(tmp / "plan", tmp.parent / "secrets", address) for name, address in nodes.items()}
    for name, variables in (extra or {}).items():
        hosts[name].update(variables)
    inventory = tmp / "hosts.yml"
    inventory.write_text(yaml.safe_dump({"all": {"children": {"ciab_nodes": {"hosts": hosts}}}}))
    planned = runner.run(str(runner.ROOT / "playbooks" / "plan.yml"), inventory=inventory)
    assert planned.exit_code == runner.EXIT_OK, planned.failures
    read = runner.run(str(PLAYBOOK), inventory=inventory, extravars={"node_inputs_out": str(tmp)})
    assert read.exit_code == runner.EXIT_OK, read.failures
    return {name: json.loads((tmp / f"{name}.json").read_text()) for name in nodes}


@pytest.fixture(scope="module")
def views(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("two-node")
    one = _inputs(tmp / "one", {"box1": "192.0.2.10"})
    two = _inputs(tmp / "two", {"box1": "192.0.2.10", "box2": "192.0.2.11"})
    return one, two


def test_the_first_nodes_inputs_do_not_change_when_a_node_joins(views):
    one, two = views
    # the one thing that changes: the firewall's set of the nodes' addresses (swapped in place, nothing restarts)
    assert two["box1"]["node_addresses"] == one["box1"]["node_addresses"] + ["192.0.2.11"]
    assert {**two["box1"], "node_addresses": None} == {**one["box1"], "node_addresses": None}


def test_one_controller_keeps_its_backends_on_loopback_and_offers_the_nodes_tls(views):
    _, two = views
    node1 = two["box1"]
    assert node1["openstack_backend_address"] == "127.0.0.1"
    assert node1["openstack_memcached_servers"] == ["127.0.0.1:11211"]
    assert node1["nova_vnc_address"] == "127.0.0.1"
    # the console proxy reaches the guests' VNC servers (here and on node 2) by VeNCrypt with the node certificate
    assert {k: v for k, v in node1["nova_config"]["vnc"].items() if k.startswith(("auth", "vencrypt"))} == {
        "auth_schemes": "vencrypt", "vencrypt_client_key": "/etc/nova/node.key",
        "vencrypt_client_cert": "/etc/ciab/node-tls/node.crt", "vencrypt_ca_certs": "/etc/ciab/node-tls/ca.crt",
    }  # fmt: skip
    southbound = next(listener for listener in node1["ovn_listeners"] if listener["ctl"] == "ovn-sbctl")
    assert southbound["args"] == ["ptcp:6642:127.0.0.1", "role=ovn-controller", "pssl:6642:192.0.2.10"]


def test_the_second_node_is_a_compute_node_and_a_chassis_that_gets_in_over_tls(views):
    _, two = views
    node2 = two["box2"]
    assert node2["nova_is_compute"] is True and node2["neutron_is_chassis"] is True
    # its consoles are reached by the controller's proxy, so not on loopback
    assert node2["nova_vnc_address"] == "192.0.2.11"
    nova = node2["nova_config"]
    assert nova["DEFAULT"]["transport_url"].split("@")[1] == "192.0.2.10:5671/openstack"
    assert nova["oslo_messaging_rabbit"] == {
        "ssl": True, "ssl_ca_file": "/etc/ciab/node-tls/ca.crt", "ssl_cert_file": "/etc/ciab/node-tls/node.crt",
        "ssl_key_file": "/etc/nova/node.key",
    }  # fmt: skip
    assert "database" not in nova and "api_database" not in nova  # nova-compute goes through the conductor
    assert node2["chassis_ids"]["ovn-remote"] == "ssl:192.0.2.10:6642"
    assert "ovn-cms-options" not in node2["chassis_ids"]  # no gateway: routers stay on the controller


def test_the_controllers_services_reach_rabbitmq_on_loopback(views):
    _, two = views
    node1 = two["box1"]
    for name in ("nova_config", "neutron_config", "cinder_config"):
        assert node1[name]["DEFAULT"]["transport_url"].split("@")[1] == "127.0.0.1:5672/openstack", name
    assert "oslo_messaging_rabbit" not in node1["nova_config"]
    assert node1["chassis_ids"]["ovn-remote"] == "tcp:127.0.0.1:6642"
    assert node1["chassis_ids"]["ovn-cms-options"] == "enable-chassis-as-gw"


def test_with_an_overlay_nic_each_chassis_tunnels_from_its_address_and_the_nodes_know_it(tmp_path):
    """The userspace datapath's underlay: each node's Geneve endpoint is its overlay NIC's address (on br-overlay),
    and every node's firewall lets the others' overlay addresses in as nodes'."""
    overlay = {
        "box1": {"ciab_overlay_interface": "eth2", "ciab_overlay_address": "198.51.100.11/24"},
        "box2": {"ciab_overlay_interface": "eth2", "ciab_overlay_address": "198.51.100.12/24"},
    }
    views = _inputs(tmp_path / "overlay", {"box1": "192.0.2.10", "box2": "192.0.2.11"}, overlay)
    for name, node in views.items():
        assert node["chassis_ids"]["ovn-encap-ip"] == overlay[name]["ciab_overlay_address"].split("/")[0]
        assert {"198.51.100.11", "198.51.100.12", "192.0.2.10", "192.0.2.11"} <= set(node["node_addresses"])
    without = _inputs(tmp_path / "plain", {"box1": "192.0.2.10"})
    assert without["box1"]["chassis_ids"]["ovn-encap-ip"] == "192.0.2.10"
