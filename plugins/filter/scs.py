# Copyright: Cloud-in-a-Box developers
# Apache License 2.0 (see LICENSE)
"""Sovereign Cloud Stack filters: a thin shim over plugins/module_utils/scs.py (documented in
plugins/filter/<name>.yml)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ansible.errors import AnsibleFilterError
from ansible_collections.ciab.box.plugins.module_utils.scs import FlavorNameError, flavor_spec, flavors_to_set


def scs_flavor(name: Any) -> dict[str, Any]:
    try:
        return flavor_spec(name)
    except FlavorNameError as exc:
        raise AnsibleFilterError(f"ciab.box.scs_flavor: {exc}") from exc


class FilterModule:
    """ciab.box Sovereign Cloud Stack filters."""

    def filters(self) -> dict[str, Callable[..., Any]]:
        return {"scs_flavor": scs_flavor, "flavors_to_set": flavors_to_set}
