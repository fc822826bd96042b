# Copyright: Cloud-in-a-Box developers
# Apache License 2.0 (see LICENSE)
"""Node configuration filters: a thin shim over plugins/module_utils (documented in plugins/filter/<name>.yml)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ansible.errors import AnsibleFilterError
from ansible_collections.ciab.box.plugins.module_utils.hosts_file import HostsError, pin_hosts


def hosts_file(content: str, address: str, names: Any) -> str:
    try:
        return pin_hosts(str(content), str(address), [str(n) for n in ([names] if isinstance(names, str) else names)])
    except HostsError as exc:
        raise AnsibleFilterError(f"ciab.box.hosts_file: {exc}") from exc


class FilterModule:
    """ciab.box node configuration filters."""

    def filters(self) -> dict[str, Callable[..., Any]]:
        return {"hosts_file": hosts_file}
