"""Issue #18 "Fail closed", disk part: disk states that were planned as ``prepare`` or passed the guard.

"Eligible" means blank and unused. Each state is run through discovery (disk_facts), the plan filter (osd_devices)
and the guard (ceph_osd_guard in check mode: nothing is wiped). Two kinds of disks:

* built trees (treebuilder) with a probe that opens image files in place of device nodes: every state, on any
  machine, including the ones this kernel cannot build (device-mapper, md);
* real loop devices on files under the test's tmp dir (root and losetup needed, else skipped): the states the
  kernel here can build. Discovery sees only the loop devices a test attached (``OnlyThese``), so no other
  device of the host is opened.
"""

from __future__ import annotations

import errno
import json
import os
import shutil
import struct
import subprocess
import uuid
import zlib
from contextlib import contextmanager
from pathlib import Path

import pytest
import treebuilder
import yaml
from ansible_collections.ciab.box.plugins.module_utils.disks import (
    CODES,
    DATA,
    IN_USE,
    UNFIT,
    discover_disks,
    finding,
    sample_offsets,
)
from ansible_collections.ciab.box.plugins.module_utils.plan.osd import select_osd_devices
from ansible_collections.ciab.box.plugins.module_utils.sysfs import LiveRunner, Root
from ansible_collections.ciab.box.plugins.module_utils.wipe_guard import GuardError, check_device, check_wiped, wipe
from treebuilder import GIB, MIB

FSID = "5d9b8a2e-1c3f-4e7a-9b6d-0f2e4c6a8b1d"
SERIAL = "ZC1DATA01"
REPO = Path(__file__).resolve().parents[2]


def codes(disk_or_decision):
    return [f["code"] for f in disk_or_decision["findings"]]


def refuse(*args, **kwargs):
    with pytest.raises(GuardError) as err:
        check_device(*args, **kwargs)
    return str(err.value)


# -- built trees ------------------------------------------------------------------------------------
class ImageProbe:
    """Opens image files in place of device nodes (/dev/<name> -> ``images[name]``; others read as zeros);
    ``busy`` names fail an exclusive open with EBUSY."""

    def __init__(self, images=None, busy=()):
        self.images = images or {}
        self.busy = set(busy)
        self.opened = []

    def exclusive(self, path):
        self.opened.append(path)
        name = os.path.basename(path)
        return OSError(errno.EBUSY, os.strerror(errno.EBUSY), path) if name in self.busy else None

    def read(self, path, offset, length):
        image = self.images.get(os.path.basename(path))
        if image is None:
            return bytes(length)
        with open(image, "rb") as handle:
            handle.seek(offset)
            return handle.read(length)


def data_node(tmp_path, name="now", size=100 * GIB, wipefs="", **data):
    """A node with a system disk and the SAS data disk sdb; ``wipefs`` is what wipefs lists on sdb."""
    tree = treebuilder.Tree(tmp_path / name)
    system = [treebuilder.Part(1, 1, 512, "vfat", "/boot/efi"), treebuilder.Part(2, 513, 60000, "ext4", "/")]
    tree.scsi("sda", "sata", 0, "pci0000:00/0000:00:17.0", 64 * GIB // 512, serial="SYS1", pttype="gpt",
              partitions=system)  # fmt: skip
    tree.scsi("sdb", "sas", 1, "pci0000:00/0000:00:10.0", size // 512, wwn="0x5000c500deadbeef", serial=SERIAL, **data)
    signatures = {"signatures": json.loads(wipefs) if wipefs else []}
    tree.command(["wipefs", "--no-act", "--json", "/dev/sdb"], json.dumps(signatures))
    return tree


@pytest.fixture
def plan(tmp_path):
    """The plan made while sdb was blank and unused (the live probe saw nothing)."""
    root = data_node(tmp_path, "then").finish()
    devices = select_osd_devices(discover_disks(root, probe=ImageProbe()), {})["devices"]
    assert [(d["name"], d["action"]) for d in devices] == [("sdb", "prepare")]
    return devices


def sparse_image(tmp_path, size, writes=(), name="sdb.img"):
    """A sparse file of ``size`` bytes with ``writes`` ((offset, bytes), ...) in it."""
    image = tmp_path / name
    with open(image, "wb") as handle:
        handle.truncate(size)
        for offset, data in writes:
            handle.seek(offset)
            handle.write(data)
    return image


class OldData(ImageProbe):
    """A disk whose bytes from ``start`` to ``end`` hold old data (a filesystem further in), zeros elsewhere."""

    def __init__(self, start, end, **kwargs):
        super().__init__(**kwargs)
        self.start, self.end = start, end

    def read(self, path, offset, length):
        low, high = max(offset, self.start), min(offset + length, self.end)
        if low >= high:
            return bytes(length)
        return bytes(low - offset) + b"\x5a" * (high - low) + bytes(offset + length - high)


def test_data_further_in_needs_allow_wipe(tmp_path, plan):
    """No signature anywhere, but 2 GiB of old data at 40 GiB: not provably blank."""
    root = data_node(tmp_path).finish()
    probe = OldData(40 * GIB, 42 * GIB)
    disk = next(d for d in discover_disks(root, probe=probe) if d["name"] == "sdb")
    assert disk["eligible_for_osd"] is False
    first = min(o for o in sample_offsets(100 * GIB) if o >= 40 * GIB)
    assert disk["findings"] == [
        {
            "code": "nonzero_data",
            "kind": DATA,
            "text": f"is not blank: a sampled read found non-zero data at byte {first}",
            "device": "sdb",
        }
    ]
    rejected = select_osd_devices([disk], {})["rejected"][0]
    assert (
        rejected["hint"]
        == f"to use it as an OSD, add '{SERIAL}' to ciab_osd_policy.allow_wipe (this destroys its data)"
    )
    assert select_osd_devices([disk], {"allow_wipe": [SERIAL]})["devices"][0]["action"] == "wipe_then_prepare"
    msg = refuse("/dev/sdb", plan, FSID, root=root, probe=probe)
    assert "found: is not blank: a sampled read found non-zero data at byte" in msg
    assert f"add '{SERIAL}' to ceph_allow_wipe" in msg
    decision = check_device("/dev/sdb", plan, FSID, allow_wipe=[SERIAL], root=root, probe=probe)
    assert decision["action"] == "wipe_then_prepare"


def test_signature_beyond_the_first_mib_from_wipefs(tmp_path, plan):
    listed = '[{"device": "sdb", "offset": "0x40000438", "type": "ext4", "uuid": "1b2c", "label": null}]'
    root = data_node(tmp_path, wipefs=listed).finish()
    disk = next(d for d in discover_disks(root, probe=ImageProbe()) if d["name"] == "sdb")
    assert disk["reasons"] == ["carries a ext4 signature at byte offset 0x40000438 (wipefs)"]
    assert codes(disk) == ["signature"]
    assert "found: carries a ext4 signature at byte offset 0x40000438" in refuse(
        "/dev/sdb", plan, FSID, root=root, probe=ImageProbe()
    )


def test_zeroed_primary_gpt_with_backup_gpt_left(tmp_path, plan):
    size = 100 * GIB
    image = sparse_image(tmp_path, size, [(size - 512, b"EFI PART" + bytes(84))])
    root = data_node(tmp_path).finish()
    probe = ImageProbe({"sdb": image})
    disk = next(d for d in discover_disks(root, probe=probe) if d["name"] == "sdb")
    assert codes(disk) == ["gpt_header", "nonzero_data"]
    assert disk["reasons"][0] == (
        f"has a backup GPT header at byte {size - 512} that blkid does not report (its protective MBR is gone)"
    )
    assert check_device("/dev/sdb", plan, FSID, allow_wipe=[SERIAL], root=root, probe=probe)["action"] == (
        "wipe_then_prepare"
    )


def test_failing_wipefs_and_unreadable_device_fail_closed(tmp_path, plan):
    tree = data_node(tmp_path)
    tree.command(
        ["wipefs", "--no-act", "--json", "/dev/sdb"], "", rc=1, stderr="wipefs: error: /dev/sdb: probing failed\n"
    )
    root = tree.finish()
    disk = next(d for d in discover_disks(root, probe=ImageProbe()) if d["name"] == "sdb")
    assert disk["findings"][0]["code"] == "probe_failed"
    msg = refuse("/dev/sdb", plan, FSID, allow_wipe=[SERIAL], root=root, probe=ImageProbe())
    assert "could not list its signatures (wipefs rc=1: wipefs: error: /dev/sdb: probing failed)" in msg
    assert "ceph_allow_wipe cannot help here: look at it yourself (blkid -p /dev/sdb; wipefs -n /dev/sdb)" in msg

    class Unreadable(ImageProbe):
        def read(self, path, offset, length):
            return OSError(errno.EACCES, os.strerror(errno.EACCES), path)

    fine = data_node(tmp_path, "fine").finish()
    disk = next(d for d in discover_disks(fine, probe=Unreadable()) if d["name"] == "sdb")
    assert disk["findings"][0] == finding(
        "unverified", "could not read it to check it is blank (Permission denied)", "sdb"
    )


def test_missing_wipefs_fails_closed(tmp_path):
    tree = data_node(tmp_path)
    root = tree.finish()
    (root / "ciab-capture/commands/wipefs_--no-act_--json_-dev-sdb.txt").unlink()
    disk = next(d for d in discover_disks(root, probe=ImageProbe()) if d["name"] == "sdb")
    assert disk["reasons"][0].startswith("could not list its signatures (wipefs rc=127: ")


def test_held_open_exclusively(tmp_path, plan):
    """Mounted in a namespace we cannot read, or a program holding it: the exclusive open fails."""
    root = data_node(tmp_path).finish()
    probe = ImageProbe(busy={"sdb"})
    disk = next(d for d in discover_disks(root, probe=probe) if d["name"] == "sdb")
    assert codes(disk) == ["open_exclusive"]
    assert disk["findings"][0]["kind"] == IN_USE
    plan_now = select_osd_devices([disk], {"allow_wipe": [SERIAL]})
    assert plan_now["devices"] == []
    assert plan_now["rejected"][0]["reasons"][-1].startswith(
        "listed in ciab_osd_policy.allow_wipe but not wiped: it is in use (is in use: it cannot be opened exclusively"
    )
    msg = refuse("/dev/sdb", plan, FSID, allow_wipe=[SERIAL], root=root, probe=probe)
    assert "(being listed in ceph_allow_wipe does not change that): free it first (find and stop the program" in msg
    assert "fuser -v /dev/sdb; lsof /dev/sdb" in msg
    # a disk already known to be in use is not opened again; the system disk is never sampled
    assert "/dev/sda" not in probe.opened


def foreign_namespace(tree, pid, majmin, mountpoint):
    """A process in another mount namespace (a container, ``unshare -m``) that has ``majmin`` mounted."""
    for proc, namespace in (("self", "mnt:[4026531841]"), (str(pid), "mnt:[4026532777]")):
        link = tree.root / f"proc/{proc}/ns/mnt"
        link.parent.mkdir(parents=True, exist_ok=True)
        link.symlink_to(namespace)
    tree.write(f"/proc/{pid}/mountinfo", f"612 600 {majmin} / {mountpoint} rw,relatime - ext4 /dev/sdb rw")
    same = tree.root / "proc/1/ns/mnt"  # pid 1 shares our namespace: its table is not read again
    same.parent.mkdir(parents=True)
    same.symlink_to("mnt:[4026531841]")


def test_mounted_in_another_mount_namespace_is_never_wiped(tmp_path, plan):
    tree = data_node(tmp_path, fs="ext4")
    foreign_namespace(tree, 4242, tree.majmin["sdb"], "/var/lib/docker/volumes/x")
    root = tree.finish()
    disk = next(d for d in discover_disks(root) if d["name"] == "sdb")
    assert disk["mountpoints"] == []  # our own mount table does not show it
    assert disk["findings"][0] == finding(
        "mounted_elsewhere",
        "is mounted in another mount namespace: sdb at /var/lib/docker/volumes/x in the mount namespace of pid 4242",
        "sdb",
    )
    rejected = select_osd_devices([disk], {"allow_wipe": [SERIAL]})["rejected"][0]
    assert rejected["reasons"][-1].startswith("listed in ciab_osd_policy.allow_wipe but not wiped: it is in use")
    msg = refuse("/dev/sdb", plan, FSID, allow_wipe=[SERIAL], root=root)
    assert "It is in use, and the guard never wipes a disk in use" in msg
    assert "unmount it in that mount namespace (findmnt -N <pid> /dev/sdb)" in msg


def test_backing_device_of_a_loop_device_is_never_wiped(tmp_path, plan):
    tree = data_node(tmp_path, fs="ext4")
    tree.loop("loop3", "/dev/sdb", 100 * GIB // 512, fs="ext4", mount="/mnt/inner")
    root = tree.finish()
    disks = {d["name"]: d for d in discover_disks(root, include_loop=True)}
    assert disks["sdb"]["findings"][0] == finding("loop_backing", "is the backing device of loop3 (sdb)", "sdb")
    assert "mounted" in codes(disks["loop3"])
    msg = refuse("/dev/sdb", plan, FSID, allow_wipe=[SERIAL], root=root)
    assert "is the backing device of loop3 (sdb)" in msg
    assert "detach the loop device on top of it (losetup -j /dev/sdb; losetup -d)" in msg


def test_two_loop_devices_on_one_backing_file(tmp_path):
    tree = treebuilder.Tree(tmp_path / "loops")
    for name in ("loop0", "loop1"):
        tree.loop(name, "/var/lib/ciab/osd-a.img", 20 * GIB // 512)
    tree.loop("loop2", "/var/lib/ciab/osd-b.img", 20 * GIB // 512)
    root = tree.finish()
    disks = discover_disks(root, include_loop=True)
    by_name = {d["name"]: d for d in disks}
    assert by_name["loop0"]["reasons"] == [
        "its backing file /var/lib/ciab/osd-a.img is also attached to loop1 (two OSDs on one file would overwrite "
        "each other)"
    ]
    assert codes(by_name["loop1"]) == ["shared_backing"]
    assert by_name["loop2"]["eligible_for_osd"] is True
    # the backing file in allow_wipe names both loop devices, and wipes neither
    policy = {
        "include_loop": True,
        "transports": ["loop"],
        "min_size_bytes": 0,
        "allow_wipe": ["/var/lib/ciab/osd-a.img"],
    }
    plan = select_osd_devices(disks, policy)
    assert [d["name"] for d in plan["devices"]] == ["loop2"]
    assert {r["name"] for r in plan["rejected"]} == {"loop0", "loop1"}
    entry = {"name": "loop1", "path": "/dev/loop1", "transport": "loop", "loop_backing_file": "/var/lib/ciab/osd-a.img"}
    msg = refuse("/dev/loop1", [entry], FSID, allow_wipe=["/var/lib/ciab/osd-a.img"], root=root)
    assert "is also attached to loop0" in msg
    assert "detach the other loop device(s) on its backing file (losetup -j <file>; losetup -d)" in msg


def test_ambivalent_probe_and_size_zero_name_the_tool_not_free_it_first(tmp_path):
    tree = treebuilder.Tree(tmp_path / "odd").without_udev()
    tree.virtio("vdb", 2, "pci0000:00/0000:00:03.0", 100 * GIB // 512, serial="two-sigs")
    tree.command(["blkid", "-p", "-o", "export", "/dev/vdb"], "", rc=8, stderr="blkid: /dev/vdb: ambivalent result\n")
    tree.virtio("vdc", 3, "pci0000:00/0000:00:04.0", 0, serial="no-medium")
    root = tree.finish()
    disks = {d["name"]: d for d in discover_disks(root)}
    assert codes(disks["vdb"]) == ["probe_ambivalent"]
    assert codes(disks["vdc"]) == ["size_zero"]
    plan = [
        {"name": "vdb", "path": "/dev/vdb", "by_id": "/dev/disk/by-id/virtio-two-sigs", "serial": "two-sigs"},
        {"name": "vdc", "path": "/dev/vdc", "by_id": "/dev/disk/by-id/virtio-no-medium", "serial": "no-medium"},
    ]
    msg = refuse("/dev/vdb", plan, FSID, allow_wipe=["two-sigs"], root=root)
    assert "could not probe signatures (blkid rc=8: blkid: /dev/vdb: ambivalent result)" in msg
    assert "ceph_allow_wipe cannot help here: list its signatures with wipefs -n /dev/vdb" in msg
    msg = refuse("/dev/vdc", plan, FSID, allow_wipe=["no-medium"], root=root)
    assert "found: size 0." in msg
    assert "check the device (no medium in a card reader, a failed or detached disk: lsblk /dev/vdc)" in msg
    for text in (msg, refuse("/dev/vdb", plan, FSID, root=root)):
        assert "free it first" not in text
        assert "unmount" not in text
    rejected = select_osd_devices(list(disks.values()), {"allow_wipe": ["two-sigs"]})["rejected"]
    assert rejected[0]["hint"].startswith("allow_wipe cannot help: list its signatures with wipefs -n /dev/vdb")


def test_lvm_and_md_members_in_use_from_fixture_trees(tmp_path):
    """No device-mapper or md in this kernel: holders come from the built edge-case tree."""
    root = treebuilder.build(treebuilder.edge_cases, tmp_path / "edge")
    disks = {d["name"]: d for d in discover_disks(root)}
    assert disks["sdb"]["findings"][:2] == [
        finding("held", "is held by LVM logical volume dm-0 (sdb)", "sdb"),
        finding("mounted", "has mounted filesystem on dm-0 (/var/lib/data) on top of sdb", "sdb"),
    ]
    assert codes(disks["sdc"])[:2] == ["held", "mounted"]  # md0 (/var) on sdc and sdd
    assert "held_by_osd" in codes(disks["sdi"])  # a ceph-volume LVM OSD: adopted, never wiped
    policy = {"allow_wipe": [d["serial"] or d["by_id_preferred"] for d in disks.values() if d["by_id_preferred"]]}
    plan = select_osd_devices(list(disks.values()), {**policy, "min_size_bytes": 0, "transports": ["sas"]})
    assert not {"sda", "sdb", "sdc", "sdd", "sdi"} & {d["name"] for d in plan["devices"]}


# -- one rule set, decided on codes -----------------------------------------------------------------
def test_every_code_has_a_kind_and_decisions_ignore_the_text():
    assert {kind for kind, _ in CODES.values()} == {IN_USE, DATA, UNFIT}
    for code, (kind, remedy) in CODES.items():
        assert kind != DATA or not remedy, f"{code}: a wipe clears data, it needs no remedy"
        assert kind == DATA or remedy, f"{code}: tell the user what frees the disk"
    # A finding's kind comes from the table: one claiming to be data while its code says in use is in use.
    forged = {"code": "mounted", "kind": DATA, "text": "carries ext4 filesystem signature", "device": None}
    base = {"name": "sdx", "path": "/dev/sdx", "transport": "sas", "serial": "X1", "by_id": ["/dev/disk/by-id/wwn-1"],
            "size_bytes": 200 * GIB, "eligible_for_osd": False}  # fmt: skip
    plan = select_osd_devices([{**base, "reasons": [forged["text"]], "findings": [forged]}], {"allow_wipe": ["X1"]})
    assert plan["devices"] == []
    # The same words under a data code are wiped when listed; under no code (older facts) nothing is wiped.
    data = finding("fs_signature", "has mounted filesystem on sdx (/srv)")
    plan = select_osd_devices([{**base, "reasons": [data["text"]], "findings": [data]}], {"allow_wipe": ["X1"]})
    assert plan["devices"][0]["action"] == "wipe_then_prepare"
    plan = select_osd_devices([{**base, "reasons": ["carries ext4 filesystem signature"]}], {"allow_wipe": ["X1"]})
    assert plan["devices"] == []
    assert plan["rejected"][0]["findings"][0]["code"] == "unknown"


def test_after_a_wipe_only_unsampled_old_data_may_remain():
    before = {"device": "/dev/sdb"}
    check_wiped(before, {"action": "prepare", "findings": []})
    left = {"action": "wipe_then_prepare", "findings": [finding("nonzero_data", "is not blank: ...")]}
    check_wiped(before, left)
    for code in ("fs_signature", "gpt_header", "mounted_elsewhere"):
        with pytest.raises(GuardError, match="still holds"):
            check_wiped(before, {"action": "wipe_then_prepare", "findings": [finding(code, code)]})


def test_sample_covers_the_start_power_of_two_offsets_spread_and_end():
    offsets = sample_offsets(100 * GIB)
    assert offsets[0] == 0
    assert {MIB, 2 * MIB, 64 * MIB, 64 * GIB} <= set(offsets)
    assert offsets[-1] == 100 * GIB - 64 * 1024
    assert len(offsets) < 120  # a few MiB read per disk
    assert sample_offsets(4096) == [0]


def test_each_device_is_guarded_right_before_its_own_prepare():
    """osd.yml includes osd_device.yml per device; there the guard runs, then that device is prepared."""
    tasks = yaml.safe_load((REPO / "roles/ceph/tasks/osd.yml").read_text())
    assert not any("ciab.box.ceph_osd_guard" in task for task in tasks), "no guard loop over all devices first"
    include = next(t for t in tasks if t.get("ansible.builtin.include_tasks") == "osd_device.yml")
    assert include["loop"] == "{{ ceph_osd_devices }}"
    steps = yaml.safe_load((REPO / "roles/ceph/tasks/osd_device.yml").read_text())
    kinds = [next(k for k in step if k.startswith("ansible.builtin.") or k.startswith("ciab.box.")) for step in steps]
    assert kinds[0] == "ciab.box.ceph_osd_guard"
    prepare = next(
        s for s in steps if "ansible.builtin.command" in s and "prepare" in s["ansible.builtin.command"]["argv"]
    )
    assert prepare["ansible.builtin.command"]["argv"][-1] == "{{ __ceph_guard.device }}"
    assert steps.index(prepare) > 0


# -- real loop devices ------------------------------------------------------------------------------
LOOP_SIZE = 64 * MIB


def _need_loops():
    if os.geteuid() != 0:
        pytest.skip("loop devices need root")
    if not shutil.which("losetup"):
        pytest.skip("losetup is missing")


class OnlyThese(Root):
    """The live root, listing only the loop devices this test attached (nothing else of the host is opened)."""

    def __init__(self, names):
        super().__init__("/")
        self.names = set(names)

    def listdir(self, path):
        names = super().listdir(path)
        return [n for n in names if n in self.names] if path == "/sys/block" else names


class Loops:
    """Attaches loop devices to files under a tmp dir and always detaches them (newest first)."""

    def __init__(self, tmp_path):
        self.tmp = tmp_path
        self.attached = []

    def file(self, name="disk.img", size=LOOP_SIZE, writes=()):
        return sparse_image(self.tmp, size, writes, name)

    def attach(self, backing):
        done = subprocess.run(
            ["losetup", "--find", "--show", str(backing)], capture_output=True, text=True, check=False
        )
        if done.returncode != 0:
            pytest.skip(f"losetup cannot attach a loop device here: {done.stderr.strip()}")
        device = done.stdout.strip()
        self.attached.append(device)
        return device

    def root(self):
        return OnlyThese(os.path.basename(d) for d in self.attached)

    def detach_all(self):
        for device in reversed(self.attached):
            subprocess.run(["losetup", "-d", device], capture_output=True, check=False)
        self.attached.clear()


@pytest.fixture
def loops(tmp_path):
    _need_loops()
    attached = Loops(tmp_path)
    try:
        yield attached
    finally:
        attached.detach_all()


def live(loops, device):
    """(disk facts, plan entry) of a loop device as discovery sees it now."""
    disk = next(d for d in discover_disks(loops.root(), include_loop=True) if d["path"] == device)
    entry = {
        "name": disk["name"],
        "path": device,
        "by_id": None,
        "serial": None,
        "transport": "loop",
        "size_bytes": disk["size_bytes"],
        "loop_backing_file": disk["loop_backing_file"],
        "action": "prepare",
    }
    return disk, entry


def test_live_blank_loop_is_prepared(loops):
    device = loops.attach(loops.file())
    disk, entry = live(loops, device)
    assert disk["findings"] == []
    assert check_device(device, [entry], FSID, root=loops.root())["action"] == "prepare"


def test_live_data_further_in_is_found_wiped_and_checked(loops):
    device = loops.attach(loops.file(writes=[(40 * MIB + 5, b"data that is not a signature")]))
    disk, entry = live(loops, device)
    assert codes(disk) == ["nonzero_data"]
    assert disk["findings"][0]["text"] == f"is not blank: a sampled read found non-zero data at byte {40 * MIB + 5}"
    backing = entry["loop_backing_file"]
    assert "found: is not blank" in refuse(device, [entry], FSID, root=loops.root())
    decision = check_device(device, [entry], FSID, allow_wipe=[backing], root=loops.root())
    assert decision["action"] == "wipe_then_prepare"
    # The wipe itself, on this test's own loop device, and the check after it (what the module does).
    wipe(decision, LiveRunner())
    check_wiped(decision, check_device(device, [entry], FSID, allow_wipe=[backing], root=loops.root()))


def _gpt(size, first_lba, last_lba):
    """Protective MBR, primary and backup GPT (512-byte sectors) with one Linux partition."""
    sectors = size // 512
    entry = struct.pack(
        "<16s16sQQQ72s",
        uuid.UUID("0FC63DAF-8483-4772-8E79-3D69D8477DE4").bytes_le,
        uuid.uuid4().bytes_le,
        first_lba,
        last_lba,
        0,
        "data".encode("utf-16-le"),
    )
    entries = entry + bytes(128 * 128 - len(entry))
    disk_guid = uuid.uuid4().bytes_le

    def header(mine, other, entries_lba):
        fields = [b"EFI PART", 0x00010000, 92, 0, 0, mine, other, 34, sectors - 34, disk_guid, entries_lba, 128, 128]
        fields.append(zlib.crc32(entries))
        raw = struct.pack("<8sIIIIQQQQ16sQIII", *fields)
        fields[3] = zlib.crc32(raw)
        return struct.pack("<8sIIIIQQQQ16sQIII", *fields) + bytes(512 - 92)

    mbr = bytearray(512)
    mbr[446:462] = struct.pack("<BBBBBBBBII", 0, 0, 2, 0, 0xEE, 0xFF, 0xFF, 0xFF, 1, min(sectors - 1, 0xFFFFFFFF))
    mbr[510:512] = b"\x55\xaa"
    primary = bytes(mbr) + header(1, sectors - 1, 2) + entries
    backup = entries + header(sectors - 1, 1, sectors - 33)
    return primary, size - len(backup), backup


def test_live_zeroed_primary_gpt_with_backup_gpt_and_filesystem_left(loops):
    if not shutil.which("mkfs.ext4"):
        pytest.skip("mkfs.ext4 is missing")
    size = LOOP_SIZE
    primary, tail_at, backup = _gpt(size, 2048, 2048 + 16 * 2048 - 1)
    image = loops.file(writes=[(0, primary), (tail_at, backup)])
    subprocess.run(["mkfs.ext4", "-q", "-F", "-E", f"offset={MIB}", str(image), "16M"], check=True, capture_output=True)
    probe = subprocess.run(["blkid", "-p", "-o", "export", str(image)], capture_output=True, text=True, check=False)
    assert "PTTYPE=gpt" in probe.stdout, "the image starts as a valid GPT disk"
    with open(image, "r+b") as handle:  # zero the protective MBR and the primary GPT (34 sectors)
        handle.write(bytes(34 * 512))
    device = loops.attach(image)
    disk, entry = live(loops, device)
    assert (disk["fs_type"], disk["part_table"]) == (None, None), "blkid sees nothing"
    # wipefs still finds the backup GPT, and so does the header check (which also covers a wipefs that does not)
    assert f"carries a gpt signature at byte offset {hex(size - 512)} (wipefs)" in disk["reasons"]
    assert "gpt_header" in codes(disk)
    assert any(f"has a backup GPT header at byte {size - 512}" in text for text in disk["reasons"])
    assert "nonzero_data" in codes(disk)  # the ext4 superblock of the partition, at 1 MiB + 1 KiB
    backing = entry["loop_backing_file"]
    msg = refuse(device, [entry], FSID, root=loops.root())
    assert f"add '{backing}' to ceph_allow_wipe" in msg
    decision = check_device(device, [entry], FSID, allow_wipe=[backing], root=loops.root())
    assert decision["action"] == "wipe_then_prepare"
    wipe(decision, LiveRunner())
    after = check_device(device, [entry], FSID, allow_wipe=[backing], root=loops.root())
    assert "gpt_header" not in codes(after), "the wipe zeroes the backup GPT at the end"
    check_wiped(decision, after)


def test_live_held_open_exclusively_is_never_wiped(loops):
    device = loops.attach(loops.file(writes=[(0, b"\x01")]))
    disk, entry = live(loops, device)
    assert codes(disk) == ["nonzero_data"]
    fd = os.open(device, os.O_RDONLY | os.O_EXCL)
    try:
        disk, _ = live(loops, device)
        assert codes(disk) == ["open_exclusive"]
        msg = refuse(device, [entry], FSID, allow_wipe=[entry["loop_backing_file"]], root=loops.root())
        assert "is in use: it cannot be opened exclusively" in msg
        assert "being listed in ceph_allow_wipe does not change that" in msg
    finally:
        os.close(fd)


@contextmanager
def mounted_in_another_namespace(device, where):
    """``device`` mounted at ``where`` in a new private mount namespace; our own mount table never shows it."""
    if not shutil.which("unshare"):
        pytest.skip("unshare is missing")
    script = f"mount {device} {where} && echo mounted && exec sleep 120"
    holder = subprocess.Popen(
        ["unshare", "-m", "--propagation", "private", "sh", "-c", script], stdout=subprocess.PIPE, text=True
    )
    try:
        if holder.stdout.readline().strip() != "mounted":
            pytest.skip("cannot mount in a private mount namespace here")
        yield holder.pid
    finally:
        holder.kill()  # the namespace, and its mount, go with its last process
        holder.wait()


def test_live_mounted_in_another_namespace_is_never_wiped(loops, tmp_path):
    if not shutil.which("mkfs.ext4"):
        pytest.skip("mkfs.ext4 is missing")
    image = loops.file()
    subprocess.run(["mkfs.ext4", "-q", "-F", str(image)], check=True, capture_output=True)
    device = loops.attach(image)
    _, entry = live(loops, device)
    where = tmp_path / "mnt"
    where.mkdir()
    with mounted_in_another_namespace(device, where) as pid:
        disk, _ = live(loops, device)
        assert disk["mountpoints"] == []
        assert codes(disk)[0] == "mounted_elsewhere"
        assert f"{where} in the mount namespace of pid {pid}" in disk["reasons"][0]
        assert (
            select_osd_devices(
                [disk],
                {
                    "include_loop": True,
                    "transports": ["loop"],
                    "min_size_bytes": 0,
                    "allow_wipe": [entry["loop_backing_file"]],
                },
            )["devices"]
            == []
        )
        msg = refuse(device, [entry], FSID, allow_wipe=[entry["loop_backing_file"]], root=loops.root())
        assert "is mounted in another mount namespace" in msg
        assert "the guard never wipes a disk in use (being listed in ceph_allow_wipe does not change that)" in msg


def test_live_backing_device_of_another_loop_device_is_never_wiped(loops):
    lower = loops.attach(loops.file())
    upper = loops.attach(lower)  # a loop device on top of a loop device
    disk, entry = live(loops, lower)
    assert disk["findings"][0] == finding(
        "loop_backing", f"is the backing device of {os.path.basename(upper)} ({disk['name']})", disk["name"]
    )
    msg = refuse(lower, [entry], FSID, allow_wipe=[entry["loop_backing_file"]], root=loops.root())
    assert f"is the backing device of {os.path.basename(upper)}" in msg


def test_live_two_loop_devices_on_one_file_are_not_two_disks(loops):
    image = loops.file()
    first, second = loops.attach(image), loops.attach(image)
    disks = discover_disks(loops.root(), include_loop=True)
    assert [codes(d) for d in disks] == [["shared_backing"], ["shared_backing"]]
    policy = {"include_loop": True, "transports": ["loop"], "min_size_bytes": 0, "allow_wipe": [str(image.resolve())]}
    assert select_osd_devices(disks, policy)["devices"] == []
    for device in (first, second):
        _, entry = live(loops, device)
        msg = refuse(device, [entry], FSID, allow_wipe=[entry["loop_backing_file"]], root=loops.root())
        assert "two OSDs on one file would overwrite each other" in msg


def test_a_bluestore_label_names_its_osd_without_ceph_installed(tmp_path):
    """blkid reports ceph_bluestore without a uuid: discovery reads the OSD's uuid from the label itself (a restore
    matches the OSDs of its backup before Ceph is installed); a garbled label leaves it unknown."""
    osd = str(uuid.uuid4())
    label = sparse_image(tmp_path, 64 * MIB, [(0, b"bluestore block device\n" + osd.encode() + b"\n")])
    root = data_node(tmp_path, fs="ceph_bluestore").finish()
    disk = next(d for d in discover_disks(root, probe=ImageProbe({"sdb": label})) if d["name"] == "sdb")
    assert disk["ceph_osd"]["osd_fsid"] == osd
    assert [(d["action"], d["osd_fsid"]) for d in select_osd_devices([disk], {})["devices"]] == [("adopt", osd)]
    garbled = sparse_image(tmp_path, 64 * MIB, [(0, b"bluestore block device\nnot-a-uuid")], name="bad.img")
    disk = next(d for d in discover_disks(root, probe=ImageProbe({"sdb": garbled})) if d["name"] == "sdb")
    assert disk["ceph_osd"]["osd_fsid"] is None
