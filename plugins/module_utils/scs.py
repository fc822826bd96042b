# Copyright: Cloud-in-a-Box developers
# Apache License 2.0 (see LICENSE)
"""SCS flavor names (scs-0100 v3): parse a name and derive the flavor it stands for.

Written from the standard's grammar: ``SCS-<N><cpu>[i]-<RAM GiB>[u][o][-[<M>x][<size>][<disk type>]][_<extensions>]``.
Used twice: ciab.box.nova makes the standard flavors (scs-0103) from their names, and the conformance checks
(conformance.py) read every flavor's name back. Both sides are unit-tested against the standard's own table.
flavors_to_set picks the flavors Nova does not have as wanted, from one listing (a run sets only those).
"""

from __future__ import annotations

import re
from typing import Any

CPU_TYPES = {"L": "crowded-core", "V": "shared-core", "T": "dedicated-thread", "C": "dedicated-core"}
DISK_TYPES = {"n": "network", "h": "hdd", "s": "ssd", "p": "nvme"}

_NAME = re.compile(
    r"""^SCS-
    (?P<cpus>[1-9][0-9]*)(?P<cpu>[LVTC])(?P<insecure>i?)
    -(?P<ram>[1-9][0-9]*(?:\.5)?|0\.5)(?P<noecc>u?)(?P<ramover>o?)
    (?:-(?:(?P<disks>[1-9][0-9]*)x)?(?P<disk>[1-9][0-9]*)?(?P<disktype>[nhsp]?))?
    (?P<ext>(?:_[a-zA-Z0-9.\-]+)*)$""",
    re.VERBOSE,
)


class FlavorNameError(ValueError):
    """A name that is not an SCS flavor name (the message says which part is wrong)."""


def parse_flavor_name(name: str) -> dict[str, Any]:
    """The parts of an SCS flavor name (v2/v3 syntax): cpus, cpu_type, insecure, ram_gib, ram_oversubscribed, ecc,
    disk (GB; 0 without a root disk; None when the cloud picks the size), disks (count), disk_type (None when
    unspecified), extensions (the ``_...`` suffixes as written)."""
    if not isinstance(name, str) or not name.startswith("SCS-"):
        raise FlavorNameError(f"{name!r}: an SCS flavor name starts with 'SCS-'")
    if ":" in name:
        raise FlavorNameError(f"{name!r}: v1 syntax (':' separators); v2/v3 names use '-'")
    match = _NAME.match(name)
    if not match:
        raise FlavorNameError(
            f"{name!r}: not SCS-<vCPUs><L|V|T|C>[i]-<RAM GiB>[u][o][-[<M>x]<disk GB>[n|h|s|p]][_<extensions>]"
        )
    parts = match.groupdict()
    has_disk = parts["disk"] is not None or parts["disks"] is not None or bool(parts["disktype"])
    disk_part = name.split("_", 1)[0].count("-") == 3
    return {
        "cpus": int(parts["cpus"]),
        "cpu_type": CPU_TYPES[parts["cpu"]],
        "insecure": parts["insecure"] == "i",
        "ram_gib": float(parts["ram"]),
        "ecc": parts["noecc"] != "u",
        "ram_oversubscribed": parts["ramover"] == "o",
        "disk": int(parts["disk"]) if parts["disk"] else (None if disk_part else 0),
        "disks": int(parts["disks"] or 1) if (has_disk or disk_part) else 0,
        "disk_type": DISK_TYPES.get(parts["disktype"] or ""),
        "extensions": [ext for ext in parts["ext"].split("_") if ext],
    }


def name_v1(name: str) -> str:
    """The v1 spelling of a v2/v3 name without extensions: the dashes after 'SCS-' become colons."""
    parse_flavor_name(name)
    base, _, ext = name.partition("_")
    return "SCS-" + base[4:].replace("-", ":") + (f"_{ext}" if ext else "")


def flavor_spec(name: str) -> dict[str, Any]:
    """The Nova flavor an SCS name stands for: name, vcpus, ram (MiB), disk (GB) and the scs:* extra specs the
    standard flavors carry (scs:name-v1, scs:name-v2, scs:cpu-type, scs:disk<N>-type; an unspecified disk type is
    'network', as in the standard's table)."""
    parts = parse_flavor_name(name)
    specs = {"scs:name-v1": name_v1(name), "scs:name-v2": name, "scs:cpu-type": parts["cpu_type"]}
    for index in range(parts["disks"]):
        specs[f"scs:disk{index}-type"] = parts["disk_type"] or "network"
    return {
        "name": name,
        "vcpus": parts["cpus"],
        "ram": int(parts["ram_gib"] * 1024),
        "disk": parts["disk"] or 0,
        "extra_specs": specs,
    }


def flavors_to_set(wanted: list[dict[str, Any]], found: list[dict[str, Any]], extra_specs: dict[str, Any]) -> list:
    """The flavors of WANTED (flavor_spec's dicts; each also gets EXTRA_SPECS) that Nova does not have as wanted.
    FOUND: Nova's flavors with their extra specs (openstack.cloud.compute_flavor_info's). A flavor is as wanted when it
    is public and its vcpus, ram, disk and extra specs (Nova keeps their values as strings, none more or fewer) are the
    wanted ones: what openstack.cloud.compute_flavor compares, so setting the rest changes nothing more."""
    have = {flavor["name"]: flavor for flavor in found}
    missing = []
    for flavor in wanted:
        nova = have.get(flavor["name"])
        specs = {key: str(value) for key, value in {**flavor.get("extra_specs", {}), **extra_specs}.items()}
        if nova is None or (
            (nova["vcpus"], nova["ram"], nova["disk"], nova["is_public"], nova.get("extra_specs") or {})
            != (flavor["vcpus"], flavor["ram"], flavor.get("disk", 0), True, specs)
        ):
            missing.append(flavor)
    return missing
