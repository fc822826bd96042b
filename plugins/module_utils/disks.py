# Copyright: Cloud-in-a-Box developers
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0)
"""Block device discovery: one dict per whole disk, partitions nested, with OSD eligibility and findings.

Reads sysfs and the udev database through :mod:`sysfs`; when udev has no record of a device (containers,
no udev, captured trees without /run/udev) signatures come from ``blkid -p -o export`` through the runner.

"Eligible" means blank and unused. Every reason a disk is not eligible is a *finding*
``{"code", "kind", "text"}``; ``reasons`` keeps the texts for humans. The kind of a code comes from
:data:`CODES`, the one rule set that discovery, the ``osd_devices`` plan filter and the OSD wipe guard share:

* ``in_use``: something uses the disk (a mount in any mount namespace, swap, a holder, an exclusive opener, a
  loop device on top of it, a second loop device on the same backing file). Never wiped; ``allow_wipe`` cannot
  override it.
* ``data``: the disk holds data (signatures, partitions, GPT headers, non-zero sampled content). Wiped only when
  the user lists it in ``allow_wipe``.
* ``unfit``: neither in use nor data, and a wipe does not help (read-only, removable, size 0, probe failed).

On the live system (root ``/``) a disk with no finding so far is opened: exclusively (is it unused?) and to
read every signature ``wipefs`` knows, the primary and backup GPT headers and a sample of its content. A
captured tree holds no disk contents, so a replay skips those reads (the guard repeats them live).
Node side: Python standard library only.
"""

from __future__ import annotations

import errno
import json
import os
import re
from collections.abc import Callable, Iterable, Mapping

from ansible_collections.ciab.box.plugins.module_utils.sysfs import (
    SECTOR,
    BlockProbe,
    Root,
    Runner,
    UdevEntry,
    as_root,
    default_probe,
    default_runner,
    pci_parent,
)

MIB = 1 << 20
SKIPPED_PREFIXES = ("ram", "zram", "dm-", "md", "sr", "fd", "nbd")
SYSTEM_MOUNTS = ("/", "/boot", "/boot/efi", "/usr", "/var")
NVME_NAMESPACE = re.compile(r"^nvme(\d+)n(\d+)$")
NVME_PATH = re.compile(r"^nvme\d+c\d+n\d+$")
MMC_SPECIAL = re.compile(r"^mmcblk\d+(boot\d+|rpmb)$")
_HEX_ESCAPE = re.compile(r"\\x([0-9a-fA-F]{2})")
# blkid -p exit code for an "ambivalent" result: more than one signature, none of them sure.
BLKID_AMBIVALENT = 8
SAMPLE_BYTES = 64 << 10
SPREAD_SAMPLES = 64

IN_USE, DATA, UNFIT = "in_use", "data", "unfit"
# code -> (kind, what the user can do about it; {path} is the device). One table for discovery, plan and guard.
CODES: dict[str, tuple[str, str]] = {
    # in use: never wiped, allow_wipe cannot override
    "mounted": (IN_USE, "unmount it (findmnt {path})"),
    "mounted_elsewhere": (IN_USE, "unmount it in that mount namespace (findmnt -N <pid> {path})"),
    "swap": (IN_USE, "swapoff it and remove it from /etc/fstab"),
    "held": (IN_USE, "stop what is built on it (lsblk {path}; vgchange -an, dmsetup remove, mdadm --stop)"),
    "held_by_osd": (IN_USE, "stop and destroy that OSD first (ceph-volume lvm zap --destroy), if it must go"),
    "open_exclusive": (IN_USE, "find and stop the program holding it (fuser -v {path}; lsof {path})"),
    "loop_backing": (IN_USE, "detach the loop device on top of it (losetup -j {path}; losetup -d)"),
    "shared_backing": (IN_USE, "detach the other loop device(s) on its backing file (losetup -j <file>; losetup -d)"),
    # holds data: wiped only when listed in allow_wipe
    "fs_signature": (DATA, ""),
    "md_signature": (DATA, ""),
    "lvm_pv": (DATA, ""),
    "ceph_osd": (DATA, ""),
    # an OSD of the cluster being deployed whose mkfs never finished: the guard wipes it without allow_wipe
    "ceph_osd_unfinished": (DATA, ""),
    "part_table": (DATA, ""),
    "partitions": (DATA, ""),
    "signature": (DATA, ""),
    "gpt_header": (DATA, ""),
    "nonzero_data": (DATA, ""),
    # unfit: a wipe does not help
    "loop": (UNFIT, "set ciab_osd_policy.include_loop: true (sandbox and CI only)"),
    "size_zero": (UNFIT, "check the device (no medium in a card reader, a failed or detached disk: lsblk {path})"),
    "read_only": (UNFIT, "make it writable (blockdev --setrw {path}, or the controller's write protection)"),
    "removable": (UNFIT, "removable devices do not become OSDs; use a fixed disk"),
    "no_device_node": (UNFIT, "run discovery where the device node exists (pass the device into the container)"),
    "probe_failed": (UNFIT, "look at it yourself (blkid -p {path}; wipefs -n {path}) and run as root"),
    "probe_ambivalent": (
        UNFIT,
        "list its signatures with wipefs -n {path}; if nothing on it is needed, remove them (wipefs --all {path})",
    ),
    "unverified": (UNFIT, "run as root (become: true) so the device can be opened and read"),
    "unknown": (UNFIT, "re-run discovery (ciab.box.disk_facts) so the reason carries a code"),
}


# An OSD is held by its own ceph-volume logical volume and opened by its own daemon: adopting it is not a wipe.
ADOPT_TOLERATES = ("held_by_osd", "open_exclusive")


def finding(code: str, text: str, device: str | None = None) -> dict[str, str | None]:
    """One reason a disk is not eligible: ``kind`` comes from :data:`CODES` (unknown codes are ``unfit``);
    ``device`` is the disk or partition it concerns (null: the whole disk)."""
    return {"code": code, "kind": kind_of({"code": code}), "text": text, "device": device}


def kind_of(item: Mapping[str, object]) -> str:
    """The kind of a finding, looked up by its code: a finding cannot declare itself wipeable."""
    return CODES.get(str(item.get("code")), (UNFIT, ""))[0]


def of_kind(findings: Iterable[Mapping[str, object]], *kinds: str) -> list[Mapping[str, object]]:
    return [item for item in findings if kind_of(item) in kinds]


def remedies(findings: Iterable[Mapping[str, object]], path: str) -> list[str]:
    """What the user can do about ``findings`` (in use / unfit ones), each once, in order."""
    out: list[str] = []
    for item in findings:
        text = CODES.get(str(item.get("code")), CODES["unknown"])[1].replace("{path}", path)
        if text and text not in out:
            out.append(text)
    return out


def findings_of(disk: Mapping[str, object]) -> list[Mapping[str, object]]:
    """A disk's findings; facts without them (an older discovery) get one ``unknown`` finding per reason."""
    found = disk.get("findings")
    if isinstance(found, list):
        return [item for item in found if isinstance(item, Mapping)]
    return [finding("unknown", str(reason)) for reason in disk.get("reasons") or []]


class _Context:
    """Tables shared by all disks of one discovery run, read once."""

    def __init__(
        self, src: Root, runner: Runner, warn: Callable[[str], None] | None, probe: BlockProbe | None = None
    ) -> None:
        self.src = src
        self.runner = runner
        self.probe = probe
        self.warn = warn or (lambda _msg: None)
        self.block = src.listdir("/sys/block")
        self.mounts = src.mounts()
        self.foreign_mounts = src.foreign_mounts()
        self.swaps = src.swaps()
        self.backed_by: dict[str, list[str]] = {}  # maj:min of a block device -> loop devices on top of it
        self.loop_files: dict[object, list[str]] = {}  # backing file identity -> loop devices attached to it
        self.loop_key: dict[str, object] = {}
        for name in self.block:
            if name.startswith("loop"):
                self._loop(name)
        self.by_id: dict[str, list[str]] = {}
        for link in src.listdir("/dev/disk/by-id"):
            target = src.readlink(f"/dev/disk/by-id/{link}")
            if target:
                self.by_id.setdefault(os.path.basename(target), []).append(f"/dev/disk/by-id/{link}")
        self._subsystems: dict[str, str] | None = None

    def _loop(self, name: str) -> None:
        backing = self.src.read_str(f"/sys/block/{name}/loop/backing_file")
        if not backing:
            return
        path = backing.removesuffix(" (deleted)")
        majmin = self.src.majmin_of(path)
        if majmin:
            self.backed_by.setdefault(majmin, []).append(name)
            key: object = ("dev", majmin)
        else:
            try:  # one file under two names (a hard link, a bind mount) is still one file
                info = os.stat(self.src.join(path))
                key = ("inode", info.st_dev, info.st_ino)
            except OSError:
                key = ("path", path)
        self.loop_key[name] = key
        self.loop_files.setdefault(key, []).append(name)

    def nvme_subsystem_of(self, controller: str) -> str | None:
        if self._subsystems is None:
            self._subsystems = {}
            for subsys in self.src.listdir("/sys/class/nvme-subsystem"):
                for entry in self.src.listdir(f"/sys/class/nvme-subsystem/{subsys}"):
                    if re.match(r"^nvme\d+$", entry):
                        self._subsystems[entry] = subsys
        return self._subsystems.get(controller)


def discover_disks(
    root: str | Root = "/",
    runner: Runner | None = None,
    include_loop: bool = False,
    warn: Callable[[str], None] | None = None,
    probe: BlockProbe | None = None,
) -> list[dict]:
    """Whole block devices of the node under ``root`` as fact dicts (see the ciab_disks schema).

    ``include_loop`` makes loop devices with a backing file eligible (the sandbox uses loop files);
    they are reported either way. ``warn`` receives one message per command that failed. ``probe`` opens
    devices (exclusive open, content samples); default: the live probe for root ``/``, none for a captured
    tree, and none while capturing (a capture holds no disk contents, so its replay must not depend on them).
    """
    src = as_root(root)
    if probe is None and src.journal is None:
        probe = default_probe(src.root)
    ctx = _Context(src, runner or default_runner(src.root), warn, probe)
    disks = []
    for name in ctx.block:
        if name.startswith(SKIPPED_PREFIXES) or NVME_PATH.match(name) or MMC_SPECIAL.match(name):
            continue
        disk = _disk(ctx, name, include_loop)
        if disk is not None:
            disks.append(disk)
    return disks


def _disk(ctx: _Context, name: str, include_loop: bool) -> dict | None:
    src = ctx.src
    sys = f"/sys/block/{name}"
    if name.startswith("loop") and not src.read_str(f"{sys}/loop/backing_file"):
        return None
    if src.read_int(f"{sys}/hidden", 0) == 1:  # NVMe multipath paths: the head device is reported
        return None
    devpath = src.resolve(sys)
    majmin = src.read_str(f"{sys}/dev")
    udev = src.udev(majmin)
    props = udev.props if udev else {}
    lbs = src.read_int(f"{sys}/queue/logical_block_size") or src.read_int(f"{sys}/queue/hw_sector_size") or SECTOR
    nvme, controller_dir = _nvme(ctx, name, sys)
    hw_path = src.resolve(f"{controller_dir}/device") if controller_dir else devpath
    pci_dir = pci_parent(hw_path)
    numa = src.read_int(f"{pci_dir}/numa_node") if pci_dir else None
    transport = _transport(src, name, sys, devpath, props)
    signature, probe_error = _signature(ctx, name, udev)
    partitions = [_partition(ctx, name, entry) for entry in src.listdir(sys) if _is_partition(src, name, entry)]
    partitions.sort(key=lambda p: p["number"])
    holders = _holders(src, sys)
    by_id = _rank_by_id({*ctx.by_id.get(name, []), *_udev_by_id(udev)})
    disk = {
        "name": name,
        "path": f"/dev/{name}",
        "kind": "disk",
        "by_id": [link for _, link in by_id],
        "by_id_preferred": next((link for rank, link in by_id if rank <= 1), None),
        "wwn": _wwn(src, sys, props, nvme),
        "eui": _eui(src, sys) if nvme else None,
        "serial": _udev_value(props, "ID_SERIAL_SHORT") or _first_attr(src, controller_dir, sys, "serial"),
        "model": _udev_value(props, "ID_MODEL") or _first_attr(src, controller_dir, sys, "model"),
        "vendor": _udev_value(props, "ID_VENDOR") or _scsi_vendor(src, sys),
        "firmware": _udev_value(props, "ID_REVISION") or _first_attr(src, controller_dir, sys, "firmware_rev", "rev"),
        "transport": transport,
        "size_bytes": (src.read_int(f"{sys}/size") or 0) * SECTOR,
        "rotational": bool(src.read_bool(f"{sys}/queue/rotational", False)),
        "removable": bool(src.read_bool(f"{sys}/removable", False)),
        "read_only": bool(src.read_bool(f"{sys}/ro", False)),
        "logical_block_size": lbs,
        "physical_block_size": src.read_int(f"{sys}/queue/physical_block_size") or lbs,
        "numa_node": numa if numa is not None and numa >= 0 else None,
        "pci_address": os.path.basename(pci_dir) if pci_dir else None,
        "nvme": nvme,
        # A loop device has no serial or by-id: its backing file is its identity (the sandbox's data disks).
        "loop_backing_file": src.read_str(f"{sys}/loop/backing_file") if name.startswith("loop") else None,
        "partitions": partitions,
        "holders": holders,
        "mountpoints": ctx.mounts.get(majmin or "", []),
        "fs_type": signature.get("fs_type"),
        "part_table": signature.get("part_table"),
        "ceph_osd": None,
        "system": False,
        "free_bytes": 0,
        "eligible_for_osd": False,
        "reasons": [],
        "findings": [],
    }
    disk["free_bytes"] = _free_bytes(disk)
    if src.root == "/" and not os.path.exists(disk["path"]):
        # sysfs is not namespaced: a container sees every disk of its host but only the device nodes passed in.
        text = f"no device node {disk['path']} on this system (a host disk seen from a container?)"
        disk["findings"].append(finding("no_device_node", text))
    _judge(ctx, disk, majmin, signature, probe_error, include_loop=include_loop)
    return disk


# -- identity ------------------------------------------------------------------------------------
def _nvme(ctx: _Context, name: str, sys: str) -> tuple[dict | None, str | None]:
    """NVMe facts and the sysfs directory of the (first) controller, for a namespace block device."""
    match = NVME_NAMESPACE.match(name)
    if not match:
        return None, None
    src = ctx.src
    parent = src.link_name(f"{sys}/device") or ""
    if parent.startswith("nvme-subsys"):
        # Native multipath head: paths are hidden nvme<subsys>c<ctrl>n<ns> devices.
        subsystem = parent
        path = re.compile(rf"^nvme{match.group(1)}c(\d+)n{match.group(2)}$")
        controllers = [f"nvme{m.group(1)}" for m in map(path.match, ctx.block) if m]
        if not controllers:
            controllers = [e for e in src.listdir(f"/sys/class/nvme-subsystem/{parent}") if re.match(r"^nvme\d+$", e)]
    else:
        controllers = [parent] if parent else []
        subsystem = ctx.nvme_subsystem_of(parent) if parent else None
    controllers.sort(key=lambda c: int(c[4:]) if c[4:].isdigit() else 0)
    controller = controllers[0] if controllers else None
    facts = {
        "controller": controller,
        "namespace": src.read_int(f"{sys}/nsid", int(match.group(2))),
        "subsystem": subsystem,
        "multipath": len(controllers) > 1,
    }
    return facts, (f"/sys/class/nvme/{controller}" if controller else None)


def _eui(src: Root, sys: str) -> str | None:
    """NVMe namespace EUI in by-id form (``eui.<hex>``): NGUID, else EUI-64, else an eui. wwid."""
    for attr in ("nguid", "eui"):
        value = src.read_str(f"{sys}/{attr}")
        if value:
            digits = re.sub(r"[^0-9a-fA-F]", "", value).lower()
            if digits.strip("0"):
                return f"eui.{digits}"
    wwid = src.read_str(f"{sys}/wwid") or ""
    return wwid if wwid.startswith("eui.") else None


def _wwn(src: Root, sys: str, props: dict[str, str], nvme: dict | None) -> str | None:
    value = _udev_value(props, "ID_WWN_WITH_EXTENSION") or _udev_value(props, "ID_WWN")
    if value:
        return value
    if nvme:
        return src.read_str(f"{sys}/wwid")
    wwid = src.read_str(f"{sys}/device/wwid") or ""
    return "0x" + wwid[4:] if wwid.startswith("naa.") else None


def _udev_value(props: dict[str, str], key: str) -> str | None:
    """A udev property, preferring the hex-escaped ``*_ENC`` form (spaces kept) when there is one."""
    encoded = props.get(key + "_ENC")
    if encoded:
        value = _HEX_ESCAPE.sub(lambda m: chr(int(m.group(1), 16)), encoded).strip()
    else:
        value = props.get(key, "").strip()
        if key in ("ID_MODEL", "ID_VENDOR"):
            value = value.replace("_", " ").strip()
    return value or None


def _first_attr(src: Root, controller_dir: str | None, sys: str, *attrs: str) -> str | None:
    """First present attribute: NVMe controller, else the device (SCSI), else the disk (virtio serial)."""
    bases = [controller_dir] if controller_dir else [f"{sys}/device", sys]
    for base in bases:
        for attr in attrs:
            value = src.read_str(f"{base}/{attr}")
            if value:
                return value
    return None


def _scsi_vendor(src: Root, sys: str) -> str | None:
    vendor = src.read_str(f"{sys}/device/vendor")
    # virtio and PCI devices expose a numeric vendor id there, not a name.
    return None if vendor is None or vendor.startswith("0x") else vendor


def _udev_by_id(udev: UdevEntry | None) -> list[str]:
    return [f"/dev/{link}" for link in (udev.links if udev else []) if link.startswith("disk/by-id/")]


def _rank_by_id(links: set[str]) -> list[tuple[int, str]]:
    """(rank, link) best first. udev keeps the bare nvme-<model>_<serial> link only for compatibility (it "might get
    overridden on adding a new nvme controller"): where nvme-<model>_<serial>_<nsid> exists, the bare one ranks 2."""
    names = {os.path.basename(link) for link in links}

    def key(link: str) -> tuple[int, str]:
        rank, name = _by_id_key(link)
        if name.startswith("nvme-") and any(o.startswith(name + "_") and o[len(name) + 1 :].isdigit() for o in names):
            rank = 2
        return rank, name

    return sorted(((key(link)[0], link) for link in links), key=lambda item: (item[0], os.path.basename(item[1])))


def _by_id_key(link: str) -> tuple[int, str]:
    """Best first: wwn-/nvme-eui./nvme-nvme. (0), model_serial names (1), other hardware ids (2), volume ids (3)."""
    name = os.path.basename(link)
    if name.startswith(("wwn-", "nvme-eui.", "nvme-uuid.", "nvme-nvme.")):
        return 0, name
    if name.startswith(("lvm-pv-uuid-", "dm-", "md-")):
        return 3, name
    if name.startswith(("ata-", "nvme-", "scsi-", "usb-", "mmc-", "ieee1394-")) and "_" in name:
        return 1, name
    if name.startswith("virtio-"):
        return 1, name
    return 2, name


def _transport(src: Root, name: str, sys: str, devpath: str, props: dict[str, str]) -> str:
    """Bus of a disk, from its name, its sysfs device path, its driver/subsystem and udev's ID_BUS/ID_PATH."""
    by_name = next(
        (t for prefix, t in (("loop", "loop"), ("nvme", "nvme"), ("mmcblk", "mmc")) if name.startswith(prefix)), None
    )
    if by_name:
        return by_name
    bus = props.get("ID_BUS")
    subsystem = src.link_name(f"{sys}/device/subsystem")
    virtio = subsystem == "virtio" or src.link_name(f"{sys}/device/driver") == "virtio_blk"
    checks = (
        # USB first: USB-SATA bridges look like SCSI disks.
        ("usb", "/usb" in devpath or bus == "usb"),
        # virtio-blk (vdX) and disks behind virtio-scsi.
        ("virtio", virtio or re.search(r"/virtio\d+/", devpath) is not None),
        # libata puts ataN in the device path.
        ("sata", re.search(r"/ata\d+/", devpath) is not None or bus == "ata"),
        # SAS transport class: end devices and expanders.
        ("sas", re.search(r"/(end_device|expander)-\d+", devpath) is not None or "-sas-" in props.get("ID_PATH", "")),
        ("scsi", subsystem == "scsi" or bus == "scsi"),
    )
    return next((transport for transport, hit in checks if hit), "unknown")


# -- signatures, partitions, holders -------------------------------------------------------------
def _signature(ctx: _Context, name: str, udev: UdevEntry | None) -> tuple[dict, tuple[int, str] | None]:
    """Filesystem/partition-table signature: udev's probe when it has one, else ``blkid -p``."""
    if udev is not None:
        props = udev.props
        return {
            "fs_type": props.get("ID_FS_TYPE") or None,
            "fs_uuid": props.get("ID_FS_UUID") or None,
            "part_table": props.get("ID_PART_TABLE_TYPE") or None,
        }, None
    result = ctx.runner.run(["blkid", "-p", "-o", "export", f"/dev/{name}"])
    stderr = result.stderr.strip().splitlines()
    if result.rc == 2 and not stderr:  # blkid: nothing found
        return {}, None
    if result.rc != 0:
        detail = stderr[0] if stderr else "no output"
        error = f"blkid rc={result.rc}: {detail}"
        ctx.warn(f"could not probe /dev/{name} for signatures ({error})")
        return {}, (result.rc, error)
    values = dict(line.partition("=")[::2] for line in result.stdout.splitlines() if "=" in line)
    return {
        "fs_type": values.get("TYPE") or None,
        "fs_uuid": values.get("UUID") or None,
        "part_table": values.get("PTTYPE") or None,
    }, None


def _is_partition(src: Root, disk: str, entry: str) -> bool:
    return entry.startswith(disk) and entry != disk and src.read_int(f"/sys/block/{disk}/{entry}/partition") is not None


def _partition(ctx: _Context, disk: str, name: str) -> dict:
    src = ctx.src
    sys = f"/sys/block/{disk}/{name}"
    majmin = src.read_str(f"{sys}/dev")
    signature, _error = _signature(ctx, name, src.udev(majmin))
    return {
        "name": name,
        "path": f"/dev/{name}",
        "number": src.read_int(f"{sys}/partition", 0),
        # sysfs start/size are in 512-byte sectors whatever the logical block size.
        "start_bytes": (src.read_int(f"{sys}/start") or 0) * SECTOR,
        "size_bytes": (src.read_int(f"{sys}/size") or 0) * SECTOR,
        "fs_type": signature.get("fs_type"),
        "mountpoints": ctx.mounts.get(majmin or "", []),
        "holders": _holders(src, sys),
    }


def _holders(src: Root, sys: str) -> list[dict]:
    return [{"name": name, "kind": _holder_kind(src, name)} for name in src.listdir(f"{sys}/holders")]


def _holder_kind(src: Root, name: str) -> str:
    if name.startswith("dm-"):
        uuid = src.read_str(f"/sys/block/{name}/dm/uuid") or ""
        return "lvm" if uuid.startswith("LVM-") else "dm"
    if name.startswith("md"):
        return "md"
    return "other"


def _stack(src: Root, holders: list[dict], seen: set[str] | None = None) -> list[str]:
    """Names of every device stacked on top (holders of holders ...), nearest first."""
    seen = set() if seen is None else seen
    names = []
    for holder in holders:
        name = holder["name"]
        if name in seen:
            continue
        seen.add(name)
        names.append(name)
        names.extend(_stack(src, _holders(src, f"/sys/block/{name}"), seen))
    return names


def _ceph_lvm_osd_fsid(dm_name: str | None) -> str | None:
    """OSD fsid from a ceph-volume LV device-mapper name ``ceph--<vg>-osd--block--<osd fsid>``."""
    if not dm_name or not dm_name.startswith("ceph--"):
        return None
    parts = re.split(r"(?<!-)-(?!-)", dm_name)
    if len(parts) != 2:
        return None
    lv_name = parts[1].replace("--", "-")
    return lv_name[len("osd-block-") :] if lv_name.startswith("osd-block-") else None


# -- sizing and eligibility ----------------------------------------------------------------------
def _free_bytes(disk: dict) -> int:
    """Largest 1 MiB aligned unpartitioned region at the end of a partitioned disk; 0 otherwise."""
    if not disk["partitions"] and not disk["part_table"]:
        return 0
    last_end = max((p["start_bytes"] + p["size_bytes"] for p in disk["partitions"]), default=0)
    start = max(MIB, -(-last_end // MIB) * MIB)
    tail = 0
    if disk["part_table"] != "dos":  # GPT backup header and entry array (16 KiB) at the end
        lbs = disk["logical_block_size"]
        tail = lbs + -(-16384 // lbs) * lbs
    end = (disk["size_bytes"] - tail) // MIB * MIB
    return max(0, end - start)


def _mounted(mountpoints: list[str]) -> str:
    shown = ", ".join(mountpoints[:3])
    return shown + (f" and {len(mountpoints) - 3} more" if len(mountpoints) > 3 else "")


class _Usage:
    """What sits on a disk's stack (mounts in any namespace, swap, holders, LVM, Ceph), as findings and flags."""

    def __init__(self, ctx: _Context) -> None:
        self.ctx = ctx
        self.findings: list[dict[str, str | None]] = []
        self.system = False
        self.lvm: list[str] = []
        self.ceph = False
        self.osd_fsid: str | None = None

    def used(self, name: str, majmin: str | None, mountpoints: list[str], below: str | None = None) -> None:
        where = f"{name} on top of {below}" if below else name
        on_top = f" on top of {below}" if below else ""
        layer = below or name
        if mountpoints:
            text = f"has mounted filesystem on {name} ({_mounted(mountpoints)}){on_top}"
            self.findings.append(finding("mounted", text, layer))
            self.system = self.system or any(m in SYSTEM_MOUNTS for m in mountpoints)
        elsewhere = self.ctx.foreign_mounts.get(majmin or "", [])
        if elsewhere:
            text = f"is mounted in another mount namespace: {name} at {_mounted(elsewhere)}{on_top}"
            self.findings.append(finding("mounted_elsewhere", text, layer))
        if majmin in self.ctx.swaps:
            self.findings.append(finding("swap", f"is active swap ({where})", layer))
            self.system = True
        loops = self.ctx.backed_by.get(majmin or "", [])
        if loops:
            text = f"is the backing device of {', '.join(loops)} ({where})"
            self.findings.append(finding("loop_backing", text, layer))

    def held(self, name: str, holder: dict) -> None:
        src = self.ctx.src
        if holder["kind"] == "lvm":
            if name not in self.lvm:
                self.lvm.append(name)
            if _ceph_lvm_osd_fsid(src.read_str(f"/sys/block/{holder['name']}/dm/name")):
                text = f"is held by its Ceph OSD logical volume {holder['name']} ({name})"
                self.findings.append(finding("held_by_osd", text, name))
            else:
                text = f"is held by LVM logical volume {holder['name']} ({name})"
                self.findings.append(finding("held", text, name))
        elif holder["kind"] == "md":
            self.findings.append(finding("held", f"is a member of md RAID {holder['name']} ({name})", name))
        else:
            self.findings.append(finding("held", f"is held by {holder['name']} ({name})", name))


def _usage(ctx: _Context, disk: dict, majmin: str | None, fs_uuid: str | None) -> _Usage:
    """Walk the disk, its partitions and every device stacked on them."""
    src = ctx.src
    usage = _Usage(ctx)
    usage.ceph = disk["fs_type"] == "ceph_bluestore"
    usage.osd_fsid = fs_uuid if usage.ceph else None
    layers = [(disk["name"], majmin, disk["fs_type"], disk["mountpoints"], disk["holders"])]
    for part in disk["partitions"]:
        part_majmin = src.read_str(f"/sys/block/{disk['name']}/{part['name']}/dev")
        layers.append((part["name"], part_majmin, part["fs_type"], part["mountpoints"], part["holders"]))
    for name, layer_majmin, fs_type, mountpoints, holders in layers:
        if fs_type == "LVM2_member":
            usage.lvm.append(name)
        usage.ceph = usage.ceph or fs_type == "ceph_bluestore"
        usage.used(name, layer_majmin, mountpoints)
        for holder in holders:
            usage.held(name, holder)
        for upper in _stack(src, holders):
            fsid = _ceph_lvm_osd_fsid(src.read_str(f"/sys/block/{upper}/dm/name"))
            if fsid:
                usage.ceph, usage.osd_fsid = True, fsid
            upper_majmin = src.read_str(f"/sys/block/{upper}/dev") or ""
            usage.used(upper, upper_majmin, ctx.mounts.get(upper_majmin, []), below=name)
    return usage


def _judge(
    ctx: _Context,
    disk: dict,
    majmin: str | None,
    signature: dict,
    probe_error: tuple[int, str] | None,
    **opts: bool,
) -> None:
    """Fill system, ceph_osd, findings, reasons and eligible_for_osd."""
    findings: list[dict[str, str | None]] = disk["findings"]
    name = disk["name"]
    if disk["transport"] == "loop" and not opts.get("include_loop"):
        findings.append(finding("loop", "is a loop device", name))
    if disk["size_bytes"] == 0:
        findings.append(finding("size_zero", "size 0", name))
    if disk["read_only"]:
        findings.append(finding("read_only", "is read-only", name))
    if disk["removable"] or disk["transport"] == "usb":
        findings.append(finding("removable", f"is removable ({disk['transport']})", name))
    fs_uuid = signature.get("fs_uuid")
    if disk["fs_type"] == "ceph_bluestore" and not fs_uuid and ctx.probe is not None:
        fs_uuid = bluestore_osd_uuid(ctx.probe, disk["path"])
    usage = _usage(ctx, disk, majmin, fs_uuid)
    findings.extend(usage.findings)
    others = [n for n in ctx.loop_files.get(ctx.loop_key.get(name), []) if n != name]
    if others:
        text = (
            f"its backing file {disk['loop_backing_file']} is also attached to {', '.join(others)} "
            "(two OSDs on one file would overwrite each other)"
        )
        findings.append(finding("shared_backing", text, name))
    findings.extend(_holds(disk, usage))
    if probe_error:
        code = "probe_ambivalent" if probe_error[0] == BLKID_AMBIVALENT else "probe_failed"
        findings.append(finding(code, f"could not probe signatures ({probe_error[1]})", name))
    if ctx.probe is not None and not of_kind(findings, IN_USE) and not _has(findings, "no_device_node"):
        findings.extend(exclusive_findings(ctx.probe, disk["path"], name))
    if ctx.probe is not None and disk["size_bytes"] and not _has(findings, *_SKIP_CONTENT):
        findings.extend(_content(ctx, ctx.probe, disk))
    disk["system"] = usage.system
    disk["reasons"] = [item["text"] for item in findings]
    disk["eligible_for_osd"] = not findings


def _holds(disk: dict, usage: _Usage) -> list[dict[str, str | None]]:
    """What discovery's signatures say the disk holds (all of kind data); sets ceph_osd."""
    name = disk["name"]
    out = []
    if usage.lvm == [name]:
        out.append(finding("lvm_pv", "is an LVM physical volume", name))
    elif usage.lvm:
        out.append(finding("lvm_pv", f"is an LVM physical volume ({', '.join(usage.lvm)})", name))
    if usage.ceph:
        disk["ceph_osd"] = {"osd_fsid": usage.osd_fsid, "cluster_fsid": None}
        out.append(finding("ceph_osd", f"already a Ceph OSD (osd_fsid {usage.osd_fsid or 'unknown'})", name))
    if disk["fs_type"] == "linux_raid_member":
        out.append(finding("md_signature", "carries an md RAID member signature", name))
    elif disk["fs_type"] and disk["fs_type"] not in ("LVM2_member", "ceph_bluestore"):
        out.append(finding("fs_signature", f"carries {disk['fs_type']} filesystem signature", name))
    parts = ", ".join(p["name"] + (f" ({p['fs_type']})" if p["fs_type"] else "") for p in disk["partitions"])
    if disk["part_table"]:
        text = f"has a partition table ({disk['part_table']})" + (f" with {parts}" if parts else "")
        out.append(finding("part_table", text, name))
    elif disk["partitions"]:
        out.append(finding("partitions", f"has partitions {parts}", name))
    return out


# A disk already in use, holding data, or that cannot be read is not sampled: the verdict would not change.
_SKIP_CONTENT = (
    *(code for code, (kind, _) in CODES.items() if kind in (IN_USE, DATA)),
    "no_device_node",
    "probe_failed",
    "probe_ambivalent",
    "unverified",
)


def _has(findings: list[dict[str, str | None]], *codes: str) -> bool:
    return any(item["code"] in codes for item in findings)


def exclusive_findings(probe: BlockProbe, path: str, device: str) -> list[dict[str, str | None]]:
    """In use in a way no table shows (a mount in a namespace we cannot read, an exclusive opener)."""
    error = probe.exclusive(path)
    if error is None:
        return []
    if error.errno == errno.EBUSY:
        text = (
            "is in use: it cannot be opened exclusively (a program holds it open, or it is mounted in a mount "
            "namespace this host does not show)"
        )
        return [finding("open_exclusive", text, device)]
    return [finding("unverified", f"could not open it to check it is unused ({error.strerror or error})", device)]


def _content(ctx: _Context, probe: BlockProbe, disk: dict) -> list[dict[str, str | None]]:
    """Is the disk provably blank? Every signature wipefs knows, GPT headers, then a sampled read."""
    path, size, name = disk["path"], disk["size_bytes"], disk["name"]
    result = ctx.runner.run(["wipefs", "--no-act", "--json", path])
    signatures = None
    if result.rc == 0:
        try:
            signatures = json.loads(result.stdout or "{}").get("signatures") or []
        except (ValueError, AttributeError):
            signatures = None
    if signatures is None:
        detail = (result.stderr.strip().splitlines() or ["no usable output"])[0]
        return [finding("probe_failed", f"could not list its signatures (wipefs rc={result.rc}: {detail})", name)]
    out = [
        finding("signature", f"carries a {sig.get('type')} signature at byte offset {sig.get('offset')} (wipefs)", name)
        for sig in signatures
        if isinstance(sig, dict)
    ]
    lbs = int(disk["logical_block_size"] or SECTOR)
    headers = {SECTOR: "primary", lbs: "primary", size - SECTOR: "backup", size - lbs: "backup"}
    for offset, which in sorted(headers.items()):
        data = probe.read(path, offset, 8)
        if isinstance(data, OSError):
            return [*out, _unreadable(data, name)]
        if data == b"EFI PART":
            text = f"has a {which} GPT header at byte {offset} that blkid does not report (its protective MBR is gone)"
            out.append(finding("gpt_header", text, name))
    for offset in sample_offsets(size):
        data = probe.read(path, offset, SAMPLE_BYTES)
        if isinstance(data, OSError):
            return [*out, _unreadable(data, name)]
        rest = data.lstrip(b"\0")
        if rest:
            at = offset + len(data) - len(rest)
            text = f"is not blank: a sampled read found non-zero data at byte {at}"
            out.append(finding("nonzero_data", text, name))
            break
    return out


# A BlueStore label starts with this line and the OSD's uuid (blkid names the type, not the uuid; no Ceph tool needs
# to be installed to read it: `ciab restore` matches the OSDs of a backup before Ceph is there).
BLUESTORE_MAGIC = b"bluestore block device\n"
_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


def bluestore_osd_uuid(probe: BlockProbe, path: str) -> str | None:
    """The OSD uuid of the BlueStore label at the start of ``path``; None when it cannot be read or is no label."""
    data = probe.read(path, 0, len(BLUESTORE_MAGIC) + 36)
    if isinstance(data, OSError) or not data.startswith(BLUESTORE_MAGIC):
        return None
    text = data[len(BLUESTORE_MAGIC) :].decode("ascii", "replace")
    return text if _UUID.fullmatch(text) else None


def _unreadable(error: OSError, device: str) -> dict[str, str | None]:
    return finding("unverified", f"could not read it to check it is blank ({error.strerror or error})", device)


def sample_offsets(size: int) -> list[int]:
    """Where the content sample reads: the first MiB, every power-of-two MiB (where partitions and filesystem
    structures start), :data:`SPREAD_SAMPLES` places spread evenly, and the end."""
    offsets = set(range(0, min(size, MIB), SAMPLE_BYTES))
    step = MIB
    while step < size:
        offsets.add(step)
        step *= 2
    offsets |= {size * index // SPREAD_SAMPLES // SAMPLE_BYTES * SAMPLE_BYTES for index in range(SPREAD_SAMPLES)}
    offsets.add(max(0, size - SAMPLE_BYTES) // SECTOR * SECTOR)
    return sorted(offsets)
