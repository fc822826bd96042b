"""discover_nics against captured machines (tests/unit/fixtures/<machine>) and built edge cases."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import treebuilder
from ansible_collections.ciab.box.plugins.module_utils.nics import default_route, discover_nics
from ansible_collections.ciab.box.plugins.module_utils.sysfs import CapturedRunner, CommandResult

FIXTURES = Path(__file__).parent / "fixtures"
MACHINES = sorted(p.name for p in FIXTURES.iterdir() if (p / "ciab-capture").is_dir())
NIC_KEYS = {
    "name", "physical", "type", "driver", "mac", "permanent_mac", "speed_mbps", "duplex", "carrier", "operstate",
    "mtu", "pci_address", "numa_node", "sriov_totalvfs", "master", "master_type", "members", "altnames",
    "addresses", "default_route", "eligible", "reasons",
}  # fmt: skip
TYPES = {"ether", "bridge", "bond", "vlan", "veth", "loopback", "tun", "wireless", "other"}


def by_name(nics):
    return {n["name"]: n for n in nics}


@pytest.fixture(scope="module")
def edge_root(tmp_path_factory):
    return treebuilder.build(treebuilder.edge_cases, tmp_path_factory.mktemp("edge"))


@pytest.mark.parametrize("machine", MACHINES)
def test_schema_of_every_captured_machine(machine):
    nics, route = discover_nics(FIXTURES / machine)
    assert set(route) == {"interface", "gateway", "family"}
    assert route["family"] == "inet"
    assert [n["name"] for n in nics if n["default_route"]] == ([route["interface"]] if route["interface"] else [])
    for nic in nics:
        assert set(nic) == NIC_KEYS
        assert nic["type"] in TYPES
        assert isinstance(nic["mtu"], int)
        assert isinstance(nic["sriov_totalvfs"], int)
        assert nic["eligible"] is (not nic["reasons"])
        for address in nic["addresses"]:
            assert set(address) == {"family", "address", "prefixlen", "cidr", "scope"}
            assert address["cidr"] == f"{address['address']}/{address['prefixlen']}"


def test_reference_box_bnxt_uplinks():
    nics, route = discover_nics(FIXTURES / "refbox-epyc-2xnvme")
    nics = by_name(nics)
    assert sorted(nics) == ["eno1np0", "eno2np1", "lo"]
    up = nics["eno1np0"]
    assert (up["physical"], up["type"], up["driver"]) == (True, "ether", "bnxt_en")
    assert (up["speed_mbps"], up["duplex"], up["carrier"], up["operstate"]) == (10000, "full", True, "up")
    assert (up["pci_address"], up["numa_node"], up["sriov_totalvfs"]) == ("0000:01:00.0", 0, 128)
    assert up["altnames"] == ["enp1s0f0np0"]
    assert up["mac"] == up["permanent_mac"] == "3c:ec:ef:10:20:30"
    assert up["addresses"][0] == {
        "family": "inet",
        "address": "10.10.0.10",
        "prefixlen": 24,
        "cidr": "10.10.0.10/24",
        "scope": "global",
    }
    assert (up["default_route"], up["eligible"], up["reasons"]) == (True, True, [])
    down = nics["eno2np1"]
    # A link that is administratively down answers EINVAL for carrier/speed/duplex.
    assert (down["carrier"], down["speed_mbps"], down["duplex"]) == (None, None, None)
    assert down["reasons"] == ["link is down"]
    assert nics["lo"]["reasons"] == ["is loopback"]
    assert route == {"interface": "eno1np0", "gateway": "10.10.0.1", "family": "inet"}


def test_server_bond_in_bridge():
    nics, route = discover_nics(FIXTURES / "server-sata-bond-bridge")
    nics = by_name(nics)
    assert nics["bond0"]["type"] == "bond"
    assert nics["bond0"]["members"] == ["eno1", "eno2"]
    assert (nics["bond0"]["master"], nics["bond0"]["master_type"]) == ("br0", "bridge")
    assert nics["bond0"]["reasons"] == ["is virtual (bond)", "is a bridge port of br0"]
    assert nics["br0"]["type"] == "bridge"
    assert nics["br0"]["members"] == ["bond0"]
    assert nics["br0"]["default_route"] is True
    for slave in ("eno1", "eno2"):
        assert (nics[slave]["master"], nics[slave]["master_type"]) == ("bond0", "bond")
        assert nics[slave]["reasons"] == ["is a bond slave of bond0"]
        assert nics[slave]["mac"] == "ac:1f:6b:00:11:20"  # slaves take the MAC of the bond
    assert nics["eno2"]["permanent_mac"] == "ac:1f:6b:00:11:21"
    assert nics["eno3"]["reasons"] == ["no carrier"]
    assert nics["eno3"]["carrier"] is False
    assert route["interface"] == "br0"


def test_laptop_wireless_and_docker_bridge():
    nics, route = discover_nics(FIXTURES / "laptop-nvme-wifi-usb")
    nics = by_name(nics)
    wifi = nics["wlp0s20f3"]
    assert (wifi["type"], wifi["driver"], wifi["physical"]) == ("wireless", "iwlwifi", True)
    assert wifi["reasons"] == ["is wireless (cannot be bridged)"]
    assert wifi["permanent_mac"] == "a4:c3:f0:11:22:33"  # from ip's permaddr
    assert nics["docker0"]["reasons"] == ["is virtual (bridge)", "no carrier"]
    assert nics["enp0s31f6"]["reasons"] == ["no carrier"]
    assert route == {"interface": "wlp0s20f3", "gateway": "192.168.178.1", "family": "inet"}


def test_virtio_vm_capture():
    nics, route = discover_nics(FIXTURES / "vm-firecracker-virtio")
    eth0 = by_name(nics)["eth0"]
    assert (eth0["type"], eth0["driver"], eth0["pci_address"]) == ("ether", "virtio_net", "0000:00:03.0")
    assert eth0["speed_mbps"] is None  # virtio reports -1
    assert eth0["eligible"] is True
    assert route["interface"] == "eth0"
    assert route["gateway"] == "192.0.2.1"


def test_edge_interfaces(edge_root):
    nics = by_name(discover_nics(edge_root)[0])
    assert "bonding_masters" not in nics  # a regular file in /sys/class/net
    assert nics["ens1f0.100"]["type"] == "vlan"
    assert nics["vethb7e8894"]["type"] == "veth"
    assert nics["ens1f0v0"]["reasons"] == ["is an SR-IOV virtual function"]
    assert nics["ens1f0"]["sriov_totalvfs"] == 64
    assert nics["ens1f0"]["altnames"] == ["enp5s0f0"]
    assert nics["dummy0"]["reasons"] == ["is virtual (ether)", "link is down"]


def test_default_route_lowest_metric(edge_root):
    assert default_route(edge_root) == {"interface": "ens1f0", "gateway": "192.168.1.1", "family": "inet"}


def test_no_default_route(tmp_path):
    (tmp_path / "proc/net").mkdir(parents=True)
    (tmp_path / "proc/net/route").write_text("Iface\tDestination\tGateway\tFlags\tRefCnt\tUse\tMetric\tMask\n")
    assert default_route(tmp_path) == {"interface": None, "gateway": None, "family": "inet"}
    assert default_route(tmp_path / "missing") == {"interface": None, "gateway": None, "family": "inet"}


def test_unknown_speed_values_are_none(tmp_path):
    tree = treebuilder.Tree(tmp_path)
    tree.nic("eth0", "52:54:00:00:00:01", driver="e1000", pci_path="pci0000:00/0000:00:03.0", speed=-1)
    tree.nic("eth1", "52:54:00:00:00:02", driver="e1000", pci_path="pci0000:00/0000:00:04.0", speed=4294967295)
    tree.finish()
    nics = by_name(discover_nics(tmp_path)[0])
    assert nics["eth0"]["speed_mbps"] is None
    assert nics["eth1"]["speed_mbps"] is None


def test_renamed_interface_matches_ip_by_ifindex(tmp_path):
    tree = treebuilder.Tree(tmp_path)
    tree.nic(
        "eth0", "52:54:00:00:00:01", driver="e1000", pci_path="pci0000:00/0000:00:03.0", addresses=["192.0.2.9/24"]
    )
    tree.finish()
    ip_out = tmp_path / "ciab-capture/commands/ip_-j_addr_show.txt"
    links = json.loads(ip_out.read_text())
    links[0]["ifname"] = "ens3"  # ip ran before udev renamed the interface
    links[0]["altnames"] = ["enp0s3"]
    ip_out.write_text(json.dumps(links))
    nic = discover_nics(tmp_path)[0][0]
    assert nic["name"] == "eth0"
    assert nic["addresses"][0]["cidr"] == "192.0.2.9/24"
    assert nic["altnames"] == ["enp0s3"]


class Runner:
    def __init__(self, result):
        self.result = result

    def run(self, argv):
        assert argv == ["ip", "-j", "addr", "show"]
        return self.result


@pytest.mark.parametrize(
    ("result", "message"),
    [
        (CommandResult(1, "", "RTNETLINK answers: Operation not permitted\n"), "rc=1: RTNETLINK answers"),
        (CommandResult(0, "not json", ""), "invalid JSON"),
    ],
)
def test_failing_ip_gives_empty_addresses_and_a_warning(result, message):
    warnings = []
    nics = by_name(discover_nics(FIXTURES / "refbox-epyc-2xnvme", Runner(result), warn=warnings.append)[0])
    assert nics["eno1np0"]["addresses"] == []
    assert nics["eno1np0"]["altnames"] == []
    assert nics["eno1np0"]["speed_mbps"] == 10000  # sysfs facts are unaffected
    assert len(warnings) == 1
    assert message in warnings[0]


def test_missing_ip_binary_is_rc_127(tmp_path):
    warnings = []
    nics = discover_nics(FIXTURES / "refbox-epyc-2xnvme", CapturedRunner(str(tmp_path)), warn=warnings.append)[0]
    assert all(n["addresses"] == [] for n in nics)
    assert "rc=127" in warnings[0]
