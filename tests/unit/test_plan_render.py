"""plan_table: the fixed-width report printed by playbooks/plan.yml."""

from __future__ import annotations

import pytest
from ansible_collections.ciab.box.plugins.module_utils.plan import PlanError
from ansible_collections.ciab.box.plugins.module_utils.plan.ipplan import plan_ip
from ansible_collections.ciab.box.plugins.module_utils.plan.memory import memory_budget
from ansible_collections.ciab.box.plugins.module_utils.plan.nic import assign_nic_roles
from ansible_collections.ciab.box.plugins.module_utils.plan.osd import select_osd_devices
from ansible_collections.ciab.box.plugins.module_utils.plan.render import plan_table, table
from plan_facts import (
    REFERENCE_BOX_DEFAULT_ROUTE,
    REFERENCE_BOX_DISKS,
    REFERENCE_BOX_MEMTOTAL_BYTES,
    REFERENCE_BOX_NICS,
    REFERENCE_BOX_ROUTES,
    SATA_SERVER_DISKS,
    VM_DEFAULT_ROUTE,
    VM_NICS,
    fresh,
)


def reference_plan():
    osd = select_osd_devices(fresh(REFERENCE_BOX_DISKS), {})
    return {
        "host": "box1",
        "osd": osd,
        "nic": assign_nic_roles(fresh(REFERENCE_BOX_NICS), fresh(REFERENCE_BOX_DEFAULT_ROUTE), {}),
        "ip": plan_ip(fresh(REFERENCE_BOX_NICS), fresh(REFERENCE_BOX_DEFAULT_ROUTE), fresh(REFERENCE_BOX_ROUTES), {}),
        "memory": memory_budget(REFERENCE_BOX_MEMTOTAL_BYTES, len(osd["devices"]), {}),
    }


def test_table_aligns_columns_and_continues_multi_line_cells():
    assert table(["A", "REASONS"], [["sdx", ["first reason", "second"]], ["longer-name", []]]) == [
        "A            REASONS",
        "-----------  ------------",
        "sdx          first reason",
        "             second",
        "longer-name",
    ]


def test_reference_box_report():
    text = plan_table(reference_plan())
    lines = text.splitlines()
    assert lines[0] == "Plan for box1"
    assert text.endswith("\n")
    assert "Ceph OSD devices" in lines
    assert (
        "create_partition  nvme0n1  nvme  650.0 GiB  /dev/disk/by-id/nvme-eui.0025385b11b0a2c0  "
        "new partition nvme0n1p4 at 281.5 GiB"
    ) in lines
    assert "prepare           nvme1n1  nvme  931.5 GiB  /dev/disk/by-id/nvme-eui.0025385b11b0a2c1" in lines
    assert "Rejected:" not in text
    assert "management  eno1       bnxt_en  10 Gb/s  bc:97:e1:5a:10:01  192.0.2.10/24  default route" in lines
    assert (
        "storage     -          -        -        -                  -              uses the management network"
        in lines
    )
    assert "provider      172.24.4.0/24  gateway 172.24.4.1, floating IPs 172.24.4.100-172.24.4.200" in lines
    assert "= nova reserved_host_memory_mb  23389   22.8" in lines
    assert "guests                          107683  105.2" in lines
    assert "Warnings" not in text
    assert all(line == line.rstrip() for line in lines)


def test_rejected_disks_show_every_reason_and_the_hint():
    text = plan_table({"osd": select_osd_devices(fresh(SATA_SERVER_DISKS), {})})
    lines = text.splitlines()
    start = lines.index("Rejected: 3")
    assert lines[start + 1].split() == ["DEVICE", "BUS", "SIZE", "REASONS"]
    sdd = lines.index("sdd     usb   29.8 GiB   is removable (usb)")
    assert (
        lines[sdd + 1]
        == "                         transport usb not in ciab_osd_policy.transports (nvme, sata, sas, virtio)"
    )
    assert "                         hint: to use it as an OSD, add 'ZC1000XY' to ciab_osd_policy.allow_wipe" in text


def test_shared_provider_and_warnings():
    nic = assign_nic_roles(fresh(VM_NICS), fresh(VM_DEFAULT_ROUTE), {})
    text = plan_table({"nic": nic, "osd": {"devices": [], "rejected": [], "warnings": ["exclude entry 'x'"]}})
    assert "(no OSD device)" in text
    assert "shared with management (bridge); no free NIC left" in text
    assert text.splitlines()[-3:] == [
        "========",
        "- [osd] exclude entry 'x'",
        "- [nic] no free NIC for the provider network: it shares the management NIC eth0 through a bridge "
        "(provider.shared: true); name a free NIC in ciab_nic_policy.provider to separate them",
    ]


def test_wipe_and_adopt_notes():
    osd = {
        "devices": [
            {"name": "sdc", "action": "wipe_then_prepare", "transport": "sata", "size_bytes": 4 * 10**12,
             "by_id": "/dev/disk/by-id/wwn-0x5000c500a1b2c3d4", "wipe_reasons": ["carries ext4 filesystem signature"]},
            {"name": "sdh", "action": "adopt", "transport": "sas", "size_bytes": 2 * 10**12, "by_id": None,
             "osd_fsid": "5e1d-fsid"},
        ],
        "rejected": [],
    }  # fmt: skip
    lines = plan_table({"osd": osd}).splitlines()
    assert lines[-2].endswith("WIPES: carries ext4 filesystem signature")
    assert lines[-1].split()[-2:] == ["osd_fsid", "5e1d-fsid"]
    assert lines[-1].split()[:6] == ["adopt", "sdh", "sas", "1.8", "TiB", "-"]


@pytest.mark.parametrize(
    ("plan", "message"),
    [
        ([], r"^plan must be a dict with keys host, osd, nic, ip, memory"),
        ({"osds": {}}, r"^plan has unknown section\(s\) osds; known sections"),
        ({"memory": [1]}, r"^plan.memory must be a dict"),
    ],
)
def test_bad_plan_names_the_argument(plan, message):
    with pytest.raises(PlanError, match=message):
        plan_table(plan)


def test_empty_plan_renders_nothing():
    assert plan_table({}) == "\n"
