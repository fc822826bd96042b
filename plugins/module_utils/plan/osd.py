"""Choose Ceph OSD devices from ``ciab_disks`` facts and the user's ``ciab_osd_policy``.

Every disk ends up either in ``devices`` (with the action the ceph role takes) or in ``rejected`` (with the
discovery reasons plus the policy reasons, and discovery's structured ``findings``). Identity is by-id + serial,
never the kernel name.

Decisions use the finding codes of :mod:`disks` (the rule set the OSD guard uses too), never reason texts: a
disk whose findings are all ``data`` may be wiped when listed in allow_wipe; an ``in_use`` or ``unfit`` finding
keeps it rejected whatever allow_wipe says. Facts without findings (an older discovery) fail closed.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ansible_collections.ciab.box.plugins.module_utils.disks import (
    ADOPT_TOLERATES,
    IN_USE,
    UNFIT,
    finding,
    findings_of,
    of_kind,
    remedies,
)
from ansible_collections.ciab.box.plugins.module_utils.plan import (
    GIB,
    MIB,
    PlanError,
    as_bool,
    as_str_list,
    check_policy,
    human_bytes,
    parse_size,
    require_list_of_dicts,
)

VAR = "ciab_osd_policy"
DISKS_VAR = "ciab_disks"
TRANSPORTS = ("nvme", "sata", "sas", "scsi", "virtio", "usb", "loop", "mmc", "unknown")
DEFAULTS: dict[str, Any] = {
    "transports": ["nvme", "sata", "sas", "virtio"],
    "min_size_bytes": 100 * GIB,
    "include": [],
    "exclude": [],
    "use_system_disk_free_space": True,
    "min_partition_bytes": 50 * GIB,
    "include_loop": False,
    "allow_wipe": [],
}
# GPT keeps a backup header in the last 33 sectors: never plan a partition into the last MiB.
GPT_TAIL_BYTES = MIB
_IDENTITY_KEYS = (
    "name",
    "path",
    "by_id",
    "serial",
    "model",
    "transport",
    "rotational",
    "size_bytes",
    "loop_backing_file",
)


def select_osd_devices(disks: list[Mapping[str, Any]], policy: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """Return ``{"devices": [...], "rejected": [...], "warnings": [...]}`` for ``disks`` (``ciab_disks``)."""
    disks = require_list_of_dicts(disks, DISKS_VAR)
    pol = _policy(policy)
    warnings = _check_references(disks, pol)
    devices: list[dict[str, Any]] = []
    rejected: list[dict[str, Any]] = []
    for disk in disks:
        selected, reasons, hint = _plan_disk(disk, pol)
        if selected:
            devices.extend(selected)
        else:
            entry = {**_identity(disk), "reasons": reasons, "findings": _found(disk, pol)}
            if hint:
                entry["hint"] = hint
            rejected.append(entry)
    _reject_duplicate_serials(devices, rejected)
    return {"devices": devices, "rejected": rejected, "warnings": warnings}


def _policy(policy: Mapping[str, Any] | None) -> dict[str, Any]:
    pol = check_policy(policy, DEFAULTS, VAR)
    transports = as_str_list(pol["transports"], f"{VAR}.transports")
    bad = [t for t in transports if t not in TRANSPORTS]
    if bad:
        raise PlanError(f"{VAR}.transports has unknown transport(s) {bad}; valid: {', '.join(TRANSPORTS)}")
    return {
        "transports": transports,
        "min_size_bytes": parse_size(pol["min_size_bytes"], f"{VAR}.min_size_bytes"),
        "min_partition_bytes": parse_size(pol["min_partition_bytes"], f"{VAR}.min_partition_bytes"),
        "use_system_disk_free_space": as_bool(pol["use_system_disk_free_space"], f"{VAR}.use_system_disk_free_space"),
        "include_loop": as_bool(pol["include_loop"], f"{VAR}.include_loop"),
        "include": set(as_str_list(pol["include"], f"{VAR}.include")),
        "exclude": set(as_str_list(pol["exclude"], f"{VAR}.exclude")),
        "allow_wipe": set(as_str_list(pol["allow_wipe"], f"{VAR}.allow_wipe")),
    }


def _keys(disk: Mapping[str, Any]) -> set[str]:
    """What a policy list may use to name a disk: serial, by-id paths and their basenames, loop backing file."""
    keys = {p for p in disk.get("by_id") or [] if p}
    keys |= {p.rsplit("/", 1)[-1] for p in keys}
    keys |= {str(disk[k]) for k in ("serial", "loop_backing_file") if disk.get(k)}
    return keys


def _check_references(disks: list[Mapping[str, Any]], pol: Mapping[str, Any]) -> list[str]:
    """Kernel names are refused (they move between boots); an include entry must match a disk."""
    warnings = []
    known = set().union(*(_keys(d) for d in disks)) if disks else set()
    for key in ("include", "exclude", "allow_wipe"):
        for ref in sorted(pol[key]):
            if ref in known:
                continue
            for disk in disks:
                if ref in (disk["name"], disk.get("path")):
                    better = disk.get("serial") or disk.get("by_id_preferred") or "its /dev/disk/by-id path"
                    raise PlanError(
                        f"{VAR}.{key} entry {ref!r} is a kernel name, which can change between boots; "
                        f"name {disk['name']} by its serial or by-id instead: {better!r}"
                    )
            if key == "include":
                serials = ", ".join(sorted(str(d["serial"]) for d in disks if d.get("serial"))) or "none"
                raise PlanError(
                    f"{VAR}.include entry {ref!r} matches no disk on the node; use a serial or a /dev/disk/by-id "
                    f"path (serials found: {serials})"
                )
            warnings.append(f"{VAR}.{key} entry {ref!r} matches no disk on the node")
    return warnings


def _identity(disk: Mapping[str, Any]) -> dict[str, Any]:
    by_id = disk.get("by_id_preferred") or next(iter(disk.get("by_id") or []), None)
    entry = {
        "name": disk["name"],
        "path": disk.get("path") or f"/dev/{disk['name']}",
        "by_id": by_id,
        "serial": disk.get("serial"),
        "model": disk.get("model"),
        "transport": disk.get("transport") or "unknown",
        "rotational": bool(disk.get("rotational")),
        "size_bytes": int(disk.get("size_bytes") or 0),
    }
    if entry["transport"] == "loop":  # a loop device has no serial: the OSD guard checks its backing file
        entry["loop_backing_file"] = disk.get("loop_backing_file")
    return entry


def _whole_disk_busy(disk: Mapping[str, Any]) -> list[str]:
    """Why no new partition may be added to the system disk: the whole device is mounted, held or not writable."""
    out = []
    if disk.get("mountpoints"):
        out.append(f"it is mounted at {', '.join(disk['mountpoints'])}")
    if disk.get("holders"):
        out.append(f"it is held by {', '.join(h.get('name', '?') for h in disk['holders'])}")
    if disk.get("read_only"):
        out.append("it is read-only")
    if disk.get("removable"):
        out.append("it is removable")
    return out


def _policy_reasons(disk: Mapping[str, Any], pol: Mapping[str, Any]) -> list[str]:
    loop = disk.get("transport") == "loop"
    if loop and not pol["include_loop"]:  # nothing else matters for a loop device
        return [f"loop devices need {VAR}.include_loop: true (sandbox and CI only)"]
    reasons = []
    if not disk.get("serial") and not disk.get("by_id") and not loop:
        reasons.append(
            "has no serial and no /dev/disk/by-id link, so its identity would not survive a reboot "
            "(give the disk a serial, e.g. <serial> in libvirt)"
        )
    keys = _keys(disk)
    if pol["include"] and not keys & pol["include"]:
        reasons.append(f"not listed in {VAR}.include")
    if keys & pol["exclude"]:
        reasons.append(f"listed in {VAR}.exclude")
    transport = disk.get("transport") or "unknown"
    if transport not in pol["transports"] and not loop:
        reasons.append(f"transport {transport} not in {VAR}.transports ({', '.join(pol['transports'])})")
    return reasons


def _found(disk: Mapping[str, Any], pol: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Discovery's findings of ``disk`` as this policy sees them (include_loop drops the loop finding)."""
    found = [dict(item) for item in findings_of(disk)]
    if disk.get("transport") == "loop" and pol["include_loop"]:
        found = [item for item in found if item.get("code") != "loop"]
    elif not found and disk.get("eligible_for_osd") is False:
        found = [finding("unknown", "discovery marked it not eligible without giving a reason")]
    return found


def _plan_disk(disk: Mapping[str, Any], pol: Mapping[str, Any]) -> tuple[list[dict[str, Any]], list[str], str | None]:
    """Return (selected entries, rejection reasons, hint) for one disk."""
    found = _found(disk, pol)
    discovery = [str(item.get("text")) for item in found]
    policy = _policy_reasons(disk, pol)
    wipe_listed = bool(_keys(disk) & pol["allow_wipe"])
    if disk.get("system"):
        return _plan_system_disk(disk, pol, discovery, policy, wipe_listed)
    if _is_ceph(disk):
        return _plan_existing_osd(disk, found, policy, wipe_listed)
    size = int(disk.get("size_bytes") or 0)
    if size < pol["min_size_bytes"]:
        policy.append(
            f"size {human_bytes(size)} smaller than {VAR}.min_size_bytes ({human_bytes(pol['min_size_bytes'])})"
        )
    if not found and not policy:
        return [{**_identity(disk), "action": "prepare"}], [], None
    return _wipe_or_reject(disk, found, policy, wipe_listed)


def _wipe_or_reject(
    disk: Mapping[str, Any], found: list[dict[str, Any]], policy: list[str], wipe_listed: bool
) -> tuple[list[dict[str, Any]], list[str], str | None]:
    """allow_wipe turns a disk that only holds data into wipe_then_prepare; never one in use or unfit."""
    discovery = [str(item.get("text")) for item in found]
    reasons = discovery + policy
    blockers = _wipe_blockers(found)
    hint = None
    if blockers and not policy:
        path = str(disk.get("path") or f"/dev/{disk['name']}")
        hint = f"allow_wipe cannot help: {'; '.join(remedies(of_kind(found, IN_USE, UNFIT), path))}"
    if wipe_listed and blockers:
        return [], [*reasons, f"listed in {VAR}.allow_wipe but not wiped: {'; '.join(blockers)}"], hint
    if wipe_listed and not policy:
        return [{**_identity(disk), "action": "wipe_then_prepare", "wipe_reasons": discovery}], [], None
    if found and not blockers and not policy:
        # A loop device has no serial or by-id: its backing file is what allow_wipe names.
        ident = disk.get("serial") or disk.get("by_id_preferred") or disk.get("loop_backing_file")
        hint = f"to use it as an OSD, add {ident!r} to {VAR}.allow_wipe (this destroys its data)"
    return [], reasons, hint


def _wipe_blockers(found: list[dict[str, Any]]) -> list[str]:
    """What no wipe may override: the disk is in use, or a wipe would not make it fit."""
    blockers = [f"it is in use ({item.get('text')})" for item in of_kind(found, IN_USE)]
    return blockers + [f"wiping does not clear '{item.get('text')}'" for item in of_kind(found, UNFIT)]


def _is_ceph(disk: Mapping[str, Any]) -> bool:
    return bool(disk.get("ceph_osd")) or disk.get("fs_type") == "ceph_bluestore"


def _plan_existing_osd(
    disk: Mapping[str, Any], found: list[dict[str, Any]], policy: list[str], wipe_listed: bool
) -> tuple[list[dict[str, Any]], list[str], str | None]:
    """An existing OSD (raw BlueStore or ceph-volume LVM) is adopted, or re-created when listed in allow_wipe."""
    discovery = [str(item.get("text")) for item in found]
    if wipe_listed:
        blockers = _wipe_blockers(found)
        if blockers or policy:
            why = [f"listed in {VAR}.allow_wipe but not wiped: {'; '.join(blockers)}"] if blockers else []
            return [], discovery + policy + why, None
        return [{**_identity(disk), "action": "wipe_then_prepare", "wipe_reasons": discovery}], [], None
    busy = [item for item in of_kind(found, IN_USE, UNFIT) if item.get("code") not in ADOPT_TOLERATES]
    if busy:
        policy.append(f"existing Ceph OSD not adopted: {'; '.join(str(item.get('text')) for item in busy)}")
    if policy:
        return [], discovery + policy, None
    return [_adopt_entry(disk)], [], None


def _adopt_entry(disk: Mapping[str, Any]) -> dict[str, Any]:
    osd = disk.get("ceph_osd") or {}
    return {
        **_identity(disk),
        "action": "adopt",
        "osd_fsid": osd.get("osd_fsid"),
        "cluster_fsid": osd.get("cluster_fsid"),
    }


def _plan_system_disk(
    disk: Mapping[str, Any], pol: Mapping[str, Any], discovery: list[str], policy: list[str], wipe_listed: bool
) -> tuple[list[dict[str, Any]], list[str], str | None]:
    """The system disk is never wiped; its free space at the end can become one new OSD partition."""
    if wipe_listed:
        policy.append(f"listed in {VAR}.allow_wipe, but the system disk is never wiped")
    ceph_parts = [p for p in disk.get("partitions") or [] if p.get("fs_type") == "ceph_bluestore"]
    if ceph_parts and not policy:
        return [_partition_entry(disk, p, "adopt") for p in ceph_parts], [], None
    if disk.get("ceph_osd") and not policy:  # ceph-volume LVM OSD on one of its partitions: adopt by osd_fsid
        return [_adopt_entry(disk)], [], None
    free = int(disk.get("free_bytes") or 0)
    if not pol["use_system_disk_free_space"]:
        policy.append(f"system disk and {VAR}.use_system_disk_free_space is false")
    elif free < pol["min_partition_bytes"]:
        policy.append(
            f"system disk: free space at the end ({human_bytes(free)}) smaller than {VAR}.min_partition_bytes "
            f"({human_bytes(pol['min_partition_bytes'])})"
        )
    elif disk.get("part_table") != "gpt":
        policy.append(f"system disk: partition table is {disk.get('part_table')}, a new OSD partition needs gpt")
    busy = _whole_disk_busy(disk)
    if busy:
        policy.append(f"system disk: no new partition because {'; '.join(busy)}")
    if policy:
        return [], discovery + policy, None
    return [_new_partition(disk, free, pol["min_partition_bytes"])], [], None


def _partition_name(disk_name: str, number: int) -> str:
    """Kernel rule: names ending in a digit (nvme0n1, mmcblk0, loop0) get a 'p' before the number."""
    return f"{disk_name}{'p' if disk_name[-1:].isdigit() else ''}{number}"


def _partition_entry(disk: Mapping[str, Any], part: Mapping[str, Any], action: str) -> dict[str, Any]:
    entry = _identity(disk)
    entry.update(
        {
            "name": part.get("name") or _partition_name(disk["name"], int(part.get("number") or 0)),
            "path": part.get("path"),
            "action": action,
            "disk": disk["name"],
            "partition_number": part.get("number"),
            "size_bytes": int(part.get("size_bytes") or 0),
        }
    )
    return entry


def _new_partition(disk: Mapping[str, Any], free: int, min_bytes: int) -> dict[str, Any]:
    """Plan the new partition after the last one, 1 MiB aligned, clear of the GPT backup header."""
    parts = disk.get("partitions") or []
    last_end = max((int(p.get("start_bytes") or 0) + int(p.get("size_bytes") or 0) for p in parts), default=MIB)
    start = -(-last_end // MIB) * MIB
    usable_end = (int(disk.get("size_bytes") or 0) - GPT_TAIL_BYTES) // MIB * MIB
    size = min(free, usable_end - start) // MIB * MIB
    if size < min_bytes:
        raise PlanError(
            f"{DISKS_VAR}: {disk['name']} reports free_bytes {free} but only {human_bytes(max(size, 0))} fit after "
            f"its last partition; re-run discovery or set {VAR}.use_system_disk_free_space to false"
        )
    number = max((int(p.get("number") or 0) for p in parts), default=0) + 1
    entry = _identity(disk)
    entry.update(
        {
            "action": "create_partition",
            "disk_size_bytes": entry["size_bytes"],
            "size_bytes": size,
            "start_bytes": start,
            "partition_number": number,
            "partition_name": _partition_name(disk["name"], number),
        }
    )
    return entry


def _reject_duplicate_serials(devices: list[dict[str, Any]], rejected: list[dict[str, Any]]) -> None:
    """Two different disks with one serial (multipath, cheap USB bridges) have no reliable identity."""
    owner: dict[str, str] = {}
    for entry in list(devices):
        disk = entry.get("disk") or entry["name"]
        serial = entry.get("serial")
        if not serial:
            continue
        if owner.setdefault(serial, disk) != disk:
            devices.remove(entry)
            reason = (
                f"same serial {serial!r} as {owner[serial]} (multipath, or a bridge hiding serials): "
                "identity is ambiguous"
            )
            rejected.append({**{k: entry[k] for k in _IDENTITY_KEYS if k in entry}, "reasons": [reason]})
