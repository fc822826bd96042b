"""Hand-written ciab_disks / ciab_nics / ciab_default_route facts for the planning tests.

Every constructor returns a complete fact dict (all keys of the discovery schema), so the tests exercise
the planner with data shaped exactly like the discovery modules' output. Machines:

* reference box (AMD Epyc, 128 GiB): 2x 1 TB NVMe (nvme0n1 = system disk with ~700 GB free at its end,
  nvme1n1 empty), 2x 10GbE bnxt_en (eno1 carries the default route, 192.0.2.10/24; eno2 free)
* sata server: SATA SSD system disk, empty SATA SSD, used SATA HDD (ext4), USB stick; bond0 of two 1G ports
  carries the default route, two 25G ports are free, one port has no carrier
* single-NIC VM: virtio disks (one without serial), one virtio NIC
"""

from __future__ import annotations

import copy
import sys
from typing import Any

from ansible_collections.ciab.box.plugins.module_utils.disks import finding

GB = 10**9
GIB = 1024**3
MIB = 1024**2


def disk(name: str, size_bytes: int, transport: str = "nvme", serial: str | None = None, **overrides: Any) -> dict:
    """A whole disk as ciab.box.disk_facts reports it: empty and eligible unless overridden.

    ``findings`` is a list of (code, text); reasons and eligible_for_osd follow from it.
    """
    found = [finding(code, text) for code, text in overrides.pop("findings", [])]
    by_id = overrides.pop("by_id", None)
    if by_id is None:
        by_id = [f"/dev/disk/by-id/{transport}-MODEL_{serial}"] if serial else []
    facts = {
        "name": name,
        "path": f"/dev/{name}",
        "kind": "disk",
        "by_id": by_id,
        "by_id_preferred": by_id[0] if by_id else None,
        "wwn": None,
        "eui": None,
        "serial": serial,
        "model": "MODEL",
        "vendor": None,
        "firmware": None,
        "transport": transport,
        "size_bytes": size_bytes,
        "rotational": False,
        "removable": False,
        "read_only": False,
        "logical_block_size": 512,
        "physical_block_size": 512,
        "numa_node": None,
        "pci_address": None,
        "nvme": None,
        "partitions": [],
        "holders": [],
        "mountpoints": [],
        "fs_type": None,
        "part_table": None,
        "ceph_osd": None,
        "system": False,
        "free_bytes": 0,
        "eligible_for_osd": not found,
        "reasons": [item["text"] for item in found],
        "findings": found,
    }
    facts.update(overrides)
    return facts


def part(disk_name: str, number: int, start_bytes: int, size_bytes: int, **overrides: Any) -> dict:
    sep = "p" if disk_name[-1].isdigit() else ""
    facts = {
        "name": f"{disk_name}{sep}{number}",
        "path": f"/dev/{disk_name}{sep}{number}",
        "number": number,
        "start_bytes": start_bytes,
        "size_bytes": size_bytes,
        "fs_type": None,
        "mountpoints": [],
        "holders": [],
    }
    facts.update(overrides)
    return facts


def nic(name: str, **overrides: Any) -> dict:
    """A NIC as ciab.box.nic_facts reports it: a physical 10G port with carrier, eligible unless overridden."""
    facts = {
        "name": name,
        "physical": True,
        "type": "ether",
        "driver": "bnxt_en",
        "mac": None,
        "permanent_mac": None,
        "speed_mbps": 10000,
        "duplex": "full",
        "carrier": True,
        "operstate": "up",
        "mtu": 1500,
        "pci_address": None,
        "numa_node": 0,
        "sriov_totalvfs": 0,
        "master": None,
        "master_type": None,
        "members": [],
        "altnames": [],
        "addresses": [],
        "default_route": False,
        "eligible": True,
        "reasons": [],
    }
    facts.update(overrides)
    return facts


def inet(cidr: str, scope: str = "global") -> dict:
    return {
        "family": "inet",
        "address": cidr.split("/", maxsplit=1)[0],
        "prefixlen": int(cidr.split("/")[1]),
        "cidr": cidr,
        "scope": scope,
    }


LOOPBACK = nic(
    "lo",
    physical=False,
    type="loopback",
    driver=None,
    mac="00:00:00:00:00:00",
    speed_mbps=None,
    duplex=None,
    carrier=True,
    operstate="unknown",
    mtu=65536,
    numa_node=None,
    addresses=[inet("127.0.0.1/8", scope="host")],
    eligible=False,
    reasons=["is loopback"],
)

# --- reference box: Epyc 16c, 128 GiB, 2x 1 TB NVMe, 2x 10GbE bnxt_en -------------------------------------
NVME_1TB = 1_000_204_886_016
REF_SYSTEM_PARTS = [
    part("nvme0n1", 1, 1 * MIB, 512 * MIB, fs_type="vfat", mountpoints=["/boot/efi"]),
    part("nvme0n1", 2, 513 * MIB, 1 * GIB, fs_type="ext4", mountpoints=["/boot"]),
    part("nvme0n1", 3, 1537 * MIB, 280 * GIB, fs_type="ext4", mountpoints=["/"]),
]
REF_FREE_BYTES = (NVME_1TB - (1537 * MIB + 280 * GIB) - MIB) // MIB * MIB  # ~699 GB
REFERENCE_BOX_DISKS = [
    disk(
        "nvme0n1",
        NVME_1TB,
        serial="S5GXNG0N100001",
        by_id=[
            "/dev/disk/by-id/nvme-eui.0025385b11b0a2c0",
            "/dev/disk/by-id/nvme-Samsung_SSD_980_PRO_1TB_S5GXNG0N100001",
        ],
        partitions=REF_SYSTEM_PARTS,
        part_table="gpt",
        system=True,
        free_bytes=REF_FREE_BYTES,
        eligible_for_osd=False,
        findings=[
            ("mounted", "has mounted filesystem on nvme0n1p1 (/boot/efi)"),
            ("mounted", "has mounted filesystem on nvme0n1p2 (/boot)"),
            ("mounted", "has mounted filesystem on nvme0n1p3 (/)"),
            ("part_table", "has a partition table (gpt)"),
        ],
    ),
    disk(
        "nvme1n1",
        NVME_1TB,
        serial="S5GXNG0N100002",
        by_id=[
            "/dev/disk/by-id/nvme-eui.0025385b11b0a2c1",
            "/dev/disk/by-id/nvme-Samsung_SSD_980_PRO_1TB_S5GXNG0N100002",
        ],
    ),
]
REFERENCE_BOX_NICS = [
    LOOPBACK,
    nic(
        "eno1",
        mac="bc:97:e1:5a:10:01",
        permanent_mac="bc:97:e1:5a:10:01",
        pci_address="0000:41:00.0",
        addresses=[inet("192.0.2.10/24")],
        default_route=True,
    ),
    nic("eno2", mac="bc:97:e1:5a:10:02", permanent_mac="bc:97:e1:5a:10:02", pci_address="0000:41:00.1"),
]
REFERENCE_BOX_DEFAULT_ROUTE = {"interface": "eno1", "gateway": "192.0.2.1", "family": "inet"}
REFERENCE_BOX_ROUTES = [
    {"dst": "default", "gateway": "192.0.2.1", "dev": "eno1", "protocol": "static", "flags": []},
    {"dst": "192.0.2.0/24", "dev": "eno1", "protocol": "kernel", "scope": "link", "prefsrc": "192.0.2.10", "flags": []},
]
REFERENCE_BOX_MEMTOTAL_BYTES = 128 * GIB

# --- sata server: SATA SSD + HDD, bond of two 1G ports, two free 25G ports ---------------------------------
SATA_SERVER_DISKS = [
    disk(
        "sda",
        480 * GB,
        transport="sata",
        serial="S4XXNA0M000001",
        partitions=[
            part("sda", 1, MIB, 512 * MIB, fs_type="vfat", mountpoints=["/boot/efi"]),
            part(
                "sda",
                2,
                513 * MIB,
                447 * GIB - 513 * MIB,
                fs_type="LVM2_member",
                holders=[{"name": "dm-0", "kind": "lvm"}],
            ),
        ],
        part_table="gpt",
        system=True,
        free_bytes=0,
        eligible_for_osd=False,
        findings=[
            ("mounted", "has mounted filesystem on sda1 (/boot/efi)"),
            ("mounted", "has mounted filesystem on dm-0 (/) on top of sda2"),
            ("lvm_pv", "is an LVM physical volume (sda2)"),
            ("part_table", "has a partition table (gpt)"),
        ],
    ),
    disk("sdb", 960 * GB, transport="sata", serial="S4XXNA0M000002"),
    disk(
        "sdc",
        4000 * GB,
        transport="sata",
        serial="ZC1000XY",
        rotational=True,
        fs_type="ext4",
        eligible_for_osd=False,
        findings=[("fs_signature", "carries ext4 filesystem signature")],
    ),
    disk(
        "sdd",
        32 * GB,
        transport="usb",
        serial="4C530001230918",
        removable=True,
        eligible_for_osd=False,
        findings=[("removable", "is removable (usb)")],
    ),
]
SATA_SERVER_NICS = [
    LOOPBACK,
    nic("eno1", driver="igb", speed_mbps=1000, mac="3c:ec:ef:00:00:01", permanent_mac="3c:ec:ef:00:00:01",
        master="bond0", master_type="bond", eligible=False, reasons=["is a bond slave of bond0"]),
    nic("eno2", driver="igb", speed_mbps=1000, mac="3c:ec:ef:00:00:01", permanent_mac="3c:ec:ef:00:00:02",
        master="bond0", master_type="bond", eligible=False, reasons=["is a bond slave of bond0"]),
    nic("bond0", physical=False, type="bond", driver="bonding", speed_mbps=2000, mac="3c:ec:ef:00:00:01",
        members=["eno1", "eno2"], addresses=[inet("198.51.100.20/24")], default_route=True, eligible=False,
        reasons=["is virtual (bond)"]),
    nic("ens2f0", driver="mlx5_core", speed_mbps=25000, mac="b8:ce:f6:00:00:10", permanent_mac="b8:ce:f6:00:00:10"),
    nic("ens2f1", driver="mlx5_core", speed_mbps=25000, mac="b8:ce:f6:00:00:11", permanent_mac="b8:ce:f6:00:00:11"),
    nic("ens3f0", driver="ixgbe", speed_mbps=None, carrier=None, operstate="down", mac="a0:36:9f:00:00:20",
        permanent_mac="a0:36:9f:00:00:20", eligible=False, reasons=["no carrier"]),
    nic("docker0", physical=False, type="bridge", driver="bridge", speed_mbps=None, carrier=False,
        mac="02:42:ac:11:00:01", addresses=[inet("172.17.0.1/16")], eligible=False,
        reasons=["is virtual (bridge)", "no carrier"]),
]  # fmt: skip
SATA_SERVER_DEFAULT_ROUTE = {"interface": "bond0", "gateway": "198.51.100.1", "family": "inet"}

# --- single-NIC VM: virtio disks and NIC --------------------------------------------------------------------
VM_DISKS = [
    disk(
        "vda",
        40 * GIB,
        transport="virtio",
        serial="vm-root",
        by_id=["/dev/disk/by-id/virtio-vm-root"],
        partitions=[part("vda", 1, MIB, 40 * GIB - 2 * MIB, fs_type="ext4", mountpoints=["/"])],
        part_table="gpt",
        system=True,
        free_bytes=0,
        eligible_for_osd=False,
        findings=[("mounted", "has mounted filesystem on vda1 (/)"), ("part_table", "has a partition table (gpt)")],
    ),
    disk("vdb", 200 * GIB, transport="virtio", serial=None, by_id=[]),
    disk("vdc", 120 * GIB, transport="virtio", serial="ceph-osd-1", by_id=["/dev/disk/by-id/virtio-ceph-osd-1"]),
]
VM_NICS = [
    LOOPBACK,
    nic("eth0", driver="virtio_net", speed_mbps=None, mac="52:54:00:12:34:56", addresses=[inet("10.0.2.15/24")]),
]
VM_DEFAULT_ROUTE = {"interface": "eth0", "gateway": "10.0.2.2", "family": "inet"}


def fresh(facts: Any) -> Any:
    """A deep copy, so a test may edit facts without leaking into the next one."""
    return copy.deepcopy(facts)


def offline_host(plan_dir: Any, **overrides: Any) -> dict:
    """Inventory variables of a host that plans offline (playbooks/plan.yml with ciab_plan_discover false) from the
    reference box's facts, run on this machine; ``overrides`` replace or add variables."""
    return {
        "ansible_connection": "local",
        "ansible_python_interpreter": sys.executable,
        "ciab_plan_discover": False,
        "ciab_plan_dir": str(plan_dir),
        "ciab_disks": copy.deepcopy(REFERENCE_BOX_DISKS),
        "ciab_nics": copy.deepcopy(REFERENCE_BOX_NICS),
        "ciab_default_route": REFERENCE_BOX_DEFAULT_ROUTE,
        "ciab_routes": REFERENCE_BOX_ROUTES,
        "ansible_memtotal_mb": REFERENCE_BOX_MEMTOTAL_BYTES // 2**20,
        **overrides,
    }
