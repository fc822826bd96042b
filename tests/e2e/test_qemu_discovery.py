"""Discovery and planning against a real (emulated) machine: two NVMe drives, a virtio root disk, two NICs."""

from __future__ import annotations

import ipaddress

import pytest

pytestmark = pytest.mark.e2e


def _disks(discovered: dict) -> list[dict]:
    return discovered["disks"]["ansible_facts"]["ciab_disks"]


def _nics(discovered: dict) -> list[dict]:
    return discovered["nics"]["ansible_facts"]["ciab_nics"]


def _by_driver(discovered: dict) -> dict[str, dict]:
    return {nic["driver"]: nic for nic in _nics(discovered) if nic["physical"]}


def _nvme_disk(discovered: dict, serial: str) -> dict:
    matches = [d for d in _disks(discovered) if d["serial"] == serial]
    assert len(matches) == 1, f"expected one disk with serial {serial}: {[d['name'] for d in _disks(discovered)]}"
    return matches[0]


@pytest.mark.parametrize("index", [0, 1], ids=["CIABNVME0001", "CIABNVME0002"])
def test_nvme_drive_is_an_eligible_osd(guest, discovered: dict, index: int) -> None:
    serial, size = guest.nvme_drives[index]
    disk = _nvme_disk(discovered, serial)
    assert disk["transport"] == "nvme"
    assert disk["name"].startswith("nvme")
    assert disk["size_bytes"] == size
    assert disk["system"] is False
    assert disk["eligible_for_osd"] is True, disk["reasons"]
    assert disk["reasons"] == []
    assert disk["nvme"] is not None
    assert disk["nvme"]["namespace"] == 1
    assert disk["pci_address"]
    assert disk["by_id_preferred"] in disk["by_id"]
    assert any(serial in link for link in disk["by_id"]), disk["by_id"]
    assert all(link.startswith("/dev/disk/by-id/") for link in disk["by_id"])


def test_root_disk_is_the_system_disk(guest, discovered: dict) -> None:
    disks = {d["name"]: d for d in _disks(discovered)}
    assert set(disks) == {"vda", *(d["name"] for d in disks.values() if d["transport"] == "nvme")}
    assert len(disks) == 1 + len(guest.nvme_drives)
    vda = disks["vda"]
    assert vda["transport"] == "virtio"
    assert vda["system"] is True
    assert vda["eligible_for_osd"] is False
    assert vda["mountpoints"] == ["/"]
    assert vda["fs_type"] == "ext4"
    mount_reasons = [r for r in vda["reasons"] if "mounted" in r and "vda" in r and "(/)" in r]
    assert mount_reasons, f"no reason names the / mount: {vda['reasons']}"


def test_two_nics_and_the_virtio_one_has_the_default_route(guest, discovered: dict) -> None:
    nics = _by_driver(discovered)
    assert set(nics) == {"virtio_net", "e1000"}, [(n["name"], n["driver"]) for n in _nics(discovered)]
    mgmt, data = nics["virtio_net"], nics["e1000"]
    route = discovered["nics"]["ansible_facts"]["ciab_default_route"]
    assert route == {"interface": mgmt["name"], "gateway": "10.0.2.2", "family": "inet"}
    assert mgmt["default_route"] is True
    assert data["default_route"] is False
    for nic in (mgmt, data):
        assert nic["type"] == "ether"
        assert nic["carrier"] is True
        assert nic["eligible"] is True, nic["reasons"]
        assert nic["pci_address"]
    data_addrs = [a["address"] for a in data["addresses"] if a["family"] == "inet"]
    assert any(ipaddress.ip_address(a) in ipaddress.ip_network(guest.data_net) for a in data_addrs), data["addresses"]
    loopback = [n for n in _nics(discovered) if n["type"] == "loopback"]
    assert [n["name"] for n in loopback] == ["lo"]
    assert loopback[0]["eligible"] is False


def test_plan_selects_the_nvme_drives_and_manages_over_the_default_route(guest, discovered: dict, plan: dict) -> None:
    nvme = {d["serial"]: d for d in _disks(discovered) if d["transport"] == "nvme"}
    devices = plan["osd"]["devices"]
    assert sorted(d["serial"] for d in devices) == sorted(serial for serial, _ in guest.nvme_drives)
    for device in devices:
        disk = nvme[device["serial"]]
        assert device["by_id"] == disk["by_id_preferred"]
        assert device["by_id"].startswith("/dev/disk/by-id/")
        assert device["action"] == "prepare"
        assert device["size_bytes"] == disk["size_bytes"]
    assert [r["name"] for r in plan["osd"]["rejected"]] == ["vda"]
    mgmt = _by_driver(discovered)["virtio_net"]
    assert plan["nic"]["management"]["name"] == mgmt["name"]
    assert plan["nic"]["management"]["selected_by"] == "default route"
    assert plan["nic"]["provider"]["name"] == _by_driver(discovered)["e1000"]["name"]
