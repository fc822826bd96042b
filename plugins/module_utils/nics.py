# Copyright: Cloud-in-a-Box developers
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0)
"""Network interface discovery: one dict per /sys/class/net entry, plus the IPv4 default route.

Link facts come from sysfs through :mod:`sysfs`; addresses and altnames from ``ip -j addr show`` through
the runner; the default route from /proc/net/route. Node side: Python standard library only.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable

from ansible_collections.ciab.box.plugins.module_utils.sysfs import Root, Runner, as_root, default_runner, pci_parent

ARPHRD_ETHER = 1
ARPHRD_LOOPBACK = 772
NET_ADDR_PERM = 0
RTF_UP = 0x1
IP_ADDR = ["ip", "-j", "addr", "show"]


def discover_nics(
    root: str | Root = "/",
    runner: Runner | None = None,
    warn: Callable[[str], None] | None = None,
) -> tuple[list[dict], dict]:
    """Interfaces of the node under ``root`` and its default route (see the ciab_nics schema)."""
    src = as_root(root)
    warn = warn or (lambda _msg: None)
    links = _ip_links(runner or default_runner(src.root), warn)
    route = default_route(src)
    nics = []
    for name in src.listdir("/sys/class/net"):
        # Real interfaces are symlinks; bonding_masters and friends are plain files.
        if src.islink(f"/sys/class/net/{name}"):
            nics.append(_nic(src, name, links, route))
    return nics, route


def _ip_links(runner: Runner, warn: Callable[[str], None]) -> dict:
    """``ip -j addr show`` entries keyed by ifindex and by name; {} when ip fails."""
    result = runner.run(IP_ADDR)
    if result.rc != 0:
        detail = (result.stderr.strip().splitlines() or ["no output"])[0]
        warn(f"'{' '.join(IP_ADDR)}' failed (rc={result.rc}: {detail}): addresses and altnames are empty")
        return {}
    try:
        entries = json.loads(result.stdout or "[]")
    except ValueError as exc:
        warn(f"'{' '.join(IP_ADDR)}' printed invalid JSON ({exc}): addresses and altnames are empty")
        return {}
    table: dict = {}
    for entry in entries if isinstance(entries, list) else []:
        if isinstance(entry, dict):
            table[entry.get("ifindex")] = entry
            table[entry.get("ifname")] = entry
    return table


def default_route(root: str | Root = "/") -> dict:
    """IPv4 default route with the lowest metric from /proc/net/route."""
    src = as_root(root)
    best: tuple[int, str, str | None] | None = None
    for line in (src.read_text("/proc/net/route") or "").splitlines()[1:]:
        fields = line.split()
        if len(fields) < 8 or fields[1] != "00000000" or fields[7] != "00000000":
            continue
        try:
            flags, metric = int(fields[3], 16), int(fields[6])
            gateway = ".".join(str(b) for b in reversed(bytes.fromhex(fields[2])))
        except ValueError:
            continue
        if flags & RTF_UP and (best is None or metric < best[0]):
            best = (metric, fields[0], None if gateway == "0.0.0.0" else gateway)
    return {"interface": best[1] if best else None, "gateway": best[2] if best else None, "family": "inet"}


def _nic(src: Root, name: str, links: dict, route: dict) -> dict:
    base = f"/sys/class/net/{name}"
    physical = src.islink(f"{base}/device")
    ifindex = src.read_int(f"{base}/ifindex")
    # Match by ifindex first: survives a rename between sysfs and ip reading.
    link = links.get(ifindex) or links.get(name) or {}
    kind = _kind(src, base, name, physical, link)
    mac = src.read_str(f"{base}/address")
    pci_dir = pci_parent(src.resolve(f"{base}/device")) if physical else None
    numa = src.read_int(f"{pci_dir}/numa_node") if pci_dir else None
    speed = src.read_int(f"{base}/speed")
    duplex = src.read_str(f"{base}/duplex")
    carrier = src.read_bool(f"{base}/carrier")
    master = src.link_name(f"{base}/master")
    master_type = None
    if master:
        master_type = _master_type(src, f"/sys/class/net/{master}")
    members: list[str] = []
    if kind == "bridge":
        members = src.listdir(f"{base}/brif")
    elif kind == "bond":
        members = (src.read_str(f"{base}/bonding/slaves") or "").split()
    nic = {
        "name": name,
        "physical": physical,
        "type": kind,
        "driver": src.link_name(f"{base}/device/driver") if physical else None,
        "mac": mac,
        "permanent_mac": _permanent_mac(src, base, link, mac, physical),
        "speed_mbps": speed if speed is not None and 0 < speed < 0xFFFFFFFF else None,
        "duplex": duplex if duplex in ("full", "half") else None,
        "carrier": carrier,
        "operstate": src.read_str(f"{base}/operstate", "unknown"),
        "mtu": src.read_int(f"{base}/mtu", 0),
        "pci_address": os.path.basename(pci_dir) if pci_dir else None,
        "numa_node": numa if numa is not None and numa >= 0 else None,
        "sriov_totalvfs": src.read_int(f"{pci_dir}/sriov_totalvfs", 0) if pci_dir else 0,
        "master": master,
        "master_type": master_type,
        "members": members,
        "altnames": [a for a in link.get("altnames", []) if isinstance(a, str)],
        "addresses": _addresses(link),
        "default_route": name == route["interface"],
        "eligible": False,
        "reasons": [],
    }
    nic["reasons"] = _reasons(src, base, nic)
    nic["eligible"] = not nic["reasons"]
    return nic


def _kind(src: Root, base: str, name: str, physical: bool, link: dict) -> str:
    """Interface type from ARPHRD, uevent DEVTYPE and the attributes a driver adds."""
    arphrd = src.read_int(f"{base}/type", ARPHRD_ETHER)
    if arphrd == ARPHRD_LOOPBACK:
        return "loopback"
    uevent = dict(
        line.partition("=")[::2] for line in (src.read_text(f"{base}/uevent") or "").splitlines() if "=" in line
    )
    devtype = uevent.get("DEVTYPE")
    by_devtype = {"bridge": "bridge", "bond": "bond", "vlan": "vlan", "wlan": "wireless"}.get(devtype or "")
    if by_devtype:
        return by_devtype
    by_marker = (
        _master_type(src, base)
        or ("wireless" if src.islink(f"{base}/phy80211") else None)
        or ("tun" if src.read_str(f"{base}/tun_flags") is not None else None)
    )
    if by_marker:
        return by_marker
    if not physical and arphrd == ARPHRD_ETHER:
        # veth has no sysfs marker: its peer is another interface, usually in another namespace.
        peer = src.read_int(f"{base}/iflink") != src.read_int(f"{base}/ifindex")
        if name.startswith("veth") or (devtype is None and peer and "link_netnsid" in link):
            return "veth"
    return "ether" if arphrd == ARPHRD_ETHER else "other"


def _master_type(src: Root, base: str) -> str | None:
    """``bridge`` or ``bond`` when the interface is one (read an attribute: captures keep no empty dirs)."""
    if src.read_str(f"{base}/bridge/bridge_id") is not None:
        return "bridge"
    if src.read_str(f"{base}/bonding/mode") is not None:
        return "bond"
    return None


def _permanent_mac(src: Root, base: str, link: dict, mac: str | None, physical: bool) -> str | None:
    """Burned-in MAC: ip's permaddr, a bond slave's perm_hwaddr, or the MAC when never changed."""
    permanent = link.get("permaddr") or src.read_str(f"{base}/bonding_slave/perm_hwaddr")
    if permanent:
        return permanent
    if physical and src.read_int(f"{base}/addr_assign_type") == NET_ADDR_PERM:
        return mac
    return None


def _addresses(link: dict) -> list[dict]:
    addresses = []
    for info in link.get("addr_info", []):
        if not isinstance(info, dict) or info.get("family") not in ("inet", "inet6") or "local" not in info:
            continue
        addresses.append(
            {
                "family": info["family"],
                "address": info["local"],
                "prefixlen": int(info.get("prefixlen", 0)),
                "cidr": f"{info['local']}/{info.get('prefixlen', 0)}",
                "scope": info.get("scope", "global"),
            }
        )
    return addresses


def _reasons(src: Root, base: str, nic: dict) -> list[str]:
    """Why a NIC cannot be handed to the plan as a free physical uplink; [] when it can."""
    if nic["type"] == "loopback":
        return ["is loopback"]
    reasons = []
    if not nic["physical"]:
        reasons.append(f"is virtual ({nic['type']})")
    elif src.islink(f"{base}/device/physfn"):
        reasons.append("is an SR-IOV virtual function")
    if nic["master"]:
        role = {"bridge": "a bridge port", "bond": "a bond slave"}.get(nic["master_type"] or "", "enslaved")
        reasons.append(f"is {role} of {nic['master']}" if role != "enslaved" else f"is enslaved to {nic['master']}")
    if nic["type"] == "wireless":
        reasons.append("is wireless (cannot be bridged)")
    if nic["carrier"] is False:
        reasons.append("no carrier")
    elif nic["carrier"] is None and nic["operstate"] == "down":
        reasons.append("link is down")
    return reasons
