# Copyright: Cloud-in-a-Box developers
# Apache License 2.0 (see LICENSE)
"""Planning filters: a thin shim over plugins/module_utils/plan and the OSD guard's rules (wipe_guard), documented
in plugins/filter/<name>.yml."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from ansible.errors import AnsibleFilterError
from ansible_collections.ciab.box.plugins.module_utils.plan import INPUT_MARKER, PlanError
from ansible_collections.ciab.box.plugins.module_utils.plan.ipplan import plan_ip
from ansible_collections.ciab.box.plugins.module_utils.plan.memory import memory_budget
from ansible_collections.ciab.box.plugins.module_utils.plan.nic import assign_nic_roles
from ansible_collections.ciab.box.plugins.module_utils.plan.osd import select_osd_devices
from ansible_collections.ciab.box.plugins.module_utils.plan.render import plan_table
from ansible_collections.ciab.box.plugins.module_utils.plan.replication import ceph_replication
from ansible_collections.ciab.box.plugins.module_utils.wipe_guard import GuardError, orphan_osds

# filter name -> (function, how its arguments are passed, for error messages)
_SIGNATURES = {
    "osd_devices": (select_osd_devices, "ciab_disks | ciab.box.osd_devices(ciab_osd_policy)"),
    "nic_roles": (assign_nic_roles, "ciab_nics | ciab.box.nic_roles(ciab_default_route, ciab_nic_policy)"),
    "ip_plan": (plan_ip, "ciab_nics | ciab.box.ip_plan(ciab_default_route, routes, ciab_ip_policy)"),
    "memory_budget": (memory_budget, "total_bytes | ciab.box.memory_budget(osd_count, ciab_memory_policy)"),
    "plan_table": (plan_table, "ciab_plan | ciab.box.plan_table"),
    "ceph_replication": (
        ceph_replication,
        "osd_counts | ciab.box.ceph_replication(ceph_crush_failure_domain, ceph_pool_size, ceph_pool_min_size)",
    ),
    "orphan_osds": (orphan_osds, "(osd_dump | from_json).osds | ciab.box.orphan_osds(labelled_osd_uuids)"),
}


def _shim(name: str) -> Callable[..., Any]:
    func, usage = _SIGNATURES[name]

    @wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except PlanError as exc:
            # a policy or fact the plan cannot use: a bad input (the marker tells ciab.runner so), message first
            raise AnsibleFilterError(f"{INPUT_MARKER} ciab.box.{name}: {exc}") from exc
        except GuardError as exc:
            raise AnsibleFilterError(f"ciab.box.{name}: {exc}") from exc
        except TypeError as exc:
            # the cause's text goes last, so Ansible's cause-chain formatting does not repeat it
            raise AnsibleFilterError(f"ciab.box.{name}: wrong arguments, expected {usage}: {exc}") from exc

    return wrapper


class FilterModule:
    """ciab.box planning filters."""

    def filters(self) -> dict[str, Callable[..., Any]]:
        return {name: _shim(name) for name in _SIGNATURES}
