"""memory_budget: what the host, Ceph, OpenStack and k3s keep, and what is left for guests (MiB)."""

from __future__ import annotations

import pytest
from ansible_collections.ciab.box.plugins.module_utils.plan import PlanError
from ansible_collections.ciab.box.plugins.module_utils.plan.memory import memory_budget
from plan_facts import GIB, MIB, REFERENCE_BOX_MEMTOTAL_BYTES


def test_reference_box_128_gib_two_osds():
    budget = memory_budget(REFERENCE_BOX_MEMTOTAL_BYTES, 2, {})
    assert budget == {
        "total_mib": 131072,
        "host_os_mib": 3933,  # 3 % of 131072, rounded up (more than the 2048 floor)
        "ceph_osd_count": 2,
        "ceph_osd_memory_target_mib": 4096,
        "ceph_osd_memory_target_bytes": 4 * GIB,
        "ceph_osd_memory_target_scaled": False,
        "ceph_osds_mib": 8192,
        "ceph_mon_mgr_mib": 3072,
        "openstack_mib": 6144,
        "kubernetes_mib": 2048,
        "nova_reserved_host_memory_mb": 23389,
        "guests_mib": 107683,
        "min_guest_mib": 4096,
        "warnings": [],
    }
    assert budget["guests_mib"] > 100 * 1024
    assert budget["nova_reserved_host_memory_mb"] + budget["guests_mib"] == budget["total_mib"]


def test_reference_box_three_osds_and_real_memtotal():
    assert memory_budget(REFERENCE_BOX_MEMTOTAL_BYTES, 3, {})["guests_mib"] == 103587
    # MemTotal of a 128 GiB box is a little less than 128 GiB (ansible_memtotal_mb 128583)
    budget = memory_budget(128583 * MIB, 2, None)
    assert budget["host_os_mib"] == 3858
    assert budget["guests_mib"] == 128583 - 3858 - 8192 - 3072 - 6144 - 2048 == 105269


def test_short_memory_scales_the_osd_target_down_in_128_mib_steps():
    budget = memory_budget(24 * GIB, 2, {})
    # 24576 - 2048 host - 3072 - 6144 - 2048 - 4096 min guests = 7168 -> 3584 per OSD
    assert budget["ceph_osd_memory_target_mib"] == 3584
    assert budget["ceph_osd_memory_target_scaled"] is True
    assert budget["guests_mib"] == 24576 - 2048 - 3072 - 6144 - 2048 - 7168 == 4096
    assert budget["warnings"] == [
        "memory is short: osd_memory_target scaled down from 4096 to 3584 MiB per OSD to leave "
        "ciab_memory_policy.min_guest_mib for guests; Ceph is slower below 4096 MiB"
    ]


def test_too_little_memory_names_what_to_lower_largest_first():
    with pytest.raises(PlanError) as err:
        # 16384 - 2048 host - 3072 mon/mgr - 6144 openstack - 2048 k3s - 3 x 896 (OSD minimum) = 384
        memory_budget(16 * GIB, 3, {})
    assert str(err.value) == "".join(
        [
            "ciab_memory_policy: only 384 MiB of 16384 MiB would be left for guests, below ",
            "ciab_memory_policy.min_guest_mib (4096 MiB); lower one of ",
            "ciab_memory_policy.openstack_mib (6144 MiB), ",
            "ciab_memory_policy.ceph_mon_mgr_mib (3072 MiB), ",
            "ciab_memory_policy.osd_memory_target_mib or the number of OSDs (ciab_osd_policy) (2688 MiB), ",
            "ciab_memory_policy.kubernetes_mib (or set ciab_memory_policy.kubernetes false) (2048 MiB), ",
            "ciab_memory_policy.host_os_mib (2048 MiB), or lower ciab_memory_policy.min_guest_mib",
        ]
    )


def test_policy_overrides_and_units():
    budget = memory_budget(
        64 * GIB,
        1,
        {
            "host_os_mib": "4G",
            "osd_memory_target_mib": 6144,
            "openstack_mib": "8GiB",
            "kubernetes": "false",
            "min_guest_mib": "16384",
        },
    )
    assert budget["host_os_mib"] == 4096
    assert budget["ceph_osd_memory_target_mib"] == 6144
    assert budget["openstack_mib"] == 8192
    assert budget["kubernetes_mib"] == 0
    assert budget["min_guest_mib"] == 16384
    assert budget["guests_mib"] == 65536 - 4096 - 6144 - 3072 - 8192 == 44032


def test_explicit_osd_target_is_not_scaled_and_must_reach_the_ceph_minimum():
    with pytest.raises(
        PlanError, match=r"^ciab_memory_policy.osd_memory_target_mib 512 is below Ceph's minimum of 896"
    ):
        memory_budget(REFERENCE_BOX_MEMTOTAL_BYTES, 2, {"osd_memory_target_mib": 512})
    with pytest.raises(PlanError, match=r"only -\d+ MiB of 24576 MiB would be left for guests"):
        memory_budget(24 * GIB, 2, {"osd_memory_target_mib": 8192})


def test_no_osds():
    budget = memory_budget(32 * GIB, 0, {})
    assert (budget["ceph_osds_mib"], budget["ceph_osd_memory_target_mib"]) == (0, 4096)


@pytest.mark.parametrize(
    ("total", "count", "policy", "message"),
    [
        (None, 2, {}, r"^total_bytes \(ansible_memtotal_mb \* 1048576\) must be an integer"),
        (0, 2, {}, r"^total_bytes \(ansible_memtotal_mb \* 1048576\) must be at least 1"),
        ("128G", 2, {}, r"^total_bytes .* must be an integer, got '128G'"),
        (REFERENCE_BOX_MEMTOTAL_BYTES, -1, {}, r"^osd_count \(number of planned OSD devices\) must be at least 0"),
        (REFERENCE_BOX_MEMTOTAL_BYTES, True, {}, r"^osd_count .* must be an integer"),
        (REFERENCE_BOX_MEMTOTAL_BYTES, 2, {"openstack": 1}, r"unknown key\(s\) 'openstack' \(did you mean"),
        (REFERENCE_BOX_MEMTOTAL_BYTES, 2, {"openstack_mib": "lots"}, r"^ciab_memory_policy.openstack_mib must be"),
        (REFERENCE_BOX_MEMTOTAL_BYTES, 2, {"kubernetes": "sometimes"}, r"^ciab_memory_policy.kubernetes must be true"),
    ],
)
def test_bad_arguments_name_the_argument(total, count, policy, message):
    with pytest.raises(PlanError, match=message):
        memory_budget(total, count, policy)


def test_digit_strings_from_templating_are_accepted():
    assert memory_budget(str(REFERENCE_BOX_MEMTOTAL_BYTES), "2", {})["guests_mib"] == 107683
