"""Planning: turn discovery facts plus user policy into a reviewable plan (controller side only).

The functions in this package are plain, typed and free of Ansible objects so unit tests call them
directly; ``plugins/filter/plan.py`` is the thin shim that exposes them as ``ciab.box.*`` filters.
Every problem raises :class:`PlanError`, whose message names the variable or argument at fault,
the device concerned and what to change.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Mapping
from typing import Any

KIB = 1024
MIB = 1024**2
GIB = 1024**3
TIB = 1024**4

# Binary suffixes (K, M, G, T, P and KiB ... PiB) count in powers of 1024; the SI spellings
# (KB, MB, GB, TB, PB) count in powers of 1000, the way disk vendors label drives ("1 TB NVMe").
_SIZE_UNITS = {
    "": 1,
    "b": 1,
    "k": KIB,
    "kib": KIB,
    "m": MIB,
    "mib": MIB,
    "g": GIB,
    "gib": GIB,
    "t": TIB,
    "tib": TIB,
    "p": 1024**5,
    "pib": 1024**5,
    "kb": 10**3,
    "mb": 10**6,
    "gb": 10**9,
    "tb": 10**12,
    "pb": 10**15,
}
_SIZE_RE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([a-z]*)\s*$", re.IGNORECASE)
_TRUE = frozenset({"true", "yes", "on", "1"})
_FALSE = frozenset({"false", "no", "off", "0"})


# The marker every input check's message starts with (the plan filters, the validation playbooks and the roles'
# preflight input asserts); ciab.runner.INPUT_MARKER is the same string: such a failure is a bad input, exit 2.
INPUT_MARKER = "[ciab-input]"


class PlanError(ValueError):
    """A fact or policy value cannot be planned; the message says which variable to change and how."""


def type_name(value: Any) -> str:
    """The YAML name of a value's type (dict, list, str ...), never Ansible's internal classes (_AnsibleTaggedStr)."""
    for kind, name in ((bool, "bool"), (str, "str"), (int, "int"), (float, "float"), (Mapping, "dict")):
        if isinstance(value, kind):
            return name
    if value is None:
        return "null"
    return "list" if isinstance(value, list | tuple | set) else type(value).__name__.lstrip("_")


def short(value: Any, limit: int = 80) -> str:
    """``repr`` cut to ``limit`` characters, so a whole fact list never floods an error message."""
    text = repr(value)
    return text if len(text) <= limit else f"{text[: limit - 5]} ...{text[-1]}"


def check_policy(policy: Mapping[str, Any] | None, defaults: Mapping[str, Any], var: str) -> dict[str, Any]:
    """Return ``defaults`` overlaid with ``policy``; unknown keys are refused (a typo must not be ignored)."""
    if policy is None:
        policy = {}
    if not isinstance(policy, Mapping):
        raise PlanError(f"{var} must be a dict of policy keys, got {type_name(policy)}: {short(policy)}")
    unknown = sorted(str(key) for key in policy if key not in defaults)
    if unknown:
        hints = []
        for key in unknown:
            close = difflib.get_close_matches(key, list(defaults), n=1)
            hints.append(f"{key!r}" + (f" (did you mean {close[0]!r}?)" if close else ""))
        raise PlanError(f"{var} has unknown key(s) {', '.join(hints)}; known keys: {', '.join(sorted(defaults))}")
    merged = dict(defaults)
    merged.update(policy)
    return merged


def as_bool(value: Any, key: str) -> bool:
    """Accept a real bool or the usual YAML/extra-vars spellings (yes/no, true/false, on/off, 1/0)."""
    if isinstance(value, bool):
        return value
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    if isinstance(value, str) and value.strip().lower() in _TRUE | _FALSE:
        return value.strip().lower() in _TRUE
    raise PlanError(f"{key} must be true or false, got {value!r}")


def as_str_list(value: Any, key: str) -> list[str]:
    """A list of non-empty strings; ``None`` is the empty list, a bare string is refused (write ``[value]``)."""
    if value is None:
        return []
    if isinstance(value, str) or not isinstance(value, list | tuple):
        raise PlanError(
            f"{key} must be a list of strings, got {short(value)}; write it as a YAML list, e.g. [{short(value)}]"
        )
    for item in value:
        if not isinstance(item, str) or not item.strip():
            raise PlanError(f"{key} must contain only non-empty strings, got {item!r}")
    return [item.strip() for item in value]


def parse_size(value: Any, key: str) -> int:
    """Bytes from an int or a size string ("100G" = 100 GiB, "100GB" = 100 * 10**9); refuse negatives."""
    if isinstance(value, bool):
        raise PlanError(f"{key} must be a size in bytes or a string like '100G', got {value!r}")
    if isinstance(value, int):
        if value < 0:
            raise PlanError(f"{key} must not be negative, got {value}")
        return value
    if isinstance(value, str):
        match = _SIZE_RE.match(value)
        if match and match.group(2).lower() in _SIZE_UNITS:
            return int(float(match.group(1)) * _SIZE_UNITS[match.group(2).lower()])
    raise PlanError(
        f"{key} must be a size in bytes or a string like '100G' (K/M/G/T = powers of 1024, KB/MB/GB/TB = "
        f"powers of 1000), got {value!r}"
    )


def as_int(value: Any, key: str, minimum: int = 0) -> int:
    """An integer >= ``minimum``; digit-only strings (as produced by templating) are accepted."""
    if isinstance(value, str) and value.strip().isdigit():
        value = int(value.strip())
    if isinstance(value, bool) or not isinstance(value, int):
        raise PlanError(f"{key} must be an integer, got {value!r}")
    if value < minimum:
        raise PlanError(f"{key} must be at least {minimum}, got {value}")
    return value


def human_bytes(value: int) -> str:
    """1 decimal, binary units: 1000204886016 -> '931.5 GiB'."""
    size = float(value)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if abs(size) < 1024 or unit == "TiB":
            return f"{int(size)} B" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    raise AssertionError("unreachable")


def require_list_of_dicts(value: Any, var: str) -> list[Mapping[str, Any]]:
    """Facts arguments (``ciab_disks``, ``ciab_nics``): a list of dicts that each carry a ``name``."""
    if not isinstance(value, list | tuple):
        raise PlanError(f"{var} must be a list of dicts (the facts from discovery), got {type_name(value)}")
    for index, item in enumerate(value):
        if not isinstance(item, Mapping) or not isinstance(item.get("name"), str) or not item["name"]:
            raise PlanError(f"{var}[{index}] must be a dict with a non-empty 'name', got {short(item)}")
    return list(value)
