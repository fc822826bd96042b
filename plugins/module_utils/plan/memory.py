"""Split the node's memory between host OS, Ceph, OpenStack, Kubernetes and guests (all values in MiB).

``nova_reserved_host_memory_mb`` is everything that is not for guests. The per-OSD ``osd_memory_target``
(default 4 GiB) is scaled down, never below Ceph's 896 MiB minimum, when the guests would otherwise get less
than ``min_guest_mib``; an explicit target is honoured as given.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from ansible_collections.ciab.box.plugins.module_utils.plan import (
    MIB,
    PlanError,
    as_bool,
    as_int,
    check_policy,
    parse_size,
)

VAR = "ciab_memory_policy"
OSD_TARGET_MIN_MIB = 896  # Ceph refuses an osd_memory_target below 896 MiB
OSD_TARGET_STEP_MIB = 128  # scaled targets are rounded down to this step
HOST_OS_MIN_MIB = 2048
HOST_OS_PERCENT = 3
DEFAULTS: dict[str, Any] = {
    "host_os_mib": None,  # None: max(2048, 3 % of the total)
    "osd_memory_target_mib": None,  # None: 4096, scaled down when memory is short
    "ceph_mon_mgr_mib": 3072,
    "openstack_mib": 6144,
    "kubernetes": True,
    "kubernetes_mib": 2048,
    "min_guest_mib": 4096,
}
OSD_TARGET_DEFAULT_MIB = 4096


def _mib(value: Any, key: str) -> int:
    """MiB from an int (MiB) or a size string with a unit ('6G', '512MiB')."""
    if isinstance(value, int | str) and not isinstance(value, bool) and str(value).strip().isdigit():
        return as_int(value, key)
    return parse_size(value, key) // MIB


def memory_budget(total_bytes: Any, osd_count: Any, policy: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """Return the memory budget in MiB for a node with ``total_bytes`` of RAM and ``osd_count`` OSDs."""
    total_mib = as_int(total_bytes, "total_bytes (ansible_memtotal_mb * 1048576)", minimum=1) // MIB
    count = as_int(osd_count, "osd_count (number of planned OSD devices)")
    pol = check_policy(policy, DEFAULTS, VAR)
    host = (
        _mib(pol["host_os_mib"], f"{VAR}.host_os_mib")
        if pol["host_os_mib"] is not None
        else max(HOST_OS_MIN_MIB, math.ceil(total_mib * HOST_OS_PERCENT / 100))
    )
    mon_mgr = _mib(pol["ceph_mon_mgr_mib"], f"{VAR}.ceph_mon_mgr_mib")
    openstack = _mib(pol["openstack_mib"], f"{VAR}.openstack_mib")
    kubernetes = (
        _mib(pol["kubernetes_mib"], f"{VAR}.kubernetes_mib") if as_bool(pol["kubernetes"], f"{VAR}.kubernetes") else 0
    )
    min_guest = _mib(pol["min_guest_mib"], f"{VAR}.min_guest_mib")
    fixed = host + mon_mgr + openstack + kubernetes
    warnings: list[str] = []
    target, scaled = _osd_target(pol["osd_memory_target_mib"], total_mib - fixed - min_guest, count, warnings)
    reserved = fixed + count * target
    guests = total_mib - reserved
    if guests < min_guest:
        consumers = {
            f"{VAR}.openstack_mib": openstack,
            f"{VAR}.ceph_mon_mgr_mib": mon_mgr,
            f"{VAR}.kubernetes_mib (or set {VAR}.kubernetes false)": kubernetes,
            f"{VAR}.host_os_mib": host,
            f"{VAR}.osd_memory_target_mib or the number of OSDs (ciab_osd_policy)": count * target,
        }
        lower = ", ".join(f"{k} ({v} MiB)" for k, v in sorted(consumers.items(), key=lambda kv: -kv[1]) if v)
        raise PlanError(
            f"{VAR}: only {guests} MiB of {total_mib} MiB would be left for guests, below {VAR}.min_guest_mib "
            f"({min_guest} MiB); lower one of {lower}, or lower {VAR}.min_guest_mib"
        )
    return {
        "total_mib": total_mib,
        "host_os_mib": host,
        "ceph_osd_count": count,
        "ceph_osd_memory_target_mib": target,
        "ceph_osd_memory_target_bytes": target * MIB,
        "ceph_osd_memory_target_scaled": scaled,
        "ceph_osds_mib": count * target,
        "ceph_mon_mgr_mib": mon_mgr,
        "openstack_mib": openstack,
        "kubernetes_mib": kubernetes,
        "nova_reserved_host_memory_mb": reserved,
        "guests_mib": guests,
        "min_guest_mib": min_guest,
        "warnings": warnings,
    }


def _osd_target(explicit: Any, room_mib: int, count: int, warnings: list[str]) -> tuple[int, bool]:
    """(osd_memory_target in MiB, scaled?) — the default shrinks to fit ``room_mib`` across ``count`` OSDs."""
    key = f"{VAR}.osd_memory_target_mib"
    if explicit is not None:
        target = _mib(explicit, key)
        if target < OSD_TARGET_MIN_MIB:
            raise PlanError(f"{key} {target} is below Ceph's minimum of {OSD_TARGET_MIN_MIB} MiB; raise it")
        return target, False
    if count == 0 or room_mib >= count * OSD_TARGET_DEFAULT_MIB:
        return OSD_TARGET_DEFAULT_MIB, False
    fit = room_mib // count // OSD_TARGET_STEP_MIB * OSD_TARGET_STEP_MIB
    target = max(OSD_TARGET_MIN_MIB, fit)
    warnings.append(
        f"memory is short: osd_memory_target scaled down from {OSD_TARGET_DEFAULT_MIB} to {target} MiB per OSD "
        f"to leave {VAR}.min_guest_mib for guests; Ceph is slower below 4096 MiB"
    )
    return target, True
