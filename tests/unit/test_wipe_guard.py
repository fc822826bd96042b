"""The wipe guard against captured machines (tests/unit/fixtures/<machine>) and trees built at test time.

Plans come from the real planner (select_osd_devices) run on what discovery saw then; the guard then looks at
the node as it is now, which a test may have changed in between (a filesystem written, a disk swapped).
"""

from __future__ import annotations

import errno
import json
import os
from pathlib import Path

import pytest
import treebuilder
from ansible_collections.ciab.box.plugins.module_utils.disks import discover_disks
from ansible_collections.ciab.box.plugins.module_utils.plan.osd import select_osd_devices
from ansible_collections.ciab.box.plugins.module_utils.sysfs import CapturedRunner, CommandResult, LiveRunner
from ansible_collections.ciab.box.plugins.module_utils.wipe_guard import (
    CEPH_BLOCK_TYPECODE,
    GuardError,
    bluestore_label,
    check_device,
    orphan_osds,
    plan_entry,
    wipe,
    zap,
    zap_decision,
)
from treebuilder import GIB, MIB, Part

FIXTURES = Path(__file__).parent / "fixtures"
FSID = "5d9b8a2e-1c3f-4e7a-9b6d-0f2e4c6a8b1d"
OTHER_FSID = "0c1d2e3f-4a5b-4c6d-8e7f-9a0b1c2d3e4f"
OSD_UUID = "8b25b3e6-4907-45fe-a9f0-73f83ad7cd35"
DATA_WWN = "0x5000c500deadbeef"
DATA_BY_ID = f"/dev/disk/by-id/wwn-{DATA_WWN}"
DATA_SERIAL = "ZC1DATA01"
SANDBOX_POLICY = {"include_loop": True, "transports": ["loop"], "min_size_bytes": "10G"}


def plan_of(root, policy=None):
    """The planner's osd.devices for the node under ``root``, as playbooks/plan.yml would write them."""
    return select_osd_devices(discover_disks(root, include_loop=True), policy or {})["devices"]


def with_backing_files(devices, root):
    """Plan entries as the planner writes them: loop devices carry the backing file discovery reported."""
    for entry in devices:
        if entry["transport"] == "loop":
            backing = Path(root, f"sys/block/{entry['name']}/loop/backing_file").read_text().strip()
            assert entry["loop_backing_file"] == backing
    return devices


def without_backing_files(devices):
    """A plan written before discovery reported loop backing files."""
    return [{k: v for k, v in entry.items() if k != "loop_backing_file"} for entry in devices]


def refuse(*args, **kwargs):
    with pytest.raises(GuardError) as err:
        check_device(*args, **kwargs)
    return str(err.value)


class Recorder:
    """Captured outputs for what was captured, rc 0 for anything else; notes every argv."""

    def __init__(self, root, fail=None):
        self.inner = CapturedRunner(str(root))
        self.calls = []
        self.fail = fail or {}

    def run(self, argv):
        self.calls.append(argv)
        if argv[0] in self.fail:
            return self.fail[argv[0]]
        result = self.inner.run(argv)
        return result if result.rc != 127 else CommandResult(0, "", "")


# -- the machine this runs on: a real capture with the sandbox's two loop files -----------------------
VM = FIXTURES / "vm-firecracker-virtio"


def test_clean_sandbox_loops_are_prepared():
    plan = with_backing_files(plan_of(VM, SANDBOX_POLICY), VM)
    assert [e["path"] for e in plan][:2] == ["/dev/loop0", "/dev/loop1"]
    decision = check_device("/dev/loop0", plan, FSID, root=VM)
    assert decision == {
        "device": "/dev/loop0",
        "disk": "/dev/loop0",
        "size_bytes": 20 << 30,
        "action": "prepare",
        "identity": {"by_id": None, "serial": None, "loop_backing_file": "/var/lib/ciab/sandbox/osd-a.img"},
        "found": [],
        "findings": [],
        "wipe": [],
        "osd": None,
        "partition": None,
        "purge_osd": None,
        "notes": [],
    }


def test_device_not_in_the_plan_is_refused():
    plan = with_backing_files(plan_of(VM, SANDBOX_POLICY), VM)
    msg = refuse("/dev/vda", plan, FSID, root=VM)
    assert msg.startswith("/dev/vda is not in the plan (ceph_osd_devices lists /dev/loop0, /dev/loop1")
    assert "nothing was written" in msg
    assert "nothing" in refuse("/dev/loop0", [], FSID, root=VM)


def test_loop_identity_is_its_backing_file():
    plan = without_backing_files(plan_of(VM, SANDBOX_POLICY))
    msg = refuse("/dev/loop1", plan, FSID, root=VM)
    assert "/dev/loop1" in msg
    assert "records none (now /var/lib/ciab/sandbox/osd-b.img)" in msg
    assert "loop_backing_file" in msg
    moved = [{**e, "loop_backing_file": "/var/lib/ciab/sandbox/osd-a.img"} for e in plan]
    msg = refuse("/dev/loop1", moved, FSID, root=VM)
    assert "backed by /var/lib/ciab/sandbox/osd-b.img, the plan says /var/lib/ciab/sandbox/osd-a.img" in msg


def test_a_loop_backing_file_reported_by_discovery_is_used(monkeypatch):
    real = discover_disks

    def reporting(*args, **kwargs):
        return [
            {**d, "loop_backing_file": "/srv/other.img"} if d["transport"] == "loop" else d
            for d in real(*args, **kwargs)
        ]

    monkeypatch.setattr("ansible_collections.ciab.box.plugins.module_utils.wipe_guard.discover_disks", reporting)
    plan = with_backing_files(plan_of(VM, SANDBOX_POLICY), VM)
    assert "backed by /srv/other.img" in refuse("/dev/loop0", plan, FSID, root=VM)


def test_empty_cluster_fsid_is_refused():
    plan = with_backing_files(plan_of(VM, SANDBOX_POLICY), VM)
    assert "cluster_fsid is empty" in refuse("/dev/loop0", plan, "", root=VM)


def test_plan_must_be_a_list_of_dicts():
    with pytest.raises(GuardError, match="must be a list"):
        plan_entry("/dev/sdb", "/dev/sdb")
    with pytest.raises(GuardError, match="entries must be dicts"):
        plan_entry("/dev/sdb", ["/dev/sdb"])


# -- the reference box: a whole NVMe and free space at the end of the system NVMe ---------------------
REFBOX = FIXTURES / "refbox-epyc-2xnvme"


def test_reference_box_second_nvme_is_prepared_by_its_by_id():
    plan = plan_of(REFBOX)
    entry = next(e for e in plan if e["name"] == "nvme1n1")
    assert entry["action"] == "prepare"
    for name in (entry["path"], entry["by_id"], entry["name"]):
        decision = check_device(name, plan, FSID, root=REFBOX)
        assert (decision["action"], decision["device"]) == ("prepare", "/dev/nvme1n1")
        assert decision["identity"]["serial"] == "S64FNE0R800102"
        assert decision["identity"]["by_id"] == entry["by_id"]


def test_reference_box_system_disk_gets_a_new_partition():
    plan = plan_of(REFBOX)
    entry = next(e for e in plan if e["action"] == "create_partition")
    decision = check_device(entry["path"], plan, FSID, root=REFBOX)
    assert decision["action"] == "create_partition"
    assert decision["device"] == "/dev/nvme0n1p3"
    part = decision["partition"]
    assert part["disk"] == "/dev/nvme0n1"
    assert part["number"] == 3
    assert part["start_sector"] * 512 == entry["start_bytes"]
    assert (part["end_sector"] + 1) * 512 == entry["start_bytes"] + entry["size_bytes"]
    assert part["typecode"] == CEPH_BLOCK_TYPECODE
    # The planned partition path names the same entry.
    assert check_device("/dev/nvme0n1p3", plan, FSID, root=REFBOX)["action"] == "create_partition"


def test_new_partition_that_would_overlap_is_refused():
    plan = plan_of(REFBOX)
    entry = next(e for e in plan if e["action"] == "create_partition")
    overlapping = [{**entry, "start_bytes": 600 * MIB}]
    msg = refuse(entry["path"], overlapping, FSID, root=REFBOX)
    assert "refused to create partition 3 on /dev/nvme0n1: it would overlap partition nvme0n1p2" in msg


# -- built trees: the node changed after the plan was made -------------------------------------------
def node(tmp_path, name, data_disk="sdb", system=True, **data):
    """A node with a system SATA disk (sda) and one SAS data disk in the state ``data`` describes."""
    tree = treebuilder.Tree(tmp_path / name)
    if system:
        tree.scsi(
            "sda",
            "sata",
            0,
            "pci0000:00/0000:00:17.0",
            64 * GIB // 512,
            model="SYSTEM SSD",
            serial="SYS0001",
            pttype="gpt",
            partitions=[Part(1, 1, 512, "vfat", "/boot/efi"), Part(2, 513, 60000, "ext4", "/")],
        )
    extra = {k: data.pop(k) for k in ("label", "other") if k in data}
    host = {"sdb": 1, "sdc": 2}[data_disk]
    tree.scsi(
        data_disk,
        "sas",
        host,
        "pci0000:00/0000:00:10.0",
        data.pop("sectors", 100 * GIB // 512),
        vendor="SEAGATE",
        model="ST4000NM0025",
        wwn=data.pop("wwn", DATA_WWN),
        serial=data.pop("serial", DATA_SERIAL),
        **data,
    )
    if "other" in extra:  # another disk now answers to the old kernel name
        tree.scsi(
            "sdb", "sas", 1, "pci0000:00/0000:00:10.0", 100 * GIB // 512, wwn="0x5000c50000000bbb", serial="OTHER"
        )
    if "label" in extra:
        argv = ["ceph-bluestore-tool", "show-label", "--dev", f"/dev/{data_disk}"]
        tree.command(argv, extra["label"] if isinstance(extra["label"], str) else json.dumps(extra["label"]))
    return tree


def label(device="/dev/sdb", fsid=FSID, osd_id=3, mkfs_done=True):
    """A BlueStore label as ceph-bluestore-tool show-label prints it (mkfs writes mkfs_done and ready last)."""
    done = {"mkfs_done": "yes", "ready": "ready"} if mkfs_done else {}
    fields = {"osd_uuid": OSD_UUID, "size": 100 * GIB, "description": "main", "ceph_fsid": fsid}
    return {device: {**fields, "whoami": str(osd_id), **done}}


@pytest.fixture
def plan(tmp_path):
    """The plan made while the data disk was empty."""
    root = node(tmp_path, "then").finish()
    devices = plan_of(root)
    assert [(e["path"], e["by_id"], e["serial"], e["action"]) for e in devices] == [
        ("/dev/sdb", DATA_BY_ID, DATA_SERIAL, "prepare")
    ]
    return devices


def test_filesystem_written_since_the_plan_is_refused_and_named(tmp_path, plan):
    now = node(tmp_path, "now", fs="ext4").finish()
    msg = refuse("/dev/sdb", plan, FSID, root=now)
    assert msg.startswith(f"refused /dev/sdb (serial {DATA_SERIAL}), found: carries ext4 filesystem signature.")
    assert "Nothing was written" in msg
    assert f"add '{DATA_SERIAL}' to ceph_allow_wipe" in msg


@pytest.mark.parametrize("key", [DATA_SERIAL, DATA_BY_ID, f"wwn-{DATA_WWN}"])
def test_allow_wipe_by_serial_or_by_id(tmp_path, plan, key):
    now = node(tmp_path, "now", fs="xfs").finish()
    decision = check_device("/dev/sdb", plan, FSID, allow_wipe=[key], root=now)
    assert decision["action"] == "wipe_then_prepare"
    assert decision["found"] == ["carries xfs filesystem signature"]
    assert [(f["code"], f["kind"]) for f in decision["findings"]] == [("fs_signature", "data")]
    assert decision["wipe"] == ["/dev/sdb"]


def test_allow_wipe_never_matches_a_kernel_name(tmp_path, plan):
    now = node(tmp_path, "now", fs="ext4").finish()
    assert "add 'ZC1DATA01' to ceph_allow_wipe" in refuse(
        "/dev/sdb", plan, FSID, allow_wipe=["sdb", "/dev/sdb"], root=now
    )


def test_partition_table_and_partitions_are_wiped_partitions_first(tmp_path, plan):
    parts = [Part(1, 1, 1024, "ext4"), Part(2, 1025, 1024)]
    now = node(tmp_path, "now", pttype="gpt", partitions=parts).finish()
    msg = refuse("/dev/sdb", plan, FSID, root=now)
    assert "found: has a partition table (gpt) with sdb1 (ext4), sdb2." in msg
    decision = check_device("/dev/sdb", plan, FSID, allow_wipe=[DATA_SERIAL], root=now)
    assert decision["wipe"] == ["/dev/sdb1", "/dev/sdb2", "/dev/sdb"]


def test_mounted_disk_is_never_wiped(tmp_path, plan):
    now = node(tmp_path, "now", fs="ext4", mount="/srv/data").finish()
    msg = refuse("/dev/sdb", plan, FSID, allow_wipe=[DATA_SERIAL], root=now)
    assert "has mounted filesystem on sdb (/srv/data)" in msg
    assert (
        "It is in use, and the guard never wipes a disk in use (being listed in ceph_allow_wipe does not change "
        "that): free it first (unmount it (findmnt /dev/sdb))" in msg
    )


def test_lvm_physical_volume_in_use_is_never_wiped(tmp_path, plan):
    tree = node(tmp_path, "now", fs="LVM2_member")
    tree.stacked(
        "dm-0", ["sdb"], 10 * GIB // 512, dm_name="vg-data", dm_uuid="LVM-xyz", mount="/var/lib/data", fs="xfs"
    )
    msg = refuse("/dev/sdb", plan, FSID, allow_wipe=[DATA_SERIAL], root=tree.finish())
    assert "is held by LVM logical volume dm-0 (sdb)" in msg
    assert "is an LVM physical volume" in msg
    assert "stop what is built on it (lsblk /dev/sdb; vgchange -an, dmsetup remove, mdadm --stop)" in msg


def test_unused_lvm_signature_may_be_wiped(tmp_path, plan):
    now = node(tmp_path, "now", fs="LVM2_member").finish()
    decision = check_device("/dev/sdb", plan, FSID, allow_wipe=[DATA_SERIAL], root=now)
    assert decision["action"] == "wipe_then_prepare"


def test_read_only_disk_is_refused(tmp_path, plan):
    now = node(tmp_path, "now", ro=True).finish()
    msg = refuse("/dev/sdb", plan, FSID, allow_wipe=[DATA_SERIAL], root=now)
    assert "found: is read-only." in msg
    assert "ceph_allow_wipe cannot help here: make it writable (blockdev --setrw /dev/sdb" in msg
    assert "free it first" not in msg


def test_replaced_disk_is_refused(tmp_path, plan):
    now = node(tmp_path, "now", wwn="0x5000c50000000ccc", serial="NEWDISK").finish()
    msg = refuse("/dev/sdb", plan, FSID, allow_wipe=["NEWDISK"], root=now)
    assert f"its plan identity {DATA_BY_ID} no longer exists" in msg


def test_serial_that_no_longer_matches_is_refused(tmp_path, plan):
    now = node(tmp_path, "now").finish()
    stale = [{**plan[0], "serial": "SOMETHING-ELSE"}]
    msg = refuse("/dev/sdb", stale, FSID, root=now)
    assert f"serial '{DATA_SERIAL}' is not the planned 'SOMETHING-ELSE'" in msg


def test_entry_without_identity_is_refused(tmp_path, plan):
    now = node(tmp_path, "now").finish()
    anonymous = [{**plan[0], "by_id": None, "serial": None}]
    assert "neither a /dev/disk/by-id path nor a serial" in refuse("/dev/sdb", anonymous, FSID, root=now)


def test_entry_found_by_serial_when_it_has_no_by_id(tmp_path, plan):
    now = node(tmp_path, "now").finish()
    serial_only = [{**plan[0], "by_id": None}]
    assert check_device("/dev/sdb", serial_only, FSID, root=now)["action"] == "prepare"


def test_size_change_is_refused(tmp_path, plan):
    now = node(tmp_path, "now", sectors=50 * GIB // 512).finish()
    assert f"its size is {50 * GIB} bytes, the plan says {100 * GIB}" in refuse("/dev/sdb", plan, FSID, root=now)


def test_moved_kernel_name_is_followed_through_by_id(tmp_path, plan):
    now = node(tmp_path, "now", data_disk="sdc", other=True).finish()
    decision = check_device("/dev/sdb", plan, FSID, root=now)
    assert (decision["action"], decision["device"]) == ("prepare", "/dev/sdc")
    assert decision["notes"] == [f"kernel name changed from sdb to sdc since the plan (followed {DATA_BY_ID})"]


# -- existing BlueStore OSDs -----------------------------------------------------------------------
def test_osd_of_this_cluster_is_adopted_even_when_listed(tmp_path, plan):
    now = node(tmp_path, "now", fs="ceph_bluestore", label=label()).finish()
    for allow in ([], [DATA_SERIAL]):
        decision = check_device("/dev/sdb", plan, FSID, allow_wipe=allow, root=now)
        assert decision["action"] == "adopt"
        assert decision["osd"] == {"osd_id": 3, "osd_fsid": OSD_UUID, "cluster_fsid": FSID, "mkfs_done": True}
        assert decision["found"] == [f"BlueStore OSD osd.3 (osd fsid {OSD_UUID}) of this cluster"]
        assert (decision["wipe"], decision["purge_osd"]) == ([], None)


def test_osd_of_this_cluster_whose_mkfs_never_finished_is_wiped_and_its_id_purged(tmp_path, plan):
    """A prepare stopped during mkfs: the label is ours and in the map, mkfs_done is missing: no data ever was."""
    now = node(tmp_path, "now", fs="ceph_bluestore", label=label(mkfs_done=False)).finish()
    decision = check_device("/dev/sdb", plan, FSID, cluster_osds=[OSD_UUID], root=now)  # not in allow_wipe
    assert (decision["action"], decision["purge_osd"], decision["wipe"]) == ("wipe_then_prepare", 3, ["/dev/sdb"])
    assert decision["found"] == [
        f"BlueStore OSD osd.3 (osd fsid {OSD_UUID}) of this cluster whose mkfs never finished (an interrupted prepare)"
    ]
    assert [f["code"] for f in decision["findings"]] == ["ceph_osd_unfinished"]
    runner = Recorder(now)
    wipe(decision, runner)
    assert runner.calls[0] == ["wipefs", "--all", "--force", "/dev/sdb"]


def test_unfinished_osd_not_in_the_map_or_of_another_cluster_is_still_refused(tmp_path, plan):
    now = node(tmp_path, "now", fs="ceph_bluestore", label=label(mkfs_done=False)).finish()
    msg = refuse("/dev/sdb", plan, FSID, cluster_osds=["other"], root=now)
    assert "missing from its OSD map" in msg and "add 'ZC1DATA01' to ceph_allow_wipe" in msg
    other = node(tmp_path, "other", fs="ceph_bluestore", label=label(fsid=OTHER_FSID, mkfs_done=False)).finish()
    assert f"of another cluster (fsid {OTHER_FSID})" in refuse("/dev/sdb", plan, FSID, root=other)


def test_osd_of_another_cluster_is_refused_unless_listed(tmp_path, plan):
    now = node(tmp_path, "now", fs="ceph_bluestore", label=label(fsid=OTHER_FSID)).finish()
    msg = refuse("/dev/sdb", plan, FSID, root=now)
    assert f"found: BlueStore OSD osd.3 (osd fsid {OSD_UUID}) of another cluster (fsid {OTHER_FSID})" in msg
    assert "ceph_allow_wipe" in msg
    decision = check_device("/dev/sdb", plan, FSID, allow_wipe=[DATA_SERIAL], root=now)
    assert decision["action"] == "wipe_then_prepare"


def test_osd_missing_from_the_osd_map_is_not_adopted(tmp_path, plan):
    now = node(tmp_path, "now", fs="ceph_bluestore", label=label()).finish()
    known = check_device("/dev/sdb", plan, FSID, cluster_osds=[OSD_UUID, "other"], root=now)
    assert known["action"] == "adopt"
    msg = refuse("/dev/sdb", plan, FSID, cluster_osds=["other"], root=now)
    assert "labelled with this cluster's fsid but missing from its OSD map (were the monitors made anew?)" in msg
    assert f"add '{DATA_SERIAL}' to ceph_allow_wipe" in msg
    decision = check_device("/dev/sdb", plan, FSID, cluster_osds=[], allow_wipe=[DATA_SERIAL], root=now)
    assert decision["action"] == "wipe_then_prepare"


def test_unreadable_bluestore_label_fails_closed(tmp_path, plan):
    now = node(tmp_path, "now", fs="ceph_bluestore").finish()  # ceph-bluestore-tool output not captured: rc 127
    msg = refuse("/dev/sdb", plan, FSID, root=now)
    assert "a BlueStore signature whose label cannot be read (ceph-bluestore-tool show-label rc=127:" in msg


def test_bluestore_label_parsing():
    ok = CommandResult(0, json.dumps(label("/dev/vdb", osd_id=7)), "")
    garbage = CommandResult(0, "{not json", "")
    failed = CommandResult(1, "", "unable to read label for /dev/vdb: (2) No such file or directory\n")
    for result, expected in (
        (ok, ({"osd_id": 7, "osd_fsid": OSD_UUID, "cluster_fsid": FSID, "mkfs_done": True}, None)),
        (
            failed,
            (
                None,
                "ceph-bluestore-tool show-label rc=1: unable to read label for /dev/vdb: (2) No such file or directory",
            ),
        ),
    ):
        assert bluestore_label("/dev/vdb", type("R", (), {"run": lambda self, argv, r=result: r})()) == expected
    osd, error = bluestore_label("/dev/vdb", type("R", (), {"run": lambda self, argv: garbage})())
    assert osd is None
    assert error.startswith("ceph-bluestore-tool show-label printed no usable label (JSONDecodeError")


def test_missing_ceph_bluestore_tool_in_live_mode(monkeypatch):
    monkeypatch.setenv("PATH", "/nonexistent")
    monkeypatch.setattr("ansible_collections.ciab.box.plugins.module_utils.sysfs.SBIN_DIRS", ())
    assert bluestore_label("/dev/vdb", LiveRunner()) == (
        None,
        "ceph-bluestore-tool show-label rc=127: ceph-bluestore-tool: command not found",
    )


# -- without udev (containers): signatures from blkid, and blkid failing ------------------------------
@pytest.fixture
def container(tmp_path):
    return treebuilder.build(treebuilder.container_virtio, tmp_path / "container")


def test_blkid_signature_is_seen_without_udev(container):
    plan = [{"name": "vdc", "path": "/dev/vdc", "by_id": "/dev/disk/by-id/virtio-old-data", "serial": "old-data"}]
    assert "found: carries ext4 filesystem signature" in refuse("/dev/vdc", plan, FSID, root=container)


def test_failing_blkid_fails_closed(container):
    plan = plan_of(container)
    entry = next(e for e in plan if e["name"] == "vdb")
    runner = Recorder(container, fail={"blkid": CommandResult(1, "", "blkid: error: /dev/vdb: Input/output error\n")})
    msg = refuse(entry["path"], plan, FSID, root=container, runner=runner)
    assert "refused /dev/vdb (serial osd-1), found: could not probe signatures (blkid rc=1:" in msg
    assert "ceph_allow_wipe cannot help here: look at it yourself (blkid -p /dev/vdb; wipefs -n /dev/vdb)" in msg


def test_missing_blkid_fails_closed(container, tmp_path):
    plan = plan_of(container)
    empty = tmp_path / "no-commands"
    empty.mkdir()
    msg = refuse("/dev/vdb", plan, FSID, root=container, runner=CapturedRunner(str(empty)))
    assert "could not probe signatures (blkid rc=127" in msg


# -- wiping --------------------------------------------------------------------------------------------
def test_wipe_runs_wipefs_partitions_first_then_zeroes_the_disk(tmp_path, plan):
    now = node(tmp_path, "now", pttype="gpt", partitions=[Part(1, 1, 1024, "ext4")]).finish()
    decision = check_device("/dev/sdb", plan, FSID, allow_wipe=[DATA_SERIAL], root=now)
    runner = Recorder(now)
    done = wipe(decision, runner)
    assert done == [
        "wipefs --all --force /dev/sdb1",
        "wipefs --all --force /dev/sdb",
        "dd if=/dev/zero of=/dev/sdb bs=1M count=10 oflag=direct conv=fsync status=none",
        # the backup GPT in the last MiB
        f"dd if=/dev/zero of=/dev/sdb bs=1M count=1 seek={100 * GIB - MIB} oflag=direct,seek_bytes conv=fsync "
        "status=none",
    ]
    assert runner.calls[-1] == ["udevadm", "settle", "--timeout=10"]


def test_failing_wipe_names_the_command(tmp_path, plan):
    now = node(tmp_path, "now", fs="ext4").finish()
    decision = check_device("/dev/sdb", plan, FSID, allow_wipe=[DATA_SERIAL], root=now)
    runner = Recorder(
        now, fail={"wipefs": CommandResult(1, "", "wipefs: error: /dev/sdb: probing initialization failed\n")}
    )
    with pytest.raises(GuardError) as err:
        wipe(decision, runner)
    assert "wiping /dev/sdb failed at 'wipefs --all --force /dev/sdb' (rc=1)" in str(err.value)
    assert err.value.rc == 1
    assert "probing initialization failed" in err.value.stderr
    assert not any(argv[0] == "dd" for argv in runner.calls)


def test_missing_wipefs_is_an_error_not_a_traceback(tmp_path, plan, monkeypatch):
    now = node(tmp_path, "now", fs="ext4").finish()
    decision = check_device("/dev/sdb", plan, FSID, allow_wipe=[DATA_SERIAL], root=now)
    monkeypatch.setenv("PATH", "/nonexistent")
    monkeypatch.setattr("ansible_collections.ciab.box.plugins.module_utils.sysfs.SBIN_DIRS", ())
    with pytest.raises(GuardError) as err:
        wipe(decision, LiveRunner())
    assert err.value.rc == 127
    assert "wipefs: command not found" in err.value.stderr


def test_wipe_refuses_a_decision_that_is_not_a_wipe(tmp_path, plan):
    now = node(tmp_path, "now").finish()
    decision = check_device("/dev/sdb", plan, FSID, root=now)
    with pytest.raises(GuardError, match="did not decide to wipe"):
        wipe(decision, Recorder(now))


# -- destroy: only this cluster's OSDs are zapped ------------------------------------------------------------
class BusyProbe:
    """Devices read as zeros; ``busy`` ones cannot be opened exclusively (a running OSD holds them)."""

    def __init__(self, busy=()):
        self.busy = set(busy)

    def exclusive(self, path):
        return OSError(errno.EBUSY, os.strerror(errno.EBUSY), path) if path in self.busy else None

    def read(self, path, offset, length):
        return bytes(length)


def test_destroy_zaps_an_osd_of_this_cluster_discarding_the_whole_device(tmp_path, plan):
    now = node(tmp_path, "now", fs="ceph_bluestore", label=label()).finish()
    decision = zap_decision("/dev/sdb", plan, FSID, cluster_osds=[OSD_UUID], root=now, probe=BusyProbe())
    assert (decision["action"], decision["zap"]) == ("adopt", ["/dev/sdb"])
    runner = Recorder(now)
    assert zap(decision, runner) == ["wipefs --all --force /dev/sdb", "blkdiscard --force /dev/sdb"]
    assert runner.calls[-1] == ["udevadm", "settle", "--timeout=10"]


def test_destroy_zeroes_the_start_where_the_device_cannot_discard(tmp_path, plan):
    now = node(tmp_path, "now", fs="ceph_bluestore", label=label(mkfs_done=False)).finish()
    decision = zap_decision("/dev/sdb", plan, FSID, cluster_osds=[OSD_UUID], root=now)
    assert (decision["purge_osd"], decision["zap"]) == (3, ["/dev/sdb"])  # an interrupted prepare is ours too
    runner = Recorder(now, fail={"blkdiscard": CommandResult(1, "", "blkdiscard: Operation not supported\n")})
    assert zap(decision, runner)[1] == "dd if=/dev/zero of=/dev/sdb bs=1M count=10 oflag=direct conv=fsync status=none"


def test_destroy_reports_a_failing_zap(tmp_path, plan):
    now = node(tmp_path, "now", fs="ceph_bluestore", label=label()).finish()
    decision = zap_decision("/dev/sdb", plan, FSID, cluster_osds=[OSD_UUID], root=now)
    runner = Recorder(now, fail={"wipefs": CommandResult(1, "", "wipefs: error\n")})
    with pytest.raises(GuardError, match=r"zapping /dev/sdb failed at 'wipefs --all --force /dev/sdb' \(rc=1\)"):
        zap(decision, runner)
    assert not any(argv[0] in ("blkdiscard", "dd") for argv in runner.calls)


def test_destroy_leaves_a_blank_device_alone(tmp_path, plan):
    now = node(tmp_path, "now").finish()
    decision = zap_decision("/dev/sdb", plan, FSID, cluster_osds=[OSD_UUID], root=now)
    assert (decision["action"], decision["zap"]) == ("prepare", [])
    with pytest.raises(GuardError, match="not an OSD of this cluster"):
        zap(decision, Recorder(now))


@pytest.mark.parametrize(
    ("state", "osds", "why"),
    [
        ({"fs": "ceph_bluestore", "label": label(fsid=OTHER_FSID)}, [OSD_UUID], "of another cluster"),
        ({"fs": "ceph_bluestore", "label": label()}, ["other"], "missing from its OSD map"),
        ({"fs": "ceph_bluestore", "label": label()}, [], "the cluster's OSD map lists no OSD"),
        ({"fs": "ext4"}, [OSD_UUID], "ext4"),
    ],
)
def test_destroy_never_wipes_what_is_not_provably_this_clusters_osd(tmp_path, plan, state, osds, why):
    now = node(tmp_path, "now", **state).finish()
    with pytest.raises(GuardError, match=why):
        zap_decision("/dev/sdb", plan, FSID, cluster_osds=osds, root=now)


def test_destroy_refuses_an_osd_still_running(tmp_path, plan):
    now = node(tmp_path, "now", fs="ceph_bluestore", label=label()).finish()
    with pytest.raises(GuardError, match=r"/dev/sdb is in use: .*Stop its OSD \(osd.3\) first"):
        zap_decision("/dev/sdb", plan, FSID, cluster_osds=[OSD_UUID], root=now, probe=BusyProbe({"/dev/sdb"}))


def test_destroy_of_a_device_outside_the_plan_is_refused(tmp_path, plan):
    now = node(tmp_path, "now", fs="ceph_bluestore", label=label()).finish()
    with pytest.raises(GuardError, match="/dev/sda is not in the plan"):
        zap_decision("/dev/sda", plan, FSID, cluster_osds=[OSD_UUID], root=now)


# -- OSD ids of prepares stopped before the label (captured: `ceph osd new` with no prepare after it) ---------
CEPH = FIXTURES / "ceph"


def test_orphan_osds_are_the_new_never_started_ones_on_no_device():
    osds = json.loads((CEPH / "osd-dump-interrupted-prepare.json").read_text())["osds"]
    labelled = list(json.loads((CEPH / "raw-list.json").read_text()))  # the node's two running OSDs
    orphan = {"osd_id": 2, "osd_uuid": "0e8392ea-f60e-4892-9ccd-071c2a1e1d5f"}
    assert orphan_osds(osds, labelled) == [orphan]
    # its label on a device (mkfs started): not an orphan; the guard finishes or wipes that device
    assert orphan_osds(osds, [*labelled, orphan["osd_uuid"]]) == []
    # an OSD that ever started is never one, whether or not its device is seen (another node's, a pulled disk)
    assert orphan_osds(osds, []) == [orphan]
    assert orphan_osds([], labelled) == []


def test_orphan_osds_wants_the_osd_list():
    with pytest.raises(GuardError, match="wants the osds list of 'ceph osd dump', got dict"):
        orphan_osds({"osds": []}, [])
