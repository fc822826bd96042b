# Copyright: Cloud-in-a-Box developers
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0)
"""Wipe guard: the last look at a planned OSD device before ceph-volume writes to it.

Right before an OSD is prepared the device is discovered again (:func:`discover_disks`) and compared with its
plan entry (an element of ``ceph_osd_devices``, as written by ``playbooks/plan.yml``). Nothing is written unless

* the device is in the plan,
* it is still the same disk: the plan's /dev/disk/by-id path still leads to it and its serial matches (a loop
  device, which has neither, is identified by its path and backing file), and
* it is blank and unused: discovery (:mod:`disks`, the same rule set the plan used) has no finding for it. Live,
  that means it could be opened exclusively, no mount table of any mount namespace, swap, holder or loop device
  uses it, and neither blkid, wipefs, a GPT header (primary or backup) nor a sampled read finds anything on it.

A disk whose findings are all of kind ``data`` (signatures, partitions, non-zero content) is wiped first when its
serial, one of its by-id paths or (loop devices) its backing file is listed in ``ceph_allow_wipe``. A finding of
kind ``in_use`` or ``unfit`` refuses the disk whatever ``ceph_allow_wipe`` says. A BlueStore device whose label
names this cluster is adopted (activated, never re-created), one of another cluster is refused unless listed.
One whose label names this cluster and an OSD of its map but whose mkfs never finished (``mkfs_done`` missing: a
prepare was interrupted) held no data yet; it is wiped and prepared again, and its OSD id is purged
(``purge_osd``), so an interrupted prepare never leaves a second OSD behind. :func:`orphan_osds` finds the other
half: an OSD id that ``ceph osd new`` made and no device carries.
Every refusal names the device, what was found on it, the variable to set or the tool that frees it.

Node side: Python standard library only.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence
from typing import Any

from ansible_collections.ciab.box.plugins.module_utils.disks import (
    ADOPT_TOLERATES,
    IN_USE,
    MIB,
    UNFIT,
    discover_disks,
    exclusive_findings,
    finding,
    findings_of,
    of_kind,
    remedies,
)
from ansible_collections.ciab.box.plugins.module_utils.sysfs import (
    BlockProbe,
    Root,
    Runner,
    as_root,
    default_probe,
    default_runner,
)

PLAN_VAR = "ceph_osd_devices"
ALLOW_VAR = "ceph_allow_wipe"
# ceph-volume zeroes this much at the start of a zapped device (BlueStore label, LVM and fs superblocks).
WIPE_BYTES = 10 * MIB
# GPT partition type of a Ceph BlueStore block device.
CEPH_BLOCK_TYPECODE = "CAFECAFE-9B03-4F30-B4C6-B4B80CEFF106"
ACTIONS = ("prepare", "wipe_then_prepare", "adopt", "create_partition")
# What a wipe does not clear: it zeroes the start and the end of the disk, not every sampled place in between
# (ceph-volume prepare overwrites what it needs).
WIPE_LEAVES = ("nonzero_data",)


class GuardError(Exception):
    """The guard refuses a device; the message names it, what was found and the variable to set."""

    def __init__(self, msg: str, rc: int | None = None, stderr: str = "") -> None:
        super().__init__(msg)
        self.rc = rc
        self.stderr = stderr


def check_device(
    device: str,
    plan: Sequence[Mapping[str, Any]],
    cluster_fsid: str,
    *,
    allow_wipe: Sequence[str] = (),
    cluster_osds: Sequence[str] | None = None,
    root: str | Root = "/",
    runner: Runner | None = None,
    probe: BlockProbe | None = None,
) -> dict[str, Any]:
    """Re-discover ``device`` and decide what may be done to it; raises :class:`GuardError` to refuse.

    ``cluster_osds`` lists the OSD uuids in the cluster's OSD map: a device labelled with this cluster's fsid is
    adopted only when its OSD is among them (None: do not check). One that is not (the monitors were made anew
    with a kept fsid) is treated like an OSD of another cluster.

    Returns ``{"device", "disk", "size_bytes", "action", "identity", "found", "findings", "wipe", "osd",
    "partition", "notes"}``: ``device`` is the path ceph-volume must use now (the kernel name may have moved since
    the plan), ``action`` one of :data:`ACTIONS`, ``found`` what is on the device (texts) and ``findings`` the same
    with their codes, ``wipe`` the paths to wipe first (partitions before the disk), ``osd`` the BlueStore label of
    an adopted OSD and ``partition`` the partition to create (``create_partition``). ``probe`` opens devices
    (default: live for root ``/``, none for a captured tree).
    """
    src = as_root(root)
    run = runner or default_runner(src.root)
    probe = probe or default_probe(src.root)
    if not cluster_fsid:
        raise GuardError("cluster_fsid is empty: the guard cannot tell this cluster's OSDs from others")
    entry = plan_entry(device, plan)
    disks = discover_disks(src, run, include_loop=True, probe=probe)
    disk, notes = _locate(entry, disks, src)
    ident = _identity(disk, src)
    allowed = bool(_wipe_keys(disk, ident) & {str(key) for key in allow_wipe})
    decision: dict[str, Any] = {
        "device": disk["path"],
        "disk": disk["path"],
        "size_bytes": disk["size_bytes"],
        "action": "prepare",
        "identity": ident,
        "found": [],
        "findings": [],
        "wipe": [],
        "osd": None,
        "partition": None,
        "purge_osd": None,
        "notes": notes,
    }
    ours = _Ours(cluster_fsid, cluster_osds)
    if entry.get("action") == "create_partition" or entry.get("partition_number"):
        return _check_partition(entry, disk, decision, ours=ours, run=run, probe=probe)
    _check_size(entry, disk, "size_bytes")
    found = [dict(item) for item in findings_of(disk)]
    if _is_ceph(disk) and not [f for f in of_kind(found, IN_USE, UNFIT) if f.get("code") not in ADOPT_TOLERATES]:
        osd, error = bluestore_label(disk["path"], run)
        if ours.adopts(osd) and osd["mkfs_done"]:
            text = _describe_osd(osd, "of this cluster")
            decision.update(action="adopt", osd=osd, found=[text], findings=[finding("ceph_osd", text, disk["name"])])
            return decision
        if ours.adopts(osd):
            # Only ceph-volume's mkfs of this cluster's OSD wrote here, and it never finished: no data ever was.
            text = _describe_osd(osd, "of this cluster whose mkfs never finished (an interrupted prepare)")
            decision.update(
                action="wipe_then_prepare",
                osd=osd,
                purge_osd=osd["osd_id"],
                found=[text],
                findings=[finding("ceph_osd_unfinished", text, disk["name"])],
                wipe=_wipe_targets(disk),
            )
            return decision
        # The label says more than discovery's "already a Ceph OSD": whose it is.
        found = [f for f in found if f.get("code") != "ceph_osd"]
        found.append(finding("ceph_osd", ours.describe(osd, error), disk["name"]))
    decision.update(found=[str(f.get("text")) for f in found], findings=found)
    if not found:
        return decision
    if of_kind(found, IN_USE, UNFIT) or not allowed:
        raise GuardError(_refusal(disk, ident, found, allowed))
    decision.update(action="wipe_then_prepare", wipe=_wipe_targets(disk))
    return decision


def zap_decision(
    device: str,
    plan: Sequence[Mapping[str, Any]],
    cluster_fsid: str,
    *,
    cluster_osds: Sequence[str],
    root: str | Root = "/",
    runner: Runner | None = None,
    probe: BlockProbe | None = None,
) -> dict[str, Any]:
    """Destroy's look at a planned device: what :func:`check_device` decides, and ``zap`` the path to wipe when the
    device holds an OSD of this cluster's map (finished or not) and nothing holds it open; an empty list for a
    blank device. Anything else (another cluster's OSD, other data, a device in use) raises :class:`GuardError`:
    destroy keeps it and says why."""
    src = as_root(root)
    probe = probe or default_probe(src.root)
    if not cluster_osds:
        raise GuardError(f"{device}: the cluster's OSD map lists no OSD, so nothing on it is provably an OSD of it")
    try:
        decision = check_device(
            device, plan, cluster_fsid, cluster_osds=cluster_osds, root=src, runner=runner, probe=probe
        )
    except GuardError as exc:
        raise GuardError(f"left as it is, not provably an OSD of this cluster: {exc}", exc.rc, exc.stderr) from exc
    decision["zap"] = []
    if decision["action"] == "adopt" or decision["purge_osd"] is not None:
        path = decision["device"]
        busy = [] if probe is None else exclusive_findings(probe, path, os.path.basename(path))
        if busy:
            raise GuardError(
                f"{decision['device']} {busy[0]['text']}; nothing was wiped. Stop its OSD "
                f"(osd.{decision['osd']['osd_id']}) first."
            )
        decision["zap"] = [decision["device"]]
    elif decision["action"] == "wipe_then_prepare":
        raise GuardError(
            f"{decision['device']} holds {'; '.join(decision['found'])}, which is not this cluster's; destroy "
            "leaves it as it is"
        )
    return decision


def zap(decision: Mapping[str, Any], runner: Runner) -> list[str]:
    """Wipe what :func:`zap_decision` chose: its signatures (the BlueStore label), then discard the whole device
    (instant on NVMe and loop files; the blocks read back as zeros, so the next deploy's guard finds it blank) or,
    where the device cannot discard, zero its first 10 MiB like ``ceph-volume lvm zap``. The partition table of a
    disk with a planned partition stays. Returns the commands run."""
    if not decision.get("zap"):
        raise GuardError(f"refusing to zap {decision.get('device')}: it is not an OSD of this cluster")
    done = []
    for path in decision["zap"]:
        failed = (f"zapping {path} failed", "its OSD is stopped and it may be partly wiped")
        done.append(_checked(runner, ["wipefs", "--all", "--force", path], *failed))
        discard = ["blkdiscard", "--force", path]
        if runner.run(discard).rc == 0:
            done.append(" ".join(discard))
        else:
            zero = ["dd", "if=/dev/zero", f"of={path}", "bs=1M", f"count={WIPE_BYTES // MIB}", "oflag=direct"]
            done.append(_checked(runner, [*zero, "conv=fsync", "status=none"], *failed))
    runner.run(["udevadm", "settle", "--timeout=10"])
    return done


def _checked(runner: Runner, argv: list[str], failed: str, state: str) -> str:
    """Run one wiping command; a failure raises with the command, its rc and what state that leaves."""
    result = runner.run(argv)
    if result.rc != 0:
        raise GuardError(
            f"{failed} at '{' '.join(argv)}' (rc={result.rc}); {state}", rc=result.rc, stderr=result.stderr
        )
    return " ".join(argv)


def orphan_osds(osds: Sequence[Mapping[str, Any]], labelled: Sequence[str]) -> list[dict[str, Any]]:
    """The OSD ids interrupted prepares left in the cluster's map, to purge before preparing again.

    ``osds`` is the ``osds`` list of ``ceph osd dump``, ``labelled`` the OSD uuids that BlueStore labels carry on
    the OSD nodes (the keys of ``ceph-volume raw list`` of every node). An orphan was made by ``ceph osd new``
    (state ``new``), never started (``up_from`` 0) and is on no device: ceph-volume was stopped between asking
    the monitors for an id and writing the label. Purging it (``ceph osd purge-new``, which the monitors refuse
    for an OSD that ever started) keeps the next prepare from adding a second OSD beside it. Returns
    ``[{"osd_id", "osd_uuid"}]`` by id.
    """
    if isinstance(osds, str | bytes) or not isinstance(osds, Sequence):
        raise GuardError(f"orphan_osds wants the osds list of 'ceph osd dump', got {type(osds).__name__}")
    on_devices = {str(uuid) for uuid in labelled}
    orphans = [
        {"osd_id": int(osd["osd"]), "osd_uuid": str(osd["uuid"])}
        for osd in osds
        if "new" in (osd.get("state") or []) and not osd.get("up_from") and str(osd.get("uuid")) not in on_devices
    ]
    return sorted(orphans, key=lambda osd: osd["osd_id"])


def check_wiped(before: Mapping[str, Any], after: Mapping[str, Any]) -> None:
    """After wiping, the device must be blank but for what a wipe leaves (:data:`WIPE_LEAVES`)."""
    if after.get("action") == "prepare":
        return
    left = [f for f in after.get("findings") or [] if f.get("code") not in WIPE_LEAVES]
    if after.get("action") == "wipe_then_prepare" and not left:
        return
    found = "; ".join(str(f.get("text")) for f in left) or ", ".join(after.get("found") or [])
    raise GuardError(f"{before['device']} still holds {found} after wiping it; nothing else was written")


def plan_entry(device: str, plan: Sequence[Mapping[str, Any]]) -> Mapping[str, Any]:
    """The plan entry naming ``device`` (its path, by-id path, kernel name or planned partition)."""
    if not isinstance(plan, Sequence) or isinstance(plan, str | bytes):
        raise GuardError(f"{PLAN_VAR} must be a list of plan entries, got {type(plan).__name__}")
    for entry in plan:
        if not isinstance(entry, Mapping):
            raise GuardError(f"{PLAN_VAR} entries must be dicts, got {entry!r}")
        names = {entry.get("path"), entry.get("by_id"), entry.get("name")}
        if entry.get("partition_name"):
            names.add(f"/dev/{entry['partition_name']}")
        if device in names - {None}:
            return entry
    listed = ", ".join(str(e.get("path")) for e in plan) or "nothing"
    raise GuardError(
        f"{device} is not in the plan ({PLAN_VAR} lists {listed}); nothing was written. Only planned devices "
        f"become OSDs: re-run playbooks/plan.yml and review it, or add the device to {PLAN_VAR}."
    )


def bluestore_label(path: str, runner: Runner) -> tuple[dict[str, Any] | None, str | None]:
    """(``{"osd_id", "osd_fsid", "cluster_fsid", "mkfs_done"}``, None) from the BlueStore label of ``path``, or
    (None, error). ``mkfs_done`` is False while ``ceph-osd --mkfs`` has not finished (it is written last)."""
    result = runner.run(["ceph-bluestore-tool", "show-label", "--dev", path])
    if result.rc != 0:
        detail = (result.stderr.strip().splitlines() or ["no output"])[-1]
        return None, f"ceph-bluestore-tool show-label rc={result.rc}: {detail}"
    try:
        labels = json.loads(result.stdout)
        label = labels.get(path) or next(iter(labels.values()))
        return {
            "osd_id": int(label["whoami"]),
            "osd_fsid": str(label["osd_uuid"]),
            "cluster_fsid": str(label["ceph_fsid"]),
            "mkfs_done": label.get("mkfs_done") == "yes",
        }, None
    except (ValueError, KeyError, TypeError, AttributeError, StopIteration) as exc:
        return None, f"ceph-bluestore-tool show-label printed no usable label ({type(exc).__name__}: {exc})"


def wipe(decision: Mapping[str, Any], runner: Runner) -> list[str]:
    """Wipe signatures and partition tables from ``decision["wipe"]`` (partitions first) and zero the start of the
    disk, like ``ceph-volume lvm zap`` (which leaves loop devices alone). Returns the commands run."""
    targets = list(decision.get("wipe") or [])
    if decision.get("action") != "wipe_then_prepare" or not targets:
        raise GuardError(f"refusing to wipe {decision.get('device')}: the guard did not decide to wipe it")
    commands = [["wipefs", "--all", "--force", path] for path in targets]
    zero = ["dd", "if=/dev/zero", f"of={targets[-1]}", "bs=1M", f"count={WIPE_BYTES // MIB}", "oflag=direct"]
    commands.append([*zero, "conv=fsync", "status=none"])
    size = int(decision.get("size_bytes") or 0)
    if size > WIPE_BYTES:
        # The backup GPT header sits in the last sectors; wipefs misses it once the protective MBR is gone.
        tail = ["dd", "if=/dev/zero", f"of={targets[-1]}", "bs=1M", "count=1", f"seek={size - MIB}"]
        commands.append([*tail, "oflag=direct,seek_bytes", "conv=fsync", "status=none"])
    failed = (f"wiping {decision['device']} failed", "the device may be partly wiped and is not used")
    done = [_checked(runner, argv, *failed) for argv in commands]
    # udev re-probes the device after the last writer closes it; let it finish so discovery sees the result.
    runner.run(["udevadm", "settle", "--timeout=10"])
    return done


# -- identity --------------------------------------------------------------------------------------
def _locate(entry: Mapping[str, Any], disks: list[dict], src: Root) -> tuple[dict, list[str]]:
    """The disk the plan entry means, found by by-id path, else serial, else (loop) kernel name."""
    planned = entry.get("path") or f"/dev/{entry.get('name')}"
    disk_name = entry.get("disk") or entry.get("name")
    by_id, serial = entry.get("by_id"), entry.get("serial")
    loop = entry.get("transport") == "loop"
    if by_id:
        hits = [d for d in disks if by_id in d["by_id"]]
        if not hits:
            raise GuardError(
                f"refused {planned}: its plan identity {by_id} no longer exists (the disk was removed or "
                f"replaced since the plan); nothing was written. Re-run playbooks/plan.yml and review {PLAN_VAR}."
            )
    elif serial:
        hits = [d for d in disks if d.get("serial") == serial]
    elif loop:
        hits = [d for d in disks if d["name"] == disk_name]
    else:
        raise GuardError(
            f"refused {planned}: its plan entry has neither a /dev/disk/by-id path nor a serial, so the guard "
            f"cannot tell whether it is still the same disk; nothing was written. Give the disk a serial and "
            f"re-run playbooks/plan.yml."
        )
    if len(hits) != 1:
        what = "no disk" if not hits else f"{len(hits)} disks ({', '.join(d['name'] for d in hits)})"
        raise GuardError(
            f"refused {planned}: {what} now match(es) its plan identity ({by_id or serial or disk_name}); "
            f"nothing was written. Re-run playbooks/plan.yml and review {PLAN_VAR}."
        )
    disk = hits[0]
    if serial and disk.get("serial") != serial:
        raise GuardError(
            f"refused {disk['path']}: serial {disk.get('serial')!r} is not the planned {serial!r} (a different disk "
            f"answers to {by_id}); nothing was written. Re-run playbooks/plan.yml and review {PLAN_VAR}."
        )
    if loop or disk["transport"] == "loop":
        _check_backing_file(entry, disk, src)
    notes = []
    if disk_name and disk["name"] != disk_name:
        notes.append(f"kernel name changed from {disk_name} to {disk['name']} since the plan (followed {by_id})")
    return disk, notes


def _check_backing_file(entry: Mapping[str, Any], disk: dict, src: Root) -> None:
    planned = entry.get("loop_backing_file")
    current = _backing_file(disk, src)
    if not planned:
        raise GuardError(
            f"refused {disk['path']}: a loop device is identified by its backing file, and its plan entry "
            f"records none (now {current or 'none'}); nothing was written. Re-run playbooks/plan.yml with a "
            f"discovery that reports loop_backing_file, or add loop_backing_file to its entry in {PLAN_VAR}."
        )
    if planned != current:
        raise GuardError(
            f"refused {disk['path']}: it is backed by {current or 'nothing'}, the plan says {planned}; "
            f"nothing was written. Re-run playbooks/plan.yml and review {PLAN_VAR}."
        )


def _backing_file(disk: Mapping[str, Any], src: Root) -> str | None:
    return disk.get("loop_backing_file") or src.read_str(f"/sys/block/{disk['name']}/loop/backing_file")


def _identity(disk: Mapping[str, Any], src: Root) -> dict[str, Any]:
    return {
        "by_id": disk.get("by_id_preferred") or next(iter(disk.get("by_id") or []), None),
        "serial": disk.get("serial"),
        "loop_backing_file": _backing_file(disk, src) if disk.get("transport") == "loop" else None,
    }


def _wipe_keys(disk: Mapping[str, Any], ident: Mapping[str, Any]) -> set[str]:
    """What ceph_allow_wipe may name a disk by: serial, by-id paths and their basenames, loop backing file."""
    keys = {str(p) for p in disk.get("by_id") or []}
    keys |= {os.path.basename(p) for p in keys}
    keys |= {str(ident[k]) for k in ("serial", "loop_backing_file") if ident.get(k)}
    return keys


def _wipe_key(disk: Mapping[str, Any], ident: Mapping[str, Any]) -> str:
    return str(ident.get("serial") or ident.get("loop_backing_file") or ident.get("by_id") or disk["path"])


def _wipe_targets(disk: Mapping[str, Any]) -> list[str]:
    """What a wipe of the whole disk clears: its partitions first, then the disk."""
    return [p["path"] for p in disk["partitions"]] + [disk["path"]]


def _check_size(entry: Mapping[str, Any], disk: Mapping[str, Any], key: str) -> None:
    planned = entry.get(key)
    if planned and int(planned) != disk["size_bytes"]:
        raise GuardError(
            f"refused {disk['path']}: its size is {disk['size_bytes']} bytes, the plan says {planned}; nothing "
            f"was written. Re-run playbooks/plan.yml and review {PLAN_VAR}."
        )


# -- content ---------------------------------------------------------------------------------------
def _is_ceph(item: Mapping[str, Any]) -> bool:
    return item.get("fs_type") == "ceph_bluestore" or bool(item.get("ceph_osd"))


def _describe_osd(osd: Mapping[str, Any], whose: str) -> str:
    return f"BlueStore OSD osd.{osd['osd_id']} (osd fsid {osd['osd_fsid']}) {whose}"


class _Ours:
    """Which BlueStore labels belong to the cluster being deployed."""

    def __init__(self, cluster_fsid: str, cluster_osds: Sequence[str] | None) -> None:
        self.fsid = cluster_fsid
        self.osds = None if cluster_osds is None else {str(uuid) for uuid in cluster_osds}

    def adopts(self, osd: Mapping[str, Any] | None) -> bool:
        return bool(osd) and osd["cluster_fsid"] == self.fsid and (self.osds is None or osd["osd_fsid"] in self.osds)

    def describe(self, osd: Mapping[str, Any] | None, error: str | None) -> str:
        """What a BlueStore device that is not adopted is."""
        if not osd:
            return f"a BlueStore signature whose label cannot be read ({error})"
        if self.adopts(osd):
            return _describe_osd(
                osd, f"of this cluster whose mkfs never finished (free it: ceph osd purge-new {osd['osd_id']}, wipefs)"
            )
        if osd["cluster_fsid"] == self.fsid:
            return _describe_osd(
                osd, "labelled with this cluster's fsid but missing from its OSD map (were the monitors made anew?)"
            )
        return _describe_osd(osd, f"of another cluster (fsid {osd['cluster_fsid']})")


def _refusal(disk: Mapping[str, Any], ident: Mapping[str, Any], found: list[dict[str, Any]], allowed: bool) -> str:
    who = ident.get("serial") and f"serial {ident['serial']}"
    who = who or (ident.get("loop_backing_file") and f"loop backing file {ident['loop_backing_file']}")
    who = who or ident.get("by_id") or "no stable identity"
    texts = "; ".join(str(f.get("text")) for f in found)
    msg = f"refused {disk['path']} ({who}), found: {texts}. Nothing was written."
    in_use, unfit = of_kind(found, IN_USE), of_kind(found, UNFIT)
    fixes = "; ".join(remedies(in_use + unfit, disk["path"]))
    if in_use:
        listed = f" (being listed in {ALLOW_VAR} does not change that)" if allowed else ""
        return (
            f"{msg} It is in use, and the guard never wipes a disk in use{listed}: free it first ({fixes}), or "
            f"take it out of {PLAN_VAR}."
        )
    if unfit:
        return f"{msg} {ALLOW_VAR} cannot help here: {fixes}; or take it out of {PLAN_VAR}."
    return (
        f"{msg} If everything on it may be destroyed, add {_wipe_key(disk, ident)!r} to {ALLOW_VAR} "
        f"(or to ciab_osd_policy.allow_wipe and re-plan); otherwise take it out of {PLAN_VAR}."
    )


# -- a new OSD partition on the system disk ---------------------------------------------------------
def _check_partition(
    entry: Mapping[str, Any],
    disk: dict,
    decision: dict[str, Any],
    *,
    ours: _Ours,
    run: Runner,
    probe: BlockProbe | None,
) -> dict[str, Any]:
    """Plan entries for a partition: ``create_partition`` (free space of the system disk) or an adopted one."""
    number = int(entry.get("partition_number") or 0)
    part = next((p for p in disk["partitions"] if p["number"] == number), None)
    creating = entry.get("action") == "create_partition"
    if creating:
        _check_size(entry, disk, "disk_size_bytes")
    if part is None:
        if not creating:
            raise GuardError(
                f"refused {disk['path']}: partition {number} of the plan no longer exists; nothing was written. "
                f"Re-run playbooks/plan.yml and review {PLAN_VAR}."
            )
        decision.update(action="create_partition", partition=_new_partition(entry, disk))
        decision["device"] = decision["partition"]["path"]
        return decision
    decision["device"] = part["path"]
    in_use = [f for f in of_kind(findings_of(disk), IN_USE) if f.get("device") == part["name"]]
    if not in_use and probe is not None:
        in_use = exclusive_findings(probe, part["path"], part["name"])
    if _is_ceph(part):  # our own OSD daemon may hold its partition open
        in_use = [f for f in in_use if f.get("code") not in ADOPT_TOLERATES]
    blockers = [str(f.get("text")) for f in in_use]
    if not blockers and _is_ceph(part):
        osd, error = bluestore_label(part["path"], run)
        if ours.adopts(osd) and osd["mkfs_done"]:
            decision.update(action="adopt", osd=osd, found=[_describe_osd(osd, "of this cluster")])
            return decision
        blockers.append(ours.describe(osd, error))
    elif part.get("fs_type"):
        blockers.append(f"a {part['fs_type']} signature on {part['name']}")
    if (
        creating
        and not blockers
        and (part["start_bytes"], part["size_bytes"])
        != (
            entry.get("start_bytes"),
            entry.get("size_bytes"),
        )
    ):
        blockers.append(
            f"partition {part['name']} exists at {part['start_bytes']}+{part['size_bytes']} bytes, not where the "
            f"plan puts it ({entry.get('start_bytes')}+{entry.get('size_bytes')})"
        )
    if blockers:
        decision["found"] = blockers
        raise GuardError(
            f"refused {part['path']} (partition {number} of {disk['path']}): found {'; '.join(blockers)}; nothing "
            f"was written. Partitions of the system disk are never wiped: remove the partition yourself or take "
            f"it out of {PLAN_VAR}."
        )
    # An empty partition where the plan puts one: a previous run created it and stopped before preparing it.
    decision["notes"].append(f"partition {part['name']} already exists where the plan puts it and is empty")
    return decision


def _new_partition(entry: Mapping[str, Any], disk: Mapping[str, Any]) -> dict[str, Any]:
    start, size = int(entry.get("start_bytes") or 0), int(entry.get("size_bytes") or 0)
    lbs = int(disk.get("logical_block_size") or 512)
    problems = []
    if disk.get("part_table") != "gpt":
        problems.append(f"its partition table is {disk.get('part_table')}, not gpt")
    if disk.get("read_only"):
        problems.append("it is read-only")
    if size <= 0 or start % MIB or size % MIB:
        problems.append(f"the planned partition {start}+{size} bytes is empty or not 1 MiB aligned")
    if start + size > disk["size_bytes"] - MIB:
        problems.append(f"the planned partition ends past the usable end of the disk ({disk['size_bytes']} bytes)")
    for part in disk["partitions"]:
        if start < part["start_bytes"] + part["size_bytes"] and part["start_bytes"] < start + size:
            problems.append(f"it would overlap partition {part['name']}")
    if problems:
        raise GuardError(
            f"refused to create partition {entry.get('partition_number')} on {disk['path']}: {'; '.join(problems)}; "
            f"nothing was written. Re-run playbooks/plan.yml and review {PLAN_VAR}."
        )
    number = int(entry["partition_number"])
    sep = "p" if disk["name"][-1:].isdigit() else ""
    return {
        "disk": disk["path"],
        "number": number,
        "path": f"/dev/{disk['name']}{sep}{number}",
        "start_sector": start // lbs,
        "end_sector": (start + size) // lbs - 1,
        "typecode": CEPH_BLOCK_TYPECODE,
    }
