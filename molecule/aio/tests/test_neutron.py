"""Verify Neutron (ML2/OVN) on the all-in-one node: the chassis, the datapath the check chose, the agents.

Guest networking over OVN (DHCP, reaching the router) is checked by the smoke test of playbooks/verify.yml.
"""

import json

OS = "openstack --os-cloud ciab-admin"


def test_network_agents_are_ovn_and_alive(host):
    agents = json.loads(host.check_output(f"{OS} network agent list -f json"))
    types = {a["Agent Type"] for a in agents if a["Alive"]}
    assert "OVN Controller Gateway agent" in types or "OVN Controller agent" in types, agents


def test_chassis_registered_with_the_detected_datapath(host):
    assert not host.file("/sys/module/openvswitch").exists  # the test kernel has no openvswitch module
    assert host.check_output("ovs-vsctl get open . external_ids:ovn-bridge-datapath-type") == '"netdev"'
    assert host.check_output("ovs-vsctl get bridge br-int datapath_type") == "netdev"
    assert "ciab-aio" in host.check_output("ovn-sbctl --bare --columns name list Chassis").split()


def test_ovn_databases_listen_on_the_internal_address_only(host):
    address = host.check_output("ovs-vsctl get open . external_ids:ovn-encap-ip").strip('"')
    assert host.check_output("ovn-nbctl get-connection") == f"ptcp:6641:{address}"
    assert host.check_output("ovn-sbctl get-connection") == f"ptcp:6642:{address}"


def test_network_api_lists_extensions(host):
    aliases = {e["Alias"] for e in json.loads(host.check_output(f"{OS} extension list --network -f json"))}
    assert {"router", "security-group", "port-security"} <= aliases
