"""Verify Neutron (ML2/OVN) on the all-in-one node: the chassis, the datapath the check chose, the agents.

Guest networking over OVN (DHCP, reaching the router) is checked by the smoke test of playbooks/verify.yml.
"""

import ipaddress
import json

import pytest
from box import BOX, NETWORKS, OVERLAY, plan
from units import running_unit_user
from waiting import wait_for

OS = "openstack --os-cloud ciab-admin"


def test_chassis_keeps_its_name_and_catches_up_after_restarts(host):
    """The node's chassis is named after it across restarts (test_ceph.py restarted the container before): OVS's
    system ID comes from /etc/openvswitch/system-id.conf, and ovn-controller processes the northbound database."""
    assert host.check_output("cat /etc/openvswitch/system-id.conf") == BOX
    assert host.check_output("ovs-vsctl get open . external_ids:system-id").strip('"') == BOX
    assert host.check_output("ovn-sbctl --bare --columns name list Chassis").split() == [BOX]
    # Returns only when every chassis has caught up with this northbound change.
    host.check_output("ovn-nbctl --timeout=60 --wait=hv sync")


def test_network_agents_are_ovn_and_alive(host):
    out = wait_for(
        host,
        f"{OS} network agent list -f json",
        lambda out: json.loads(out) and all(a["Alive"] for a in json.loads(out)),
        timeout=120,
    )
    assert {a["Agent Type"] for a in json.loads(out)} == {"OVN Controller Gateway agent"}


def test_chassis_registered_with_the_detected_datapath(host):
    assert not host.file("/sys/module/openvswitch").exists  # the test kernel has no openvswitch module
    assert host.check_output("ovs-vsctl get open . external_ids:ovn-bridge-datapath-type").strip('"') == "netdev"
    assert host.check_output("ovs-vsctl get bridge br-int datapath_type") == "netdev"
    assert BOX in host.check_output("ovn-sbctl --bare --columns name list Chassis").split()


def test_tunnels_start_from_the_overlay_nic_on_an_ovs_bridge(host):
    """The userspace datapath tunnels only from an address on an OVS bridge: the third NIC (eth2, ciab-tunnel) is
    br-overlay's port and its address br-overlay's, the chassis's Geneve endpoint, and stays so across the
    container's restart (test_ceph.py restarted it: Docker put the address back on eth2, ciab-overlay.service moved
    it again when Open vSwitch started). The unit puts a lost address back; the firewall filters the bridge and
    knows the address as a node's."""
    address, gateway = OVERLAY, NETWORKS["overlay"]["gateway"]
    ip = address.split("/")[0]
    assert host.check_output("ovs-vsctl get bridge br-overlay datapath_type") == "netdev"
    assert host.check_output("ovs-vsctl list-ports br-overlay").split() == ["eth2"]
    mac = host.check_output("cat /sys/class/net/eth2/address")
    assert host.check_output("cat /sys/class/net/br-overlay/address") == mac
    assert host.check_output("ip -4 -o addr show dev eth2") == ""
    assert host.check_output("ip -4 -o addr show dev br-overlay").split()[3] == address
    assert host.check_output("ovs-vsctl get open . external_ids:ovn-encap-ip").strip('"') == ip
    encaps = host.check_output(f"ovn-sbctl --bare --columns ip find Encap chassis_name={BOX}").split()
    assert encaps == [ip]
    assert host.run(f"ping -c 1 -W 2 -I br-overlay {gateway}").rc == 0
    unit = host.service("ciab-overlay")
    assert unit.is_enabled and unit.is_running
    assert host.check_output("systemctl show -P PartOf ciab-overlay") == "ovs-vswitchd.service"
    host.check_output(f"ip addr del {address} dev br-overlay")
    try:
        host.check_output("systemctl restart ciab-overlay")
    finally:
        host.run(f"ip addr replace {address} dev br-overlay")
    assert host.check_output("ip -4 -o addr show dev br-overlay").split()[3] == address
    ruleset = host.check_output("nft list table inet ciab")
    assert '"br-overlay"' in ruleset and ip in ruleset


def test_ovn_databases_listen_on_loopback_and_the_southbound_over_ssl_for_the_nodes(host):
    """One controller: its chassis and Neutron reach OVN's databases on loopback; the other nodes' chassis reach the
    southbound only over SSL on its address, with a node certificate (role ovn-controller; test_openstack checks
    the handshake and the RBAC)."""
    address = plan()["ip"]["management"]["address"]
    assert host.check_output("ovn-nbctl get-connection").splitlines() == ["ptcp:6641:127.0.0.1"]
    # ovn-sbctl prints each listener's role first
    assert sorted(host.check_output("ovn-sbctl get-connection").splitlines()) == [
        'read-write role="" ptcp:6642:127.0.0.1',
        f'read-write role="ovn-controller" pssl:6642:{address}',
    ]
    assert host.check_output("ovn-sbctl get-ssl").splitlines() == [
        "Private key: /etc/ciab/node-tls/node.key", "Certificate: /etc/ciab/node-tls/node.crt",
        "CA Certificate: /etc/ciab/node-tls/ca.crt", "Bootstrap: false",
    ]  # fmt: skip
    assert host.check_output("ovs-vsctl get open . external_ids:ovn-remote").strip('"') == "tcp:127.0.0.1:6642"
    for port, bound in ((6641, ["127.0.0.1:6641"]), (6642, ["127.0.0.1:6642", f"{address}:6642"])):
        listeners = host.check_output(f"ss -Htln 'sport = :{port}'").splitlines()
        assert sorted(line.split()[3] for line in listeners) == sorted(bound), listeners


def test_network_api_lists_extensions(host):
    aliases = {e["Alias"] for e in json.loads(host.check_output(f"{OS} extension list --network -f json"))}
    assert {"router", "security-group", "port-security"} <= aliases


def test_provider_nic_plugged_with_a_connectivity_check(host):
    """The role's plug-with-rollback helper on a real OVS bridge: a veth (the aio node has one NIC, shared by the
    plan, so no provider NIC is plugged by the role) goes into br-ex while the gateway answers; with a peer that
    does not answer it refuses and leaves the bridge alone."""
    address = plan()["ip"]["management"]["address"]
    gateway = host.check_output("ip -4 route show default").split()[2]
    plug = "/usr/local/sbin/ciab-plug-provider br-ex"
    host.run("ip link del ciab-t0; ovs-vsctl --if-exists del-port br-ex ciab-t0")
    host.check_output("ip link add ciab-t0 type veth peer name ciab-t1 && ip link set ciab-t0 up")
    try:
        interface = ipaddress.ip_interface(host.check_output(f"ip -4 -o addr show to {address}").split()[3])
        nobody = str(interface.network[-2])
        refused = host.run(f"{plug} ciab-t0 {address} {nobody}")
        assert refused.rc == 1 and refused.stderr.startswith("refused:"), refused.stderr
        assert "ciab-t0" not in host.check_output("ovs-vsctl list-ports br-ex").split()

        plugged = host.run(f"{plug} ciab-t0 {address} {gateway}")
        assert plugged.rc == 0 and "plugged ciab-t0 into br-ex" in plugged.stdout, plugged.stderr
        assert "ciab-t0" in host.check_output("ovs-vsctl list-ports br-ex").split()
        again = host.run(f"{plug} ciab-t0 {address} {gateway}")
        assert again.rc == 0 and "already in br-ex" in again.stdout
        assert host.run(f"ping -c 1 -W 2 {gateway}").rc == 0
    finally:
        host.run("ovs-vsctl --if-exists del-port br-ex ciab-t0; ip link del ciab-t0")


@pytest.mark.parametrize("unit", ["neutron-api", "neutron-periodic-workers", "neutron-ovn-maintenance-worker"])
def test_units_run_as_neutron_and_are_enabled(host, unit):
    assert running_unit_user(host, unit) == "neutron"


@pytest.mark.parametrize("unit", ["ovn-northd", "ovn-controller", "ovsdb-server", "ovs-vswitchd"])
def test_ovn_and_ovs_daemons_run(host, unit):
    assert host.service(unit).is_running


def test_ovn_and_ovs_start_at_boot(host):
    # ovsdb-server, ovs-vswitchd, ovn-northd and ovn-controller are static units pulled in by these.
    for unit in ("ovn-central", "ovn-host", "openvswitch-switch"):
        assert host.check_output(f"systemctl is-enabled {unit}") == "enabled", unit
