"""select_osd_devices: which disks become OSDs, with what action, and why the others do not."""

from __future__ import annotations

import pathlib

import pytest
from ansible_collections.ciab.box.plugins.module_utils.disks import discover_disks
from ansible_collections.ciab.box.plugins.module_utils.plan import PlanError
from ansible_collections.ciab.box.plugins.module_utils.plan.osd import select_osd_devices
from plan_facts import (
    GB,
    GIB,
    MIB,
    NVME_1TB,
    REF_FREE_BYTES,
    REFERENCE_BOX_DISKS,
    SATA_SERVER_DISKS,
    VM_DISKS,
    disk,
    fresh,
    part,
)


def by_name(entries):
    return {e["name"]: e for e in entries}


def test_reference_box_uses_both_nvme():
    plan = select_osd_devices(fresh(REFERENCE_BOX_DISKS), {})
    assert [(d["name"], d["action"]) for d in plan["devices"]] == [
        ("nvme0n1", "create_partition"),
        ("nvme1n1", "prepare"),
    ]
    assert plan["rejected"] == []
    assert plan["warnings"] == []
    new = plan["devices"][0]
    assert new["by_id"] == "/dev/disk/by-id/nvme-eui.0025385b11b0a2c0"
    assert new["serial"] == "S5GXNG0N100001"
    assert new["partition_number"] == 4
    assert new["partition_name"] == "nvme0n1p4"
    assert new["start_bytes"] == 1537 * MIB + 280 * GIB  # right after nvme0n1p3, already 1 MiB aligned
    assert new["start_bytes"] % MIB == 0
    assert new["size_bytes"] == REF_FREE_BYTES
    assert new["size_bytes"] > 690 * GB
    assert new["start_bytes"] + new["size_bytes"] <= NVME_1TB - MIB  # clear of the GPT backup header
    assert new["disk_size_bytes"] == NVME_1TB
    whole = plan["devices"][1]
    assert whole == {
        "name": "nvme1n1",
        "path": "/dev/nvme1n1",
        "by_id": "/dev/disk/by-id/nvme-eui.0025385b11b0a2c1",
        "serial": "S5GXNG0N100002",
        "model": "MODEL",
        "transport": "nvme",
        "rotational": False,
        "size_bytes": NVME_1TB,
        "action": "prepare",
    }


def test_policy_none_is_the_default_policy():
    assert select_osd_devices(fresh(REFERENCE_BOX_DISKS), None) == select_osd_devices(fresh(REFERENCE_BOX_DISKS), {})


def test_system_disk_free_space_can_be_turned_off():
    plan = select_osd_devices(fresh(REFERENCE_BOX_DISKS), {"use_system_disk_free_space": "no"})
    assert [d["name"] for d in plan["devices"]] == ["nvme1n1"]
    reasons = plan["rejected"][0]["reasons"]
    assert "has mounted filesystem on nvme0n1p3 (/)" in reasons
    assert "system disk and ciab_osd_policy.use_system_disk_free_space is false" in reasons


def test_system_disk_free_space_below_min_partition_bytes():
    plan = select_osd_devices(fresh(REFERENCE_BOX_DISKS), {"min_partition_bytes": "800G"})
    assert [d["name"] for d in plan["devices"]] == ["nvme1n1"]
    assert (
        "system disk: free space at the end (650.0 GiB) smaller than ciab_osd_policy.min_partition_bytes (800.0 GiB)"
        in plan["rejected"][0]["reasons"]
    )


def test_system_disk_needs_gpt_for_a_new_partition():
    disks = fresh(REFERENCE_BOX_DISKS)
    disks[0]["part_table"] = "dos"
    plan = select_osd_devices(disks, {})
    assert "system disk: partition table is dos, a new OSD partition needs gpt" in plan["rejected"][0]["reasons"]


def test_system_disk_with_existing_bluestore_partition_is_adopted_not_repartitioned():
    disks = fresh(REFERENCE_BOX_DISKS)
    disks[0]["partitions"].append(part("nvme0n1", 4, 1537 * MIB + 280 * GIB, 600 * GIB, fs_type="ceph_bluestore"))
    plan = select_osd_devices(disks, {})
    adopted = plan["devices"][0]
    assert (adopted["name"], adopted["action"], adopted["disk"]) == ("nvme0n1p4", "adopt", "nvme0n1")
    assert adopted["path"] == "/dev/nvme0n1p4"
    assert adopted["size_bytes"] == 600 * GIB
    assert [d["action"] for d in plan["devices"]] == ["adopt", "prepare"]


def test_system_disk_with_lvm_osd_is_adopted_by_osd_fsid():
    disks = fresh(REFERENCE_BOX_DISKS)
    disks[0]["ceph_osd"] = {"osd_fsid": "7d9c-osd", "cluster_fsid": None}
    plan = select_osd_devices(disks, {})
    assert plan["devices"][0]["action"] == "adopt"
    assert plan["devices"][0]["osd_fsid"] == "7d9c-osd"


def test_sata_server():
    plan = select_osd_devices(fresh(SATA_SERVER_DISKS), {})
    assert [(d["name"], d["action"]) for d in plan["devices"]] == [("sdb", "prepare")]
    rejected = by_name(plan["rejected"])
    assert sorted(rejected) == ["sda", "sdc", "sdd"]
    assert (
        "system disk: free space at the end (0 B) smaller than ciab_osd_policy.min_partition_bytes (50.0 GiB)"
        in (rejected["sda"]["reasons"])
    )
    assert rejected["sdc"]["reasons"] == ["carries ext4 filesystem signature"]
    assert rejected["sdc"]["hint"] == (
        "to use it as an OSD, add 'ZC1000XY' to ciab_osd_policy.allow_wipe (this destroys its data)"
    )
    assert rejected["sdd"]["reasons"] == [
        "is removable (usb)",
        "transport usb not in ciab_osd_policy.transports (nvme, sata, sas, virtio)",
        "size 29.8 GiB smaller than ciab_osd_policy.min_size_bytes (100.0 GiB)",
    ]
    assert "hint" not in rejected["sdd"]


def test_allow_wipe_turns_a_signature_only_disk_into_wipe_then_prepare():
    plan = select_osd_devices(fresh(SATA_SERVER_DISKS), {"allow_wipe": ["ZC1000XY"]})
    wiped = by_name(plan["devices"])["sdc"]
    assert wiped["action"] == "wipe_then_prepare"
    assert wiped["wipe_reasons"] == ["carries ext4 filesystem signature"]
    assert wiped["rotational"] is True


def test_allow_wipe_accepts_a_by_id_basename():
    plan = select_osd_devices(fresh(SATA_SERVER_DISKS), {"allow_wipe": ["sata-MODEL_ZC1000XY"]})
    assert by_name(plan["devices"])["sdc"]["action"] == "wipe_then_prepare"


def test_allow_wipe_never_wipes_the_system_disk():
    plan = select_osd_devices(fresh(SATA_SERVER_DISKS), {"allow_wipe": ["S4XXNA0M000001"]})
    sda = by_name(plan["rejected"])["sda"]
    assert "listed in ciab_osd_policy.allow_wipe, but the system disk is never wiped" in sda["reasons"]
    assert "sda" not in by_name(plan["devices"])


def test_allow_wipe_never_wipes_a_mounted_or_held_disk():
    disks = [
        disk(
            "sde",
            2000 * GB,
            transport="sata",
            serial="MOUNTED1",
            fs_type="xfs",
            mountpoints=["/srv"],
            eligible_for_osd=False,
            findings=[
                ("mounted", "has mounted filesystem on sde (/srv)"),
                ("fs_signature", "carries xfs filesystem signature"),
            ],
        ),
        disk(
            "sdf",
            2000 * GB,
            transport="sata",
            serial="HELD1",
            fs_type="LVM2_member",
            holders=[{"name": "dm-3", "kind": "lvm"}],
            eligible_for_osd=False,
            findings=[("held", "is held by LVM logical volume dm-3 (sdf)"), ("lvm_pv", "is an LVM physical volume")],
        ),
    ]
    plan = select_osd_devices(disks, {"allow_wipe": ["MOUNTED1", "HELD1"]})
    assert plan["devices"] == []
    sde, sdf = plan["rejected"]
    assert sde["reasons"][-1] == (
        "listed in ciab_osd_policy.allow_wipe but not wiped: it is in use (has mounted filesystem on sde (/srv))"
    )
    assert sdf["reasons"][-1] == (
        "listed in ciab_osd_policy.allow_wipe but not wiped: it is in use (is held by LVM logical volume dm-3 (sdf))"
    )
    # the decision is taken on codes: the same texts under a data code would be wiped
    assert [f["code"] for f in sde["findings"]] == ["mounted", "fs_signature"]
    assert sde["findings"][0]["kind"] == "in_use"


def test_allow_wipe_fails_closed_on_unknown_reasons():
    disks = [
        disk(
            "sdg",
            2000 * GB,
            transport="sata",
            serial="RAID1",
            eligible_for_osd=False,
            findings=[("probe_failed", "could not probe signatures (blkid rc=2: Operation not permitted)")],
        )
    ]
    plan = select_osd_devices(disks, {"allow_wipe": ["RAID1"]})
    assert plan["devices"] == []
    assert "wiping does not clear 'could not probe signatures" in plan["rejected"][0]["reasons"][-1]
    # allow_wipe cannot help: the hint names the tool instead
    assert plan["rejected"][0]["hint"] == (
        "allow_wipe cannot help: look at it yourself (blkid -p /dev/sdg; wipefs -n /dev/sdg) and run as root"
    )


def test_include_selects_only_the_listed_disks():
    plan = select_osd_devices(fresh(REFERENCE_BOX_DISKS), {"include": ["/dev/disk/by-id/nvme-eui.0025385b11b0a2c1"]})
    assert [d["name"] for d in plan["devices"]] == ["nvme1n1"]
    assert "not listed in ciab_osd_policy.include" in plan["rejected"][0]["reasons"]


def test_exclude_by_serial():
    plan = select_osd_devices(fresh(REFERENCE_BOX_DISKS), {"exclude": ["S5GXNG0N100002"]})
    assert [d["name"] for d in plan["devices"]] == ["nvme0n1"]
    assert by_name(plan["rejected"])["nvme1n1"]["reasons"] == ["listed in ciab_osd_policy.exclude"]


def test_kernel_names_are_refused_with_the_serial_to_use():
    with pytest.raises(PlanError) as err:
        select_osd_devices(fresh(REFERENCE_BOX_DISKS), {"exclude": ["/dev/nvme1n1"]})
    assert str(err.value) == (
        "ciab_osd_policy.exclude entry '/dev/nvme1n1' is a kernel name, which can change between boots; "
        "name nvme1n1 by its serial or by-id instead: 'S5GXNG0N100002'"
    )


def test_include_matching_no_disk_is_an_error_but_exclude_only_warns():
    with pytest.raises(PlanError, match=r"ciab_osd_policy.include entry 'NOPE' matches no disk .*S5GXNG0N100001"):
        select_osd_devices(fresh(REFERENCE_BOX_DISKS), {"include": ["NOPE"]})
    plan = select_osd_devices(fresh(REFERENCE_BOX_DISKS), {"exclude": ["NOPE"]})
    assert plan["warnings"] == ["ciab_osd_policy.exclude entry 'NOPE' matches no disk on the node"]
    assert len(plan["devices"]) == 2


def test_vm_disk_without_serial_or_by_id_is_rejected():
    plan = select_osd_devices(fresh(VM_DISKS), {})
    assert [(d["name"], d["action"]) for d in plan["devices"]] == [("vdc", "prepare")]
    vdb = by_name(plan["rejected"])["vdb"]
    assert vdb["reasons"] == [
        "has no serial and no /dev/disk/by-id link, so its identity would not survive a reboot "
        "(give the disk a serial, e.g. <serial> in libvirt)"
    ]
    assert vdb["by_id"] is None


def test_transports_and_sizes():
    plan = select_osd_devices(fresh(SATA_SERVER_DISKS), {"transports": ["nvme"]})
    assert plan["devices"] == []
    assert "transport sata not in ciab_osd_policy.transports (nvme)" in by_name(plan["rejected"])["sdb"]["reasons"]
    # 1T is a TiB (binary), 1TB is 10**12 bytes (SI): a "1 TB" NVMe is 931.5 GiB
    plan = select_osd_devices(fresh(REFERENCE_BOX_DISKS), {"min_size_bytes": "1T"})
    assert by_name(plan["rejected"])["nvme1n1"]["reasons"] == [
        "size 931.5 GiB smaller than ciab_osd_policy.min_size_bytes (1.0 TiB)"
    ]
    plan = select_osd_devices(fresh(REFERENCE_BOX_DISKS), {"min_size_bytes": "1TB"})
    assert [d["name"] for d in plan["devices"]] == ["nvme0n1", "nvme1n1"]


def test_existing_raw_bluestore_disk_is_adopted():
    osd = disk(
        "nvme2n1",
        NVME_1TB,
        serial="OSD1",
        fs_type="ceph_bluestore",
        ceph_osd={"osd_fsid": "0b7c-fsid", "cluster_fsid": None},
        eligible_for_osd=False,
        findings=[("ceph_osd", "already a Ceph OSD (osd_fsid 0b7c-fsid)")],
    )
    plan = select_osd_devices([osd], {})
    assert plan["devices"][0]["action"] == "adopt"
    assert plan["devices"][0]["osd_fsid"] == "0b7c-fsid"
    assert plan["devices"][0]["cluster_fsid"] is None


def test_existing_lvm_osd_is_adopted_but_not_wiped_while_held():
    osd = disk(
        "sdh",
        2000 * GB,
        transport="sas",
        serial="OSD2",
        fs_type="LVM2_member",
        holders=[{"name": "dm-5", "kind": "lvm"}],
        ceph_osd={"osd_fsid": "5e1d-fsid", "cluster_fsid": None},
        eligible_for_osd=False,
        findings=[
            ("held_by_osd", "is held by its Ceph OSD logical volume dm-5 (sdh)"),
            ("lvm_pv", "is an LVM physical volume"),
            ("ceph_osd", "already a Ceph OSD (osd_fsid 5e1d-fsid)"),
        ],
    )
    assert select_osd_devices([fresh(osd)], {})["devices"][0]["action"] == "adopt"
    plan = select_osd_devices([fresh(osd)], {"allow_wipe": ["OSD2"]})
    assert plan["devices"] == []
    assert plan["rejected"][0]["reasons"][-1] == (
        "listed in ciab_osd_policy.allow_wipe but not wiped: it is in use (is held by its Ceph OSD logical volume "
        "dm-5 (sdh))"
    )
    osd["holders"] = []
    osd["findings"] = osd["findings"][1:]
    plan = select_osd_devices([osd], {"allow_wipe": ["OSD2"]})
    assert plan["devices"][0]["action"] == "wipe_then_prepare"


def test_loop_devices_only_with_include_loop():
    loop = disk(
        "loop0",
        120 * GIB,
        transport="loop",
        serial=None,
        by_id=[],
        eligible_for_osd=False,
        findings=[("loop", "is a loop device")],
    )
    plan = select_osd_devices([fresh(loop)], {})
    assert plan["rejected"][0]["reasons"] == [
        "is a loop device",
        "loop devices need ciab_osd_policy.include_loop: true (sandbox and CI only)",
    ]
    loop["loop_backing_file"] = "/var/lib/ciab/osd0.img"
    plan = select_osd_devices([fresh(loop)], {"include_loop": True})
    assert plan["devices"][0]["action"] == "prepare"
    assert plan["devices"][0]["path"] == "/dev/loop0"
    assert plan["devices"][0]["loop_backing_file"] == "/var/lib/ciab/osd0.img"  # what the OSD guard checks
    plan = select_osd_devices([fresh(loop)], {"include_loop": True, "exclude": ["/var/lib/ciab/osd0.img"]})
    assert plan["rejected"][0]["reasons"] == ["listed in ciab_osd_policy.exclude"]
    # discovery run with include_loop=True reports no loop reason at all
    loop.update(eligible_for_osd=True, reasons=[])
    assert select_osd_devices([loop], {"include_loop": True})["devices"][0]["name"] == "loop0"


def test_ineligible_disk_without_reason_is_rejected():
    odd = disk("sdi", 2000 * GB, transport="sata", serial="ODD", eligible_for_osd=False, reasons=[])
    plan = select_osd_devices([odd], {})
    assert plan["rejected"][0]["reasons"] == ["discovery marked it not eligible without giving a reason"]


def test_duplicate_serials_are_ambiguous():
    disks = [
        disk("sdj", 2000 * GB, transport="sas", serial="DUP"),
        disk("sdk", 2000 * GB, transport="sas", serial="DUP"),
    ]
    plan = select_osd_devices(disks, {})
    assert [d["name"] for d in plan["devices"]] == ["sdj"]
    assert plan["rejected"][0]["name"] == "sdk"
    assert "same serial 'DUP' as sdj" in plan["rejected"][0]["reasons"][0]


@pytest.mark.parametrize(
    ("disks", "policy", "message"),
    [
        ("sda", {}, r"^ciab_disks must be a list of dicts"),
        ([{"size_bytes": 1}], {}, r"^ciab_disks\[0\] must be a dict with a non-empty 'name'"),
        ([], [], r"^ciab_osd_policy must be a dict"),
        ([], {"min_size": 1}, r"unknown key\(s\) 'min_size' \(did you mean 'min_size_bytes'\?\)"),
        ([], {"transports": ["nvm"]}, r"ciab_osd_policy.transports has unknown transport\(s\) \['nvm'\]"),
        ([], {"transports": "nvme"}, r"ciab_osd_policy.transports must be a list of strings"),
        ([], {"min_size_bytes": "lots"}, r"ciab_osd_policy.min_size_bytes must be a size in bytes"),
        ([], {"min_size_bytes": -1}, r"ciab_osd_policy.min_size_bytes must not be negative"),
        ([], {"include_loop": "maybe"}, r"ciab_osd_policy.include_loop must be true or false"),
    ],
)
def test_bad_arguments_name_the_variable(disks, policy, message):
    with pytest.raises(PlanError, match=message):
        select_osd_devices(disks, policy)


def test_contract_with_discovery_on_the_captured_reference_box():
    """The planner consumes what disk_facts really reports for the reference box capture."""
    root = pathlib.Path(__file__).parent / "fixtures" / "refbox-epyc-2xnvme"
    assert root.is_dir(), "the capture fixture refbox-epyc-2xnvme is part of the tree"
    plan = select_osd_devices(discover_disks(str(root)), {})
    assert [(d["name"], d["action"]) for d in plan["devices"]] == [
        ("nvme0n1", "create_partition"),
        ("nvme1n1", "prepare"),
    ]
    assert all(d["by_id"] and d["serial"] for d in plan["devices"])
