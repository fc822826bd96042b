"""Build sysfs/udev/proc trees in the capture format from compact Python descriptions.

The machine shapes at the bottom are written once as on-disk fixtures (run this file: it builds each
machine in a temporary directory and captures it with the real capture code, so the fixture holds exactly
what discovery reads); the edge cases and the bench tree are built at run time.

    .venv/bin/python tests/unit/treebuilder.py tests/unit/fixtures
"""

from __future__ import annotations

import json
import os
import sys
import tarfile
import tempfile
from pathlib import Path
from typing import NamedTuple

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / ".collections"))

from ansible_collections.ciab.box.plugins.module_utils.disks import discover_disks
from ansible_collections.ciab.box.plugins.module_utils.nics import discover_nics
from ansible_collections.ciab.box.plugins.module_utils.sysfs import capture_tree, command_slug

GIB = 1 << 30
MIB = 1 << 20


class Part(NamedTuple):
    """A partition: start and size in MiB (sysfs stores 512-byte sectors)."""

    number: int
    start_mib: int
    size_mib: int
    fs: str | None = None
    mount: str | None = None
    swap: bool = False


class Tree:
    """A node's /sys, /run/udev, /dev/disk/by-id, /proc and captured commands under ``root``."""

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)
        self.devdirs: dict[str, str] = {}
        self.majmin: dict[str, str] = {}
        self._minors: dict[int, int] = {}
        self._mounts: list[tuple[str, str, str, str]] = []
        self._swaps: list[str] = []
        self._routes: list[str] = []
        self._links: list[dict] = []
        self._bond_slaves: dict[str, list[str]] = {}
        self._udev = True

    # -- primitives ------------------------------------------------------------------------------
    def write(self, path: str, value: object) -> None:
        host = self.root / path.lstrip("/")
        host.parent.mkdir(parents=True, exist_ok=True)
        text = value if isinstance(value, str) else str(value)
        host.write_text(text if text.endswith("\n") or text == "" else text + "\n")

    def attrs(self, base: str, **values: object) -> None:
        for key, value in values.items():
            if value is not None:
                self.write(f"{base}/{key}", int(value) if isinstance(value, bool) else value)

    def link(self, path: str, target: str) -> None:
        """Relative symlink at node path ``path`` to node path ``target``, like sysfs makes them."""
        host = self.root / path.lstrip("/")
        host.parent.mkdir(parents=True, exist_ok=True)
        if host.is_symlink():
            host.unlink()
        host.symlink_to(os.path.relpath(target, os.path.dirname(path)))

    def command(self, argv: list[str], stdout: str, rc: int = 0, stderr: str = "") -> None:
        base = f"/ciab-capture/commands/{command_slug(argv)}"
        self.write(base + ".txt", stdout)
        if rc:
            self.write(base + ".rc", rc)
        if stderr:
            self.write(base + ".err", stderr)

    def without_udev(self) -> Tree:
        """Following devices get no udev record: signatures come from (captured) blkid."""
        self._udev = False
        return self

    # -- block devices ---------------------------------------------------------------------------
    def _block(self, name: str, devdir: str, major: int, sectors: int, **flags: object) -> str:
        minor = self._minors.get(major, 0)
        self._minors[major] = minor + 1
        majmin = f"{major}:{minor}"
        lbs = int(flags.get("lbs", 512))
        self.attrs(
            devdir,
            dev=majmin,
            size=sectors,
            ro=flags.get("ro", False),
            removable=flags.get("removable", False),
            hidden=flags.get("hidden", False),
        )
        self.attrs(
            f"{devdir}/queue",
            logical_block_size=lbs,
            physical_block_size=flags.get("pbs", lbs),
            hw_sector_size=lbs,
            rotational=flags.get("rotational", False),
        )
        self.link(f"/sys/block/{name}", devdir)
        self.link(f"/sys/class/block/{name}", devdir)
        self.devdirs[name] = devdir
        self.majmin[name] = majmin
        return majmin

    def _content(self, name: str, major: int, props: dict, by_id: list[str], **content: object) -> None:
        """udev record (or blkid output), by-id links, signature, partitions and mounts of a disk."""
        majmin = self.majmin[name]
        fs, pttype, fs_uuid = content.get("fs"), content.get("pttype"), content.get("fs_uuid")
        sig = {"ID_FS_TYPE": fs, "ID_FS_UUID": fs_uuid, "ID_PART_TABLE_TYPE": pttype}
        self._record(name, majmin, {**props, **sig}, by_id, {"TYPE": fs, "UUID": fs_uuid, "PTTYPE": pttype})
        sep = "p" if name[-1].isdigit() else ""
        for part in content.get("partitions") or ():
            pname = f"{name}{sep}{part.number}"
            pdir = f"{self.devdirs[name]}/{pname}"
            minor = self._minors.get(major, 0)
            self._minors[major] = minor + 1
            pmajmin = f"{major}:{minor}"
            sectors = part.size_mib * MIB // 512
            self.attrs(pdir, dev=pmajmin, partition=part.number, start=part.start_mib * MIB // 512, size=sectors, ro=0)
            self.link(f"/sys/class/block/{pname}", pdir)
            self.devdirs[pname] = pdir
            self.majmin[pname] = pmajmin
            entry = {"ID_PART_ENTRY_NUMBER": part.number, "ID_PART_ENTRY_SCHEME": pttype, "ID_FS_TYPE": part.fs}
            blkid = {"TYPE": part.fs, "PART_ENTRY_SCHEME": pttype, "PART_ENTRY_NUMBER": part.number}
            self._record(pname, pmajmin, {**props, **entry}, [f"{link}-part{part.number}" for link in by_id], blkid)
            self.mount(pname, part.mount, part.fs, swap=part.swap)
        self.mount(name, content.get("mount"), fs)

    def _record(self, name: str, majmin: str, props: dict, by_id: list[str], blkid: dict) -> None:
        for link in by_id:
            self.link(f"/dev/disk/by-id/{link}", f"/dev/{name}")
        if self._udev:
            lines = [f"S:disk/by-id/{link}" for link in by_id]
            lines += [f"E:{key}={value}" for key, value in props.items() if value is not None]
            self.write(f"/run/udev/data/b{majmin}", "\n".join([*lines, "G:systemd", "Q:systemd", "V:1"]))
            return
        found = {key: value for key, value in blkid.items() if value is not None}
        argv = ["blkid", "-p", "-o", "export", f"/dev/{name}"]
        if found:
            self.command(argv, "".join(f"{k}={v}\n" for k, v in {"DEVNAME": f"/dev/{name}", **found}.items()))
        else:
            self.command(argv, "", rc=2)

    def mount(self, name: str, mountpoint: str | None, fs: object = None, swap: bool = False) -> None:
        if mountpoint:
            self._mounts.append((self.majmin[name], mountpoint, str(fs or "ext4"), f"/dev/{name}"))
        if swap:
            self._swaps.append(f"/dev/{name}")

    def nvme(self, ctrl: int, pci_path: str, model: str, serial: str, sectors: int, **opts: object) -> str:
        """NVMe controller nvme<ctrl> with namespace 1; ``paths`` (list of (ctrl, pci_path)) makes it multipath."""
        fw = str(opts.get("fw", "1.0"))
        numa = opts.get("numa", 0)
        paths = list(opts.get("paths") or [(ctrl, pci_path)])
        subsys = f"nvme-subsys{ctrl}"
        subsys_dir = f"/sys/devices/virtual/nvme-subsystem/{subsys}"
        self.attrs(
            subsys_dir, model=model, serial=serial, firmware_rev=fw, subsysnqn=f"nqn.2014.08.org.nvmexpress:{serial}"
        )
        self.link(f"/sys/class/nvme-subsystem/{subsys}", subsys_dir)
        for index, path in paths:
            pci = f"/sys/devices/{path}"
            cdir = f"{pci}/nvme/nvme{index}"
            self.attrs(pci, numa_node=numa)
            self.attrs(cdir, model=model, serial=serial, firmware_rev=fw, transport="pcie", cntlid=index + 1)
            self.link(f"{cdir}/device", pci)
            self.link(f"/sys/class/nvme/nvme{index}", cdir)
            self.link(f"{subsys_dir}/nvme{index}", cdir)
        name = f"nvme{ctrl}n1"
        ids = {"nsid": 1, "nguid": opts.get("nguid"), "eui": opts.get("eui")}
        eui = str(opts.get("nguid") or opts.get("eui") or "").replace("-", "").replace(" ", "")
        wwid = f"eui.{eui}" if eui else f"nvme.144d-{serial.encode().hex()}-{model.encode().hex()}-00000001"
        flags = {k: opts[k] for k in ("lbs", "pbs", "ro") if k in opts}
        if len(paths) > 1:
            devdir = f"{subsys_dir}/{name}"
            self._block(name, devdir, 259, sectors, **flags)
            self.link(f"{devdir}/device", subsys_dir)
            for index, path in paths:
                hidden = f"nvme{ctrl}c{index}n1"
                hdir = f"/sys/devices/{path}/nvme/nvme{index}/{hidden}"
                self._block(hidden, hdir, 259, sectors, hidden=True, **flags)
                self.link(f"{hdir}/device", f"/sys/devices/{path}/nvme/nvme{index}")
        else:
            devdir = f"/sys/devices/{pci_path}/nvme/nvme{ctrl}/{name}"
            self._block(name, devdir, 259, sectors, **flags)
            self.link(f"{devdir}/device", f"/sys/devices/{pci_path}/nvme/nvme{ctrl}")
        self.attrs(devdir, wwid=wwid, **ids)
        id_model = model.replace(" ", "_")
        by_id = [f"nvme-{wwid}", f"nvme-{id_model}_{serial}", f"nvme-{id_model}_{serial}_1"]
        props = {
            "ID_SERIAL_SHORT": serial,
            "ID_WWN": wwid,
            "ID_MODEL": model,
            "ID_REVISION": fw,
            "ID_SERIAL": f"{id_model}_{serial}",
            "ID_PATH": f"pci-{pci_path.rsplit('/', 1)[-1]}-nvme-1",
            "ID_NSID": 1,
        }
        self._content(name, 259, props, by_id, **opts)
        return name

    def scsi(self, name: str, transport: str, host: int, pci_path: str, sectors: int, **opts: object) -> str:
        """SCSI-family disk: transport sata, sas, usb or scsi (names after the device path they sit on)."""
        tgt = f"target{host}:0:0/{host}:0:0:0"
        paths = {
            "sata": f"{pci_path}/ata{host + 1}/host{host}/{tgt}",
            "sas": f"{pci_path}/host{host}/port-{host}:0/end_device-{host}:0/{tgt}",
            "usb": f"{pci_path}/usb2/2-1/2-1:1.0/host{host}/{tgt}",
            "scsi": f"{pci_path}/host{host}/{tgt}",
        }
        sdev = f"/sys/devices/{paths[transport]}"
        vendor, model = str(opts.get("vendor", "ATA")), str(opts.get("model", "DISK"))
        serial, wwn, rev = opts.get("serial"), opts.get("wwn"), str(opts.get("rev", "0001"))
        self.attrs(sdev, vendor=f"{vendor:<8}", model=f"{model[:16]:<16}", rev=rev[-4:])
        if wwn:
            self.write(f"{sdev}/wwid", f"naa.{str(wwn)[2:]}")
        self.link(f"{sdev}/subsystem", "/sys/bus/scsi")
        self.link(f"{sdev}/driver", "/sys/bus/scsi/drivers/sd")
        self.attrs(f"/sys/devices/{pci_path}", numa_node=opts.get("numa", -1))
        devdir = f"{sdev}/block/{name}"
        flags = {k: opts[k] for k in ("lbs", "pbs", "ro", "removable", "rotational") if k in opts}
        self._block(name, devdir, 8, sectors, **flags)
        self.link(f"{devdir}/device", sdev)
        id_model = model.replace(" ", "_")
        bus = {"sata": "ata", "usb": "usb"}.get(transport, "scsi")
        by_id = []
        if transport == "sata":
            by_id.append(f"ata-{id_model}_{serial}")
        elif transport == "usb":
            by_id.append(f"usb-{vendor}_{id_model}_{serial}-0:0")
        else:
            by_id.append(f"scsi-{(wwn and '3' + str(wwn)[2:]) or 'S' + id_model}")
        if wwn:
            by_id.append(f"wwn-{wwn}")
        props = {
            "ID_BUS": bus,
            "ID_MODEL": id_model,
            "ID_MODEL_ENC": model.replace(" ", "\\x20"),
            "ID_VENDOR": vendor if transport != "sata" else None,
            "ID_SERIAL_SHORT": serial,
            "ID_WWN": wwn,
            "ID_REVISION": rev,
            "ID_PATH": f"pci-{pci_path.rsplit('/', 1)[-1]}-{'sas-phy0-lun-0' if transport == 'sas' else 'ata-1'}",
        }
        self._content(name, 8, props, by_id, **opts)
        return name

    def virtio(self, name: str, index: int, pci_path: str, sectors: int, **opts: object) -> str:
        vdev = f"/sys/devices/{pci_path}/virtio{index}"
        self.attrs(vdev, vendor="0x1af4", device="0x0002")
        self.link(f"{vdev}/driver", "/sys/bus/virtio/drivers/virtio_blk")
        self.link(f"{vdev}/subsystem", "/sys/bus/virtio")
        self.attrs(f"/sys/devices/{pci_path}", numa_node=-1)
        devdir = f"{vdev}/block/{name}"
        self._block(name, devdir, 252, sectors, rotational=True, **{k: opts[k] for k in ("ro",) if k in opts})
        self.link(f"{devdir}/device", vdev)
        self.attrs(devdir, serial=opts.get("serial"))
        by_id = [f"virtio-{opts['serial']}"] if opts.get("serial") else []
        self._content(name, 252, {"ID_SERIAL": opts.get("serial")}, by_id, **opts)
        return name

    def loop(self, name: str, backing: str | None, sectors: int, **opts: object) -> str:
        devdir = f"/sys/devices/virtual/block/{name}"
        self._block(name, devdir, 7, sectors if backing else 0, **{k: opts[k] for k in ("ro",) if k in opts})
        if backing:
            self.write(f"{devdir}/loop/backing_file", backing)
            self._content(name, 7, {}, [], **opts)
        return name

    def stacked(self, name: str, slaves: list[str], sectors: int, **opts: object) -> str:
        """dm-N (``dm_name``/``dm_uuid``) or mdN on top of ``slaves``; optional ``mount`` / ``swap``."""
        devdir = f"/sys/devices/virtual/block/{name}"
        self._block(name, devdir, 9 if name.startswith("md") else 253, sectors)
        if name.startswith("dm-"):
            self.attrs(f"{devdir}/dm", name=opts.get("dm_name"), uuid=opts.get("dm_uuid"))
        for slave in slaves:
            self.link(f"{devdir}/slaves/{slave}", self.devdirs[slave])
            self.link(f"{self.devdirs[slave]}/holders/{name}", devdir)
        self.mount(name, opts.get("mount"), opts.get("fs"), swap=bool(opts.get("swap")))
        return name

    # -- network ---------------------------------------------------------------------------------
    def nic(self, name: str, mac: str, **opts: object) -> str:
        """Interface; ``pci_path``+``driver`` make it physical, ``kind`` (bridge/bond/vlan/veth/loopback/wlan)."""
        kind = opts.get("kind")
        ifindex = len(self._links) + 1
        if opts.get("pci_path"):
            pci = f"/sys/devices/{opts['pci_path']}"
            base = f"{pci}/net/{name}"
            self.link(f"{base}/device", pci)
            self.link(f"{pci}/driver", f"/sys/bus/pci/drivers/{opts['driver']}")
            self.attrs(pci, numa_node=opts.get("numa", 0), sriov_totalvfs=opts.get("sriov_totalvfs"))
        else:
            base = f"/sys/devices/virtual/net/{name}"
        self.link(f"/sys/class/net/{name}", base)
        up = opts.get("operstate", "up") != "down"
        devtype = {"bridge": "bridge", "bond": "bond", "vlan": "vlan", "wlan": "wlan"}.get(str(kind))
        self.attrs(
            base,
            address=mac,
            type=772 if kind == "loopback" else 1,
            ifindex=ifindex,
            iflink=opts.get("iflink", ifindex),
            mtu=opts.get("mtu", 1500),
            operstate=opts.get("operstate", "up"),
            addr_assign_type=opts.get("addr_assign_type", 0 if opts.get("pci_path") else 3),
            uevent="\n".join([*([f"DEVTYPE={devtype}"] if devtype else []), f"INTERFACE={name}", f"IFINDEX={ifindex}"]),
            # A down link answers EINVAL: such attributes are simply absent from a capture.
            carrier=opts.get("carrier", True) if up else None,
            speed=opts.get("speed", -1) if up else None,
            duplex=opts.get("duplex", "unknown") if up else None,
        )
        if kind == "bridge":
            self.write(f"{base}/bridge/bridge_id", "8000." + mac.replace(":", ""))
        elif kind == "bond":
            self.write(f"{base}/bonding/mode", "802.3ad 4")
            self._bond_slaves[name] = []
            self.write("/sys/class/net/bonding_masters", " ".join(self._bond_slaves))
        elif kind == "wlan":
            self.link(f"{base}/phy80211", "/sys/devices/virtual/ieee80211/phy0")
        entry = {
            "ifindex": ifindex,
            "ifname": name,
            "flags": ["BROADCAST", "MULTICAST", "UP", "LOWER_UP"] if up else ["BROADCAST", "MULTICAST"],
            "mtu": opts.get("mtu", 1500),
            "operstate": str(opts.get("operstate", "up")).upper(),
            "link_type": "loopback" if kind == "loopback" else "ether",
            "address": mac,
            "addr_info": [_addr(a, name) for a in opts.get("addresses") or ()],
        }
        if opts.get("altnames"):
            entry["altnames"] = list(opts["altnames"])
        if opts.get("permaddr"):
            entry["permaddr"] = opts["permaddr"]
        if opts.get("netnsid") is not None:
            entry["link_netnsid"] = opts["netnsid"]
        self._links.append(entry)
        return name

    def enslave(self, port: str, master: str) -> None:
        pbase = os.readlink(self.root / f"sys/class/net/{port}")
        port_dir = os.path.normpath(f"/sys/class/net/{pbase}")
        master_dir = os.path.normpath(f"/sys/class/net/{os.readlink(self.root / f'sys/class/net/{master}')}")
        self.link(f"{port_dir}/master", master_dir)
        if master in self._bond_slaves:
            # A bond slave takes the MAC of the bond; its own survives as perm_hwaddr / ip's permaddr.
            self._bond_slaves[master].append(port)
            entry = next(e for e in self._links if e["ifname"] == port)
            bond_mac = next(e for e in self._links if e["ifname"] == master)["address"]
            self.write(f"{port_dir}/bonding_slave/perm_hwaddr", entry["address"])
            self.write(f"{port_dir}/address", bond_mac)
            entry["permaddr"], entry["address"] = entry["address"], bond_mac
            self.write(f"{master_dir}/bonding/slaves", " ".join(self._bond_slaves[master]))
        else:
            self.write(f"{port_dir}/brport/port_no", "0x1")
            self.link(f"{master_dir}/brif/{port}", f"{port_dir}/brport")

    def default_route(self, interface: str, gateway: str, metric: int = 0) -> None:
        hex_gw = bytes(int(o) for o in reversed(gateway.split("."))).hex().upper()
        self._routes.append(f"{interface}\t00000000\t{hex_gw}\t0003\t0\t0\t{metric}\t00000000\t0\t0\t0")

    def finish(self) -> Path:
        """Write the tables collected along the way; returns the root."""
        mountinfo = ["22 1 0:21 / /proc rw,relatime - proc proc rw", "23 1 0:22 / /sys rw,relatime - sysfs sysfs rw"]
        mounts = ["proc /proc proc rw,relatime 0 0", "sysfs /sys sysfs rw,relatime 0 0"]
        for index, (majmin, point, fs, source) in enumerate(self._mounts, start=30):
            escaped = point.replace(" ", "\\040")
            mountinfo.append(f"{index} 1 {majmin} / {escaped} rw,relatime shared:{index} - {fs} {source} rw")
            mounts.append(f"{source} {escaped} {fs} rw,relatime 0 0")
        self.write("/proc/self/mountinfo", "\n".join(mountinfo))
        self.write("/proc/mounts", "\n".join(mounts))
        swaps = ["Filename\t\t\t\tType\t\tSize\t\tUsed\t\tPriority"]
        swaps += [f"{dev}\t\t\t\tpartition\t8388604\t\t0\t\t-2" for dev in self._swaps]
        self.write("/proc/swaps", "\n".join(swaps))
        header = "Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT"
        self.write("/proc/net/route", "\n".join([header, *self._routes]))
        self.command(["ip", "-j", "addr", "show"], json.dumps(self._links))
        return self.root


def _addr(cidr: str, label: str) -> dict:
    address, prefix = cidr.split("/")
    family = "inet6" if ":" in address else "inet"
    scope = "host" if address in ("127.0.0.1", "::1") else "link" if address.startswith("fe80:") else "global"
    info = {"family": family, "local": address, "prefixlen": int(prefix), "scope": scope}
    if family == "inet":
        info["label"] = label
    return {**info, "valid_life_time": 4294967295, "preferred_life_time": 4294967295}


def _loopback(tree: Tree) -> None:
    tree.nic(
        "lo", "00:00:00:00:00:00", kind="loopback", operstate="unknown", mtu=65536, addresses=["127.0.0.1/8", "::1/128"]
    )


# -- machine shapes (written as on-disk fixtures) --------------------------------------------------
PM9A3_SECTORS = 1875385008  # 960 GB
ROOT_P2_MIB = 200 * 1024


def refbox_epyc_2xnvme(tree: Tree) -> None:
    """Reference box: Epyc 16c, 2x Samsung PM9A3 960 GB NVMe, 2x 10GBase-T bnxt_en, Debian 12."""
    tree.nvme(
        0,
        "pci0000:40/0000:40:01.1/0000:41:00.0",
        "SAMSUNG MZQL2960HCJR-00A07",
        "S64FNE0R800101",
        PM9A3_SECTORS,
        fw="GDC5602Q",
        nguid="36344630-5280-0101-0025-384500000001",
        eui="00 25 38 45 00 00 00 01",
        pbs=4096,
        pttype="gpt",
        partitions=[Part(1, 1, 512, "vfat", "/boot/efi"), Part(2, 513, ROOT_P2_MIB, "ext4", "/")],
    )
    tree.nvme(
        1,
        "pci0000:40/0000:40:01.2/0000:42:00.0",
        "SAMSUNG MZQL2960HCJR-00A07",
        "S64FNE0R800102",
        PM9A3_SECTORS,
        fw="GDC5602Q",
        nguid="36344630-5280-0102-0025-384500000001",
        eui="00 25 38 45 00 00 00 02",
        pbs=4096,
    )
    _loopback(tree)
    common = {"driver": "bnxt_en", "numa": 0, "sriov_totalvfs": 128, "mtu": 1500}
    tree.nic(
        "eno1np0",
        "3c:ec:ef:10:20:30",
        pci_path="pci0000:00/0000:00:01.1/0000:01:00.0",
        speed=10000,
        duplex="full",
        addresses=["10.10.0.10/24", "fe80::3eec:efff:fe10:2030/64"],
        altnames=["enp1s0f0np0"],
        **common,
    )
    tree.nic(
        "eno2np1",
        "3c:ec:ef:10:20:31",
        pci_path="pci0000:00/0000:00:01.1/0000:01:00.1",
        operstate="down",
        altnames=["enp1s0f1np1"],
        **common,
    )
    tree.default_route("eno1np0", "10.10.0.1", metric=0)


def server_sata_bond_bridge(tree: Tree) -> None:
    """1U server: SATA SSD (LVM root) + 4 TB SATA HDD on AHCI, two igb ports bonded, bond in br0."""
    ahci = "pci0000:00/0000:00:17.0"
    tree.scsi(
        "sda",
        "sata",
        0,
        ahci,
        937703088,
        model="INTEL SSDSC2KB480G8",
        serial="PHYF8123004F480BGN",
        wwn="0x55cd2e414f7b1234",
        rev="XCV10132",
        pttype="gpt",
        partitions=[
            Part(1, 1, 512, "vfat", "/boot/efi"),
            Part(2, 513, 1024, "ext4", "/boot"),
            Part(3, 1537, 446000, "LVM2_member"),
        ],
    )
    tree.stacked(
        "dm-0", ["sda3"], 400 * GIB // 512, dm_name="vg0-root", dm_uuid="LVM-aaaa1111root", mount="/", fs="ext4"
    )
    tree.stacked("dm-1", ["sda3"], 8 * GIB // 512, dm_name="vg0-swap", dm_uuid="LVM-aaaa1111swap", swap=True)
    tree.scsi(
        "sdb",
        "sata",
        1,
        ahci,
        7814037168,
        model="ST4000NM0035-1V4107",
        serial="ZC1A2B3C",
        wwn="0x5000c500a1b2c3d4",
        rev="TN03",
        rotational=True,
        pbs=4096,
    )
    _loopback(tree)
    for index, name in enumerate(("eno1", "eno2", "eno3")):
        tree.nic(
            name,
            f"ac:1f:6b:00:11:2{index}",
            driver="igb",
            pci_path=f"pci0000:00/0000:00:1c.0/0000:03:00.{index}",
            speed=1000 if index < 2 else None,
            duplex="full" if index < 2 else "unknown",
            carrier=index < 2,
            numa=-1,
            sriov_totalvfs=7,
            addr_assign_type=3 if index < 2 else 0,
        )
    tree.nic("bond0", "ac:1f:6b:00:11:20", kind="bond", speed=2000, duplex="full")
    tree.nic("br0", "ac:1f:6b:00:11:20", kind="bridge", addresses=["192.168.10.20/24", "fe80::ae1f:6bff:fe00:1120/64"])
    tree.enslave("eno1", "bond0")
    tree.enslave("eno2", "bond0")
    tree.enslave("bond0", "br0")
    tree.default_route("br0", "192.168.10.1", metric=0)


def laptop_nvme_wifi_usb(tree: Tree) -> None:
    """Laptop: NVMe with LUKS root, Wi-Fi default route, unplugged e1000e, USB stick, snap loop."""
    tree.nvme(
        0,
        "pci0000:00/0000:00:06.0/0000:02:00.0",
        "WDC PC SN740 SDDPNQD-512G",
        "22413X801234",
        1000215216,
        fw="73110000",
        eui="e8 23 8f a6 bf 53 00 01",
        pttype="gpt",
        partitions=[
            Part(1, 1, 512, "vfat", "/boot/efi"),
            Part(2, 513, 2048, "ext4", "/boot"),
            Part(3, 2561, 485000, "crypto_LUKS"),
        ],
    )
    tree.stacked(
        "dm-0",
        ["nvme0n1p3"],
        485000 * MIB // 512,
        dm_name="nvme0n1p3_crypt",
        dm_uuid="CRYPT-LUKS2-4d3c",
        mount="/",
        fs="ext4",
    )
    tree.scsi(
        "sda",
        "usb",
        4,
        "pci0000:00/0000:00:14.0",
        60063744,
        vendor="SanDisk",
        model="Cruzer Blade",
        serial="4C530001230913115403",
        rev="1.00",
        removable=True,
        pttype="dos",
        partitions=[Part(1, 1, 29000, "vfat", "/media/alex/STICK 32")],
    )
    tree.loop(
        "loop0", "/var/lib/snapd/snaps/core22_1380.snap", 151624, ro=True, fs="squashfs", mount="/snap/core22/1380"
    )
    tree.loop("loop1", None, 0)
    _loopback(tree)
    tree.nic(
        "enp0s31f6", "8c:16:45:aa:bb:cc", driver="e1000e", pci_path="pci0000:00/0000:00:1f.6", carrier=False, numa=-1
    )
    tree.nic(
        "wlp0s20f3",
        "a4:c3:f0:11:22:33",
        kind="wlan",
        driver="iwlwifi",
        pci_path="pci0000:00/0000:00:14.3",
        numa=-1,
        addresses=["192.168.178.23/24", "2001:db8:178::23/64"],
        permaddr="a4:c3:f0:11:22:33",
        addr_assign_type=1,
    )
    tree.nic("docker0", "02:42:ac:11:00:01", kind="bridge", carrier=False, addresses=["172.17.0.1/16"])
    tree.default_route("wlp0s20f3", "192.168.178.1", metric=600)


MACHINES = {
    "refbox-epyc-2xnvme": refbox_epyc_2xnvme,
    "server-sata-bond-bridge": server_sata_bond_bridge,
    "laptop-nvme-wifi-usb": laptop_nvme_wifi_usb,
}


# -- edge cases (built at test time) ---------------------------------------------------------------
CEPH_OSD_FSID = "9c2b0e4e-7a3d-4d8a-9d0e-4f1f3e2a1b0c"


# name, transport, GiB, options: one disk per edge case
EDGE_DISKS = [
    ("sda", "sas", 2, {"fs": "xfs", "mount": "/srv/data"}),  # mounted whole disk
    ("sdb", "sas", 2, {"fs": "LVM2_member"}),  # LVM PV, held by dm-0
    ("sdc", "sas", 2, {"fs": "linux_raid_member"}),  # md0 members
    ("sdd", "sas", 2, {"fs": "linux_raid_member"}),
    ("sde", "usb", 8, {"vendor": "Kingston", "model": "DataTraveler 3.0", "serial": "E0D55EA5", "removable": True}),
    ("sdf", "usb", 0, {"vendor": "Generic", "model": "SD Card Reader", "serial": "000000001", "removable": True}),
    ("sdg", "scsi", 4, {"vendor": "HPE", "model": "LOGICAL VOLUME", "ro": True}),  # read-only
    ("sdh", "sas", 4, {"fs": "ceph_bluestore"}),  # raw BlueStore OSD
    ("sdi", "sas", 4, {"fs": "LVM2_member"}),  # ceph-volume LVM OSD, held by dm-1
    ("sdj", "sas", 4, {}),  # clean: eligible
]


def edge_cases(tree: Tree) -> None:
    """One disk per edge case, and NIC oddities; names say what each one is."""
    for host, (name, transport, gib, options) in enumerate(EDGE_DISKS):
        pci = "pci0000:00/0000:00:14.0" if transport == "usb" else "pci0000:00/0000:00:10.0"
        ids = {"vendor": "SEAGATE", "model": "ST4000NM0025", "wwn": f"0x5000c500000000{host:02x}"}
        tree.scsi(name, transport, host, pci, gib * GIB // 512, **(ids if transport == "sas" else {}), **options)
    tree.stacked("dm-0", ["sdb"], 2 * GIB // 512, dm_name="vg1-data", dm_uuid="LVM-b2data", mount="/var/lib/data")
    tree.stacked("md0", ["sdc", "sdd"], 2 * GIB // 512, mount="/var", fs="ext4")
    ceph_lv = f"ceph--0d1e2f3a--4b5c--6d7e--8f90--a1b2c3d4e5f6-osd--block--{CEPH_OSD_FSID.replace('-', '--')}"
    tree.stacked("dm-1", ["sdi"], 4 * GIB // 512, dm_name=ceph_lv, dm_uuid="LVM-c3osd")
    paths = [(2, "pci0000:80/0000:80:01.1/0000:81:00.0"), (3, "pci0000:c0/0000:c0:01.1/0000:c1:00.0")]
    nguid = "35354e30-5290-0001-0025-384500000001"
    tree.nvme(2, paths[0][1], "SAMSUNG MZWLR3T8HBLS-00007", "S5NJNA0R900001", 7501476528, nguid=nguid, paths=paths)
    tree.loop("loop0", "/var/lib/ciab/osd0.img", 20 * GIB // 512)
    tree.loop("loop1", None, 0)
    for name in ("ram0", "zram0"):
        tree.write(f"/sys/devices/virtual/block/{name}/size", 131072)
        tree.link(f"/sys/block/{name}", f"/sys/devices/virtual/block/{name}")
    _loopback(tree)
    pf, vf = "pci0000:00/0000:00:02.0/0000:05:00.0", "pci0000:00/0000:00:02.0/0000:05:01.0"
    ice = {"speed": 25000, "duplex": "full"}
    tree.nic("ens1f0", "b4:96:91:00:00:01", driver="ice", pci_path=pf, sriov_totalvfs=64, altnames=["enp5s0f0"], **ice)
    tree.nic("ens1f0v0", "b4:96:91:00:00:81", driver="iavf", pci_path=vf, **ice)
    tree.link(f"/sys/devices/{vf}/physfn", f"/sys/devices/{pf}")
    tree.nic("ens1f0.100", "b4:96:91:00:00:01", kind="vlan", iflink=2, addresses=["10.100.0.5/24"])
    tree.nic("vethb7e8894", "9a:1c:20:aa:bb:01", iflink=44, netnsid=0)
    tree.nic("dummy0", "5e:2a:00:00:00:09", operstate="down")
    tree.write("/sys/class/net/bonding_masters", "")
    tree.default_route("ens1f0.100", "10.100.0.1", metric=100)
    tree.default_route("ens1f0", "192.168.1.1", metric=50)


def container_virtio(tree: Tree) -> None:
    """VM without udev (a container on it, or a minimal image): signatures come from blkid."""
    tree.without_udev()
    size = 100 * GIB // 512
    root_parts = [Part(1, 1, 1024, "ext4", "/boot"), Part(2, 1025, 30000, "ext4", "/")]
    tree.virtio("vda", 1, "pci0000:00/0000:00:02.0", size, serial="root-disk", pttype="gpt", partitions=root_parts)
    tree.virtio("vdb", 2, "pci0000:00/0000:00:03.0", size, serial="osd-1")
    tree.virtio("vdc", 3, "pci0000:00/0000:00:04.0", size, serial="old-data", fs="ext4", fs_uuid="0b3b2d1e-1111")
    tree.virtio("vdd", 4, "pci0000:00/0000:00:05.0", size, serial="bluestore", fs="ceph_bluestore")
    _loopback(tree)
    tree.nic(
        "eth0",
        "52:54:00:12:34:56",
        driver="virtio_net",
        pci_path="pci0000:00/0000:00:08.0",
        addresses=["192.0.2.50/24"],
    )
    tree.default_route("eth0", "192.0.2.1")


def synthetic(tree: Tree, disks: int = 24, nics: int = 8) -> None:
    """Large box for the bench: ``disks`` NVMe/SAS disks (half each) with udev data and ``nics`` NICs."""
    system = {"pttype": "gpt", "partitions": [Part(1, 1, 512, "vfat", "/boot/efi"), Part(2, 513, 100000, "ext4", "/")]}
    for index in range(disks):
        if index % 2:
            ids = {"serial": f"ZC{index:06d}", "wwn": f"0x5000c500{index:08x}", "model": "ST4000NM0025"}
            sdx = f"sd{chr(ord('a') + index // 2)}"
            tree.scsi(sdx, "sas", index, "pci0000:00/0000:00:10.0", 7814037168, rotational=True, **ids)
        else:
            pci = f"pci0000:40/0000:40:01.1/0000:{0x41 + index:02x}:00.0"
            nguid = f"36344630-5280-{index:04x}-0025-384500000001"
            model, serial = "SAMSUNG MZQL23T8HCLS-00A07", f"S64GNE0R{index:06d}"
            tree.nvme(index, pci, model, serial, 7501476528, nguid=nguid, **(system if index == 0 else {}))
    _loopback(tree)
    for index in range(nics):
        pci = f"pci0000:00/0000:00:03.0/0000:{0x10 + index:02x}:00.0"
        ice = {"driver": "ice", "speed": 25000, "duplex": "full", "sriov_totalvfs": 64}
        tree.nic(f"ens{index}f0", f"b4:96:91:00:01:{index:02x}", pci_path=pci, addresses=[f"10.0.{index}.10/24"], **ice)
    tree.default_route("ens0f0", "10.0.0.1")


def build(shape: object, root: str | Path) -> Path:
    """Build machine ``shape`` (a function of :class:`Tree`) at ``root``; returns the root."""
    tree = Tree(root)
    shape(tree)
    return tree.finish()


def write_fixtures(dest: str | Path) -> None:
    """(Re)write each machine shape under ``dest`` as a capture of its full built tree."""
    for name, shape in MACHINES.items():
        with tempfile.TemporaryDirectory() as tmp:
            full = build(shape, Path(tmp) / "full")
            archive = Path(tmp) / "capture.tar.gz"
            capture_tree(str(full), str(archive), name, (discover_disks, discover_nics), meta={"source": "treebuilder"})
            target = Path(dest) / name
            if target.exists():
                raise SystemExit(f"{target} exists: remove it first")
            with tarfile.open(archive) as tar:
                tar.extractall(dest, filter="data")
            # git keeps no empty directories: drop them so the fixture is what a clone sees.
            for path in sorted(target.rglob("*"), key=lambda p: len(p.parts), reverse=True):
                if path.is_dir() and not path.is_symlink() and not any(path.iterdir()):
                    path.rmdir()
            print(f"wrote {target}")


if __name__ == "__main__":
    write_fixtures(sys.argv[1] if len(sys.argv) > 1 else Path(__file__).parent / "fixtures")
