"""Cluster-wide Ceph replication: the CRUSH failure domain, the pools' size and min_size, from the OSD topology.

One OSD node: copies go to distinct disks (failure domain ``osd``); two or more: to distinct hosts. The size is
three copies when the failure domain has that many members, else as many as it has (one disk: one copy).
``min_size`` is a majority of the copies. Explicit values (``ceph_crush_failure_domain``, ``ceph_pool_size``,
``ceph_pool_min_size``) are used as given.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ansible_collections.ciab.box.plugins.module_utils.plan import PlanError, as_int, type_name

MAX_COPIES = 3
# the CRUSH bucket types a replicated rule of the box chooses leaves under (ceph.conf's osd_crush_chooseleaf_type)
FAILURE_DOMAINS = ("osd", "host")


def ceph_replication(
    osd_counts: Sequence[Any], failure_domain: Any = "auto", pool_size: Any = 0, pool_min_size: Any = 0
) -> dict[str, Any]:
    """Replication of the cluster's pools.

    ``osd_counts`` holds the number of planned OSDs of each OSD node (nodes without OSDs may be in it as 0).
    ``failure_domain`` is ``auto`` or a CRUSH bucket type; ``pool_size`` and ``pool_min_size`` are 0 for "derive".
    Returns ``{failure_domain, pool_size, pool_min_size, crush_rule, osd_nodes, osds}``.
    """
    if isinstance(osd_counts, (str, bytes)) or not isinstance(osd_counts, Sequence):
        raise PlanError(f"the OSD counts must be a list of integers, one per OSD node, got {type_name(osd_counts)}")
    counts = [as_int(count, "the OSD count of a node") for count in osd_counts]
    nodes = [count for count in counts if count > 0]
    domain = str(failure_domain)
    if domain == "auto":
        domain = "host" if len(nodes) > 1 else "osd"
    elif domain not in FAILURE_DOMAINS:
        raise PlanError(
            f"ceph_crush_failure_domain must be auto or one of {', '.join(FAILURE_DOMAINS)}, got {failure_domain!r}"
        )
    size = as_int(pool_size, "ceph_pool_size")
    if size <= 0:
        members = len(nodes) if domain != "osd" else sum(nodes)
        size = min(MAX_COPIES, max(1, members))
    min_size = as_int(pool_min_size, "ceph_pool_min_size")
    if min_size <= 0:
        min_size = size - size // 2
    if min_size > size:
        raise PlanError(f"ceph_pool_min_size ({min_size}) must not exceed the pools' size ({size}, ceph_pool_size)")
    return {
        "failure_domain": domain,
        "pool_size": size,
        "pool_min_size": min_size,
        "crush_rule": f"ciab_replicated_{domain}",
        "osd_nodes": len(nodes),
        "osds": sum(nodes),
    }
