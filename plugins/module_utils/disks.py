# Copyright: Cloud-in-a-Box developers
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0)
"""Block device discovery: one dict per whole disk, partitions nested, with OSD eligibility and reasons.

Reads sysfs and the udev database through :mod:`sysfs`; when udev has no record of a device (containers,
no udev, captured trees without /run/udev) signatures come from ``blkid -p -o export`` through the runner.
Node side: Python standard library only.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable

from ansible_collections.ciab.box.plugins.module_utils.sysfs import (
    SECTOR,
    Root,
    Runner,
    UdevEntry,
    as_root,
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


class _Context:
    """Tables shared by all disks of one discovery run, read once."""

    def __init__(self, src: Root, runner: Runner, warn: Callable[[str], None] | None) -> None:
        self.src = src
        self.runner = runner
        self.warn = warn or (lambda _msg: None)
        self.block = src.listdir("/sys/block")
        self.mounts = src.mounts()
        self.swaps = src.swaps()
        self.by_id: dict[str, list[str]] = {}
        for link in src.listdir("/dev/disk/by-id"):
            target = src.readlink(f"/dev/disk/by-id/{link}")
            if target:
                self.by_id.setdefault(os.path.basename(target), []).append(f"/dev/disk/by-id/{link}")
        self._subsystems: dict[str, str] | None = None

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
) -> list[dict]:
    """Whole block devices of the node under ``root`` as fact dicts (see the ciab_disks schema).

    ``include_loop`` makes loop devices with a backing file eligible (the sandbox uses loop files);
    they are reported either way. ``warn`` receives one message per command that failed.
    """
    src = as_root(root)
    ctx = _Context(src, runner or default_runner(src.root), warn)
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
    }
    disk["free_bytes"] = _free_bytes(disk)
    if src.root == "/" and not os.path.exists(disk["path"]):
        # sysfs is not namespaced: a container sees every disk of its host but only the device nodes passed in.
        disk["reasons"].append(f"no device node {disk['path']} on this system (a host disk seen from a container?)")
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
def _signature(ctx: _Context, name: str, udev: UdevEntry | None) -> tuple[dict, str | None]:
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
        return {}, error
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
    """What sits on a disk's stack (mounts, swap, holders, LVM, Ceph), as reasons and flags."""

    def __init__(self) -> None:
        self.reasons: list[str] = []
        self.system = False
        self.lvm: list[str] = []
        self.ceph = False
        self.osd_fsid: str | None = None

    def used(self, name: str, mountpoints: list[str], swap: bool, below: str | None = None) -> None:
        where = f"{name} on top of {below}" if below else name
        if mountpoints:
            on_top = f" on top of {below}" if below else ""
            self.reasons.append(f"has mounted filesystem on {name} ({_mounted(mountpoints)}){on_top}")
            self.system = self.system or any(m in SYSTEM_MOUNTS for m in mountpoints)
        if swap:
            self.reasons.append(f"is active swap ({where})")
            self.system = True

    def held(self, name: str, holder: dict) -> None:
        if holder["kind"] == "lvm":
            if name not in self.lvm:
                self.lvm.append(name)
        elif holder["kind"] == "md":
            self.reasons.append(f"is a member of md RAID {holder['name']} ({name})")
        else:
            self.reasons.append(f"is held by {holder['name']} ({name})")


def _usage(ctx: _Context, disk: dict, majmin: str | None, fs_uuid: str | None) -> _Usage:
    """Walk the disk, its partitions and every device stacked on them."""
    src = ctx.src
    usage = _Usage()
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
        usage.used(name, mountpoints, layer_majmin in ctx.swaps)
        for holder in holders:
            usage.held(name, holder)
        for upper in _stack(src, holders):
            fsid = _ceph_lvm_osd_fsid(src.read_str(f"/sys/block/{upper}/dm/name"))
            if fsid:
                usage.ceph, usage.osd_fsid = True, fsid
            upper_majmin = src.read_str(f"/sys/block/{upper}/dev") or ""
            usage.used(upper, ctx.mounts.get(upper_majmin, []), upper_majmin in ctx.swaps, below=name)
    return usage


def _judge(
    ctx: _Context, disk: dict, majmin: str | None, signature: dict, probe_error: str | None, **opts: bool
) -> None:
    """Fill system, ceph_osd, reasons and eligible_for_osd."""
    reasons: list[str] = disk["reasons"]
    if disk["transport"] == "loop" and not opts.get("include_loop"):
        reasons.append("is a loop device")
    if disk["size_bytes"] == 0:
        reasons.append("size 0")
    if disk["read_only"]:
        reasons.append("is read-only")
    if disk["removable"] or disk["transport"] == "usb":
        reasons.append(f"is removable ({disk['transport']})")
    usage = _usage(ctx, disk, majmin, signature.get("fs_uuid"))
    reasons.extend(usage.reasons)
    if usage.lvm == [disk["name"]]:
        reasons.append("is an LVM physical volume")
    elif usage.lvm:
        reasons.append(f"is an LVM physical volume ({', '.join(usage.lvm)})")
    if usage.ceph:
        disk["ceph_osd"] = {"osd_fsid": usage.osd_fsid, "cluster_fsid": None}
        reasons.append(f"already a Ceph OSD (osd_fsid {usage.osd_fsid or 'unknown'})")
    if disk["fs_type"] == "linux_raid_member":
        reasons.append("carries an md RAID member signature")
    elif disk["fs_type"] and disk["fs_type"] not in ("LVM2_member", "ceph_bluestore"):
        reasons.append(f"carries {disk['fs_type']} filesystem signature")
    if disk["part_table"]:
        reasons.append(f"has a partition table ({disk['part_table']})")
    elif disk["partitions"]:
        reasons.append("has partitions")
    if probe_error:
        reasons.append(f"could not probe signatures ({probe_error})")
    disk["system"] = usage.system
    disk["eligible_for_osd"] = not reasons
