"""discover_disks against captured machines (tests/unit/fixtures/<machine>) and built edge cases."""

from __future__ import annotations

from pathlib import Path

import pytest
import treebuilder
from ansible_collections.ciab.box.plugins.module_utils.disks import CODES, discover_disks
from ansible_collections.ciab.box.plugins.module_utils.sysfs import CapturedRunner, CommandResult, LiveRunner

FIXTURES = Path(__file__).parent / "fixtures"
MACHINES = sorted(p.name for p in FIXTURES.iterdir() if (p / "ciab-capture").is_dir())
MIB = 1 << 20
DISK_KEYS = {
    "name", "path", "kind", "by_id", "by_id_preferred", "wwn", "eui", "serial", "model", "vendor", "firmware",
    "transport", "size_bytes", "rotational", "removable", "read_only", "logical_block_size", "physical_block_size",
    "numa_node", "pci_address", "nvme", "loop_backing_file", "partitions", "holders", "mountpoints", "fs_type",
    "part_table", "ceph_osd", "system", "free_bytes", "eligible_for_osd", "reasons", "findings",
}  # fmt: skip
PARTITION_KEYS = {"name", "path", "number", "start_bytes", "size_bytes", "fs_type", "mountpoints", "holders"}
TRANSPORTS = {"nvme", "sata", "sas", "scsi", "virtio", "usb", "loop", "mmc", "unknown"}


def by_name(disks):
    return {d["name"]: d for d in disks}


@pytest.fixture(scope="module")
def edge(tmp_path_factory):
    return by_name(discover_disks(treebuilder.build(treebuilder.edge_cases, tmp_path_factory.mktemp("edge"))))


@pytest.fixture(scope="module")
def container_root(tmp_path_factory):
    return treebuilder.build(treebuilder.container_virtio, tmp_path_factory.mktemp("container"))


# -- every captured machine: the schema holds -----------------------------------------------------
@pytest.mark.parametrize("machine", MACHINES)
def test_schema_of_every_captured_machine(machine):
    disks = discover_disks(FIXTURES / machine, include_loop=True)
    assert disks, f"{machine} has no disks"
    for disk in disks:
        assert set(disk) == DISK_KEYS
        assert disk["kind"] == "disk"
        assert disk["transport"] in TRANSPORTS
        assert isinstance(disk["size_bytes"], int)
        assert isinstance(disk["free_bytes"], int)
        assert disk["free_bytes"] % MIB == 0
        assert isinstance(disk["reasons"], list)
        assert disk["eligible_for_osd"] is (not disk["reasons"])
        # one finding per reason, with a known code; its kind comes from the shared table
        assert [f["text"] for f in disk["findings"]] == disk["reasons"]
        assert all(f["code"] in CODES and f["kind"] == CODES[f["code"]][0] for f in disk["findings"])
        assert disk["logical_block_size"] in (512, 4096)
        assert all(link.startswith("/dev/disk/by-id/") for link in disk["by_id"])
        for part in disk["partitions"]:
            assert set(part) == PARTITION_KEYS
            assert isinstance(part["mountpoints"], list)
            assert isinstance(part["holders"], list)


# -- reference box ------------------------------------------------------------------------------------
def test_reference_box_has_both_nvme_drives():
    disks = by_name(discover_disks(FIXTURES / "refbox-epyc-2xnvme"))
    assert sorted(disks) == ["nvme0n1", "nvme1n1"]
    for name, controller, pci in (("nvme0n1", "nvme0", "0000:41:00.0"), ("nvme1n1", "nvme1", "0000:42:00.0")):
        disk = disks[name]
        assert disk["transport"] == "nvme"
        assert disk["model"] == "SAMSUNG MZQL2960HCJR-00A07"
        assert disk["firmware"] == "GDC5602Q"
        assert disk["size_bytes"] == 1875385008 * 512
        assert disk["rotational"] is False
        assert (disk["logical_block_size"], disk["physical_block_size"]) == (512, 4096)
        assert (disk["pci_address"], disk["numa_node"]) == (pci, 0)
        assert disk["nvme"] == {
            "controller": controller,
            "namespace": 1,
            "subsystem": f"nvme-subsys{controller[-1]}",
            "multipath": False,
        }
        assert disk["eui"] == disk["wwn"]
        assert disk["by_id_preferred"] == f"/dev/disk/by-id/nvme-{disk['eui']}"
        assert disk["by_id"][0] == disk["by_id_preferred"]
    assert disks["nvme0n1"]["serial"] == "S64FNE0R800101"
    assert disks["nvme0n1"]["eui"] == "eui.36344630528001010025384500000001"


def test_reference_box_system_disk_is_not_eligible_but_has_free_space():
    disk = by_name(discover_disks(FIXTURES / "refbox-epyc-2xnvme"))["nvme0n1"]
    assert disk["eligible_for_osd"] is False
    assert disk["system"] is True
    assert "has mounted filesystem on nvme0n1p2 (/)" in disk["reasons"]
    assert "has mounted filesystem on nvme0n1p1 (/boot/efi)" in disk["reasons"]
    assert "has a partition table (gpt) with nvme0n1p1 (vfat), nvme0n1p2 (ext4)" in disk["reasons"]
    assert disk["part_table"] == "gpt"
    p1, p2 = disk["partitions"]
    assert (p1["name"], p1["number"], p1["start_bytes"], p1["size_bytes"]) == ("nvme0n1p1", 1, MIB, 512 * MIB)
    assert (p1["fs_type"], p1["mountpoints"]) == ("vfat", ["/boot/efi"])
    assert (p2["path"], p2["start_bytes"], p2["size_bytes"]) == ("/dev/nvme0n1p2", 513 * MIB, 200 * 1024 * MIB)
    assert (p2["fs_type"], p2["mountpoints"]) == ("ext4", ["/"])
    # From the 1 MiB boundary after p2 to the last whole MiB before the GPT backup header.
    end_of_p2 = (513 + 200 * 1024) * MIB
    assert disk["free_bytes"] == (1875385008 * 512 - 16896) // MIB * MIB - end_of_p2
    assert disk["free_bytes"] > 690 * 1024 * MIB


def test_reference_box_second_nvme_is_eligible():
    disk = by_name(discover_disks(FIXTURES / "refbox-epyc-2xnvme"))["nvme1n1"]
    assert disk["eligible_for_osd"] is True
    assert disk["reasons"] == []
    assert disk["system"] is False
    assert (disk["partitions"], disk["holders"], disk["mountpoints"]) == ([], [], [])
    assert (disk["fs_type"], disk["part_table"], disk["ceph_osd"]) == (None, None, None)
    assert disk["free_bytes"] == 0


# -- server: SATA SSD with LVM root, SATA HDD ------------------------------------------------------
def test_server_sata_lvm_root_and_swap():
    disk = by_name(discover_disks(FIXTURES / "server-sata-bond-bridge"))["sda"]
    assert (disk["transport"], disk["vendor"], disk["model"]) == ("sata", "ATA", "INTEL SSDSC2KB480G8")
    assert disk["by_id_preferred"] == "/dev/disk/by-id/wwn-0x55cd2e414f7b1234"
    assert disk["by_id"] == [
        "/dev/disk/by-id/wwn-0x55cd2e414f7b1234",
        "/dev/disk/by-id/ata-INTEL_SSDSC2KB480G8_PHYF8123004F480BGN",
    ]
    assert disk["system"] is True
    assert disk["partitions"][2]["holders"] == [{"name": "dm-0", "kind": "lvm"}, {"name": "dm-1", "kind": "lvm"}]
    assert "has mounted filesystem on dm-0 (/) on top of sda3" in disk["reasons"]
    assert "is active swap (dm-1 on top of sda3)" in disk["reasons"]
    assert "is an LVM physical volume (sda3)" in disk["reasons"]
    assert disk["free_bytes"] > 0


def test_server_hdd_is_eligible():
    disk = by_name(discover_disks(FIXTURES / "server-sata-bond-bridge"))["sdb"]
    assert disk["eligible_for_osd"] is True
    assert (disk["transport"], disk["rotational"], disk["physical_block_size"]) == ("sata", True, 4096)
    assert (disk["wwn"], disk["serial"], disk["firmware"]) == ("0x5000c500a1b2c3d4", "ZC1A2B3C", "TN03")
    assert disk["size_bytes"] == 4000787030016


# -- laptop: LUKS root, USB stick, snap loop -----------------------------------------------------
def test_laptop_usb_stick_and_snap_loop():
    disks = by_name(discover_disks(FIXTURES / "laptop-nvme-wifi-usb"))
    assert sorted(disks) == ["loop0", "nvme0n1", "sda"]  # loop1 has no backing file
    stick = disks["sda"]
    assert (stick["transport"], stick["removable"], stick["vendor"], stick["model"]) == (
        "usb",
        True,
        "SanDisk",
        "Cruzer Blade",
    )
    assert "is removable (usb)" in stick["reasons"]
    assert "has mounted filesystem on sda1 (/media/alex/STICK 32)" in stick["reasons"]
    assert stick["part_table"] == "dos"
    loop = disks["loop0"]
    assert (loop["transport"], loop["read_only"], loop["fs_type"]) == ("loop", True, "squashfs")
    assert loop["reasons"][0] == "is a loop device"
    root = disks["nvme0n1"]
    assert root["system"] is True
    assert "is held by dm-0 (nvme0n1p3)" in root["reasons"]
    assert "has mounted filesystem on dm-0 (/) on top of nvme0n1p3" in root["reasons"]
    assert root["partitions"][2]["holders"] == [{"name": "dm-0", "kind": "dm"}]


# -- this VM (a real capture): virtio, blkid refused --------------------------------------------
def test_virtio_vm_capture():
    disks = by_name(discover_disks(FIXTURES / "vm-firecracker-virtio"))
    vda = disks["vda"]
    assert (vda["transport"], vda["pci_address"], vda["vendor"]) == ("virtio", "0000:00:02.0", None)
    assert vda["serial"]
    assert vda["system"] is True
    assert vda["mountpoints"][0] == "/"
    assert any(r.startswith("could not probe signatures (blkid rc=2: ") for r in vda["reasons"])
    assert not any(name.startswith("zram") for name in disks)


def test_virtio_vm_capture_real_bluestore_loop():
    """Captured while a Ceph test cluster ran on loop files: blkid reports bluestore, without an fsid."""
    disks = by_name(discover_disks(FIXTURES / "vm-firecracker-virtio", include_loop=True))
    osd = disks["loop2"]
    assert osd["fs_type"] == "ceph_bluestore"
    assert osd["ceph_osd"] == {"osd_fsid": None, "cluster_fsid": None}
    assert osd["reasons"] == ["already a Ceph OSD (osd_fsid unknown)"]
    assert disks["loop0"]["eligible_for_osd"] is True  # the sandbox's empty loop file


def test_loop_devices_are_eligible_only_with_include_loop():
    root = FIXTURES / "vm-firecracker-virtio"
    loops = [d for d in discover_disks(root) if d["transport"] == "loop"]
    assert loops, "the capture has sandbox loop devices"
    assert all(d["reasons"][0] == "is a loop device" for d in loops)
    with_loop = by_name(discover_disks(root, include_loop=True))
    assert all("is a loop device" not in with_loop[d["name"]]["reasons"] for d in loops)


# -- edge cases -----------------------------------------------------------------------------------
def test_skipped_devices(edge):
    assert not {"ram0", "zram0", "dm-0", "dm-1", "md0", "loop1", "nvme2c2n1", "nvme2c3n1"} & set(edge)


def test_mounted_whole_disk(edge):
    assert edge["sda"]["mountpoints"] == ["/srv/data"]
    assert edge["sda"]["reasons"] == ["has mounted filesystem on sda (/srv/data)", "carries xfs filesystem signature"]
    assert edge["sda"]["system"] is False


def test_lvm_member_via_holders(edge):
    disk = edge["sdb"]
    assert disk["holders"] == [{"name": "dm-0", "kind": "lvm"}]
    assert "is an LVM physical volume" in disk["reasons"]
    assert "has mounted filesystem on dm-0 (/var/lib/data) on top of sdb" in disk["reasons"]


def test_md_members_carry_system_mount(edge):
    for name in ("sdc", "sdd"):
        disk = edge[name]
        assert disk["holders"] == [{"name": "md0", "kind": "md"}]
        assert f"is a member of md RAID md0 ({name})" in disk["reasons"]
        assert disk["system"] is True  # md0 is /var


def test_usb_stick_zero_size_and_read_only(edge):
    assert edge["sde"]["reasons"] == ["is removable (usb)"]
    assert edge["sdf"]["reasons"] == ["size 0", "is removable (usb)"]
    assert edge["sdg"]["reasons"] == ["is read-only"]
    assert edge["sdg"]["transport"] == "scsi"


def test_existing_ceph_osds_are_reported_not_eligible(edge):
    raw = edge["sdh"]
    assert raw["ceph_osd"] == {"osd_fsid": None, "cluster_fsid": None}
    assert raw["reasons"] == ["already a Ceph OSD (osd_fsid unknown)"]
    lvm = edge["sdi"]
    assert lvm["ceph_osd"] == {"osd_fsid": treebuilder.CEPH_OSD_FSID, "cluster_fsid": None}
    assert f"already a Ceph OSD (osd_fsid {treebuilder.CEPH_OSD_FSID})" in lvm["reasons"]


def test_clean_sas_disk_is_eligible(edge):
    assert edge["sdj"]["eligible_for_osd"] is True
    assert edge["sdj"]["transport"] == "sas"


def test_nvme_multipath_head(edge):
    disk = edge["nvme2n1"]
    assert disk["nvme"] == {"controller": "nvme2", "namespace": 1, "subsystem": "nvme-subsys2", "multipath": True}
    assert disk["pci_address"] == "0000:81:00.0"
    assert disk["eligible_for_osd"] is True


def test_loop_with_backing_file(edge):
    assert edge["loop0"]["reasons"] == ["is a loop device"]
    assert edge["loop0"]["size_bytes"] == 20 << 30


# -- without udev: blkid through the runner ---------------------------------------------------------
def test_signatures_from_blkid_when_udev_has_no_record(container_root):
    disks = by_name(discover_disks(container_root))
    assert disks["vdb"]["eligible_for_osd"] is True
    assert disks["vdc"]["reasons"] == ["carries ext4 filesystem signature"]
    assert disks["vdd"]["ceph_osd"] == {"osd_fsid": None, "cluster_fsid": None}
    assert disks["vda"]["part_table"] == "gpt"
    assert [p["fs_type"] for p in disks["vda"]["partitions"]] == ["ext4", "ext4"]
    assert disks["vda"]["by_id_preferred"] == "/dev/disk/by-id/virtio-root-disk"


class FailingBlkid:
    """blkid exits 1 with an error for every device."""

    def __init__(self):
        self.calls = []

    def run(self, argv):
        self.calls.append(argv)
        return CommandResult(1, "", f"blkid: error: {argv[-1]}: Input/output error\n")


def test_failing_blkid_makes_disks_ineligible_and_warns(container_root):
    runner, warnings = FailingBlkid(), []
    disks = by_name(discover_disks(container_root, runner, warn=warnings.append))
    assert disks["vdb"]["eligible_for_osd"] is False
    assert disks["vdb"]["reasons"] == [
        "could not probe signatures (blkid rc=1: blkid: error: /dev/vdb: Input/output error)"
    ]
    assert "could not probe /dev/vdb for signatures" in " ".join(warnings)
    assert ["blkid", "-p", "-o", "export", "/dev/vdb"] in runner.calls


def test_missing_blkid_is_rc_127_not_a_traceback(container_root, tmp_path):
    empty = tmp_path / "no-commands"
    empty.mkdir()
    disks = by_name(discover_disks(container_root, CapturedRunner(str(empty))))
    assert disks["vdb"]["eligible_for_osd"] is False
    assert disks["vdb"]["reasons"][0].startswith("could not probe signatures (blkid rc=127: ")


def test_missing_blkid_in_live_mode(container_root, monkeypatch):
    monkeypatch.setenv("PATH", "/nonexistent")
    monkeypatch.setattr("ansible_collections.ciab.box.plugins.module_utils.sysfs.SBIN_DIRS", ())
    disks = by_name(discover_disks(container_root, LiveRunner()))
    assert disks["vdb"]["reasons"] == ["could not probe signatures (blkid rc=127: blkid: command not found)"]


# -- sector sizes ---------------------------------------------------------------------------------
def test_sector_size_fallbacks_and_512_byte_partition_units(tmp_path):
    tree = treebuilder.Tree(tmp_path)
    parts = [treebuilder.Part(1, 1, 1024, "xfs")]
    tree.nvme(
        0, "pci0000:00/0000:00:01.0", "4K DRIVE", "S1", 100 * GIB_SECTORS, lbs=4096, pttype="gpt", partitions=parts
    )
    tree.nvme(1, "pci0000:00/0000:00:02.0", "OLD DRIVE", "S2", 100 * GIB_SECTORS)
    tree.finish()
    (tmp_path / "sys/devices/pci0000:00/0000:00:01.0/nvme/nvme0/nvme0n1/queue/logical_block_size").unlink()
    for attr in ("logical_block_size", "hw_sector_size", "physical_block_size"):
        (tmp_path / f"sys/devices/pci0000:00/0000:00:02.0/nvme/nvme1/nvme1n1/queue/{attr}").unlink()
    disks = by_name(discover_disks(tmp_path))
    assert disks["nvme0n1"]["logical_block_size"] == 4096  # from hw_sector_size
    assert disks["nvme1n1"]["logical_block_size"] == 512  # default
    assert disks["nvme1n1"]["physical_block_size"] == 512
    part = disks["nvme0n1"]["partitions"][0]
    assert (part["start_bytes"], part["size_bytes"]) == (MIB, 1024 * MIB)
    tail = 4096 + 16384
    assert disks["nvme0n1"]["free_bytes"] == (100 * GIB_SECTORS * 512 - tail) // MIB * MIB - 1025 * MIB


GIB_SECTORS = (1 << 30) // 512
