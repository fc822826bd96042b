"""Render a plan (``{"host", "osd", "nic", "ip", "memory"}``, every section optional) as fixed-width tables."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from ansible_collections.ciab.box.plugins.module_utils.plan import MIB, PlanError, human_bytes, short

SECTIONS = ("host", "osd", "nic", "ip", "memory")
Cell = str | Sequence[str]


def plan_table(plan: Mapping[str, Any]) -> str:
    """A human-readable report of ``plan``; multi-line cells (reasons) continue on the following lines."""
    if not isinstance(plan, Mapping):
        raise PlanError(f"plan must be a dict with keys {', '.join(SECTIONS)} (the ciab_plan fact), got {short(plan)}")
    unknown = sorted(str(k) for k in plan if k not in SECTIONS)
    if unknown:
        raise PlanError(f"plan has unknown section(s) {', '.join(unknown)}; known sections: {', '.join(SECTIONS)}")
    for key in SECTIONS[1:]:
        if key in plan and not isinstance(plan[key], Mapping):
            raise PlanError(f"plan.{key} must be a dict (the output of the ciab.box filter), got {short(plan[key])}")
    parts = [f"Plan for {plan['host']}"] if plan.get("host") else []
    renderers = {"osd": _osd, "nic": _nic, "ip": _ip, "memory": _memory}
    warnings: list[str] = []
    for key, render in renderers.items():
        if key in plan:
            parts.append(render(plan[key]))
            warnings += [f"[{key}] {w}" for w in plan[key].get("warnings") or []]
    if warnings:
        parts.append(_section("Warnings", ["- " + w for w in warnings]))
    return "\n\n".join(parts) + "\n"


def table(headers: Sequence[str], rows: Sequence[Sequence[Cell]]) -> list[str]:
    """Left-aligned columns two spaces apart; a list cell spreads over several lines."""
    grid = [[[c] if isinstance(c, str) else [str(x) for x in c] or [""] for c in row] for row in rows]
    widths = [len(h) for h in headers]
    for row in grid:
        for i, cell in enumerate(row):
            widths[i] = max(widths[i], *(len(line) for line in cell))
    lines = [_line(headers, widths), _line(["-" * w for w in widths], widths)]
    for row in grid:
        for n in range(max(len(cell) for cell in row)):
            lines.append(_line([cell[n] if n < len(cell) else "" for cell in row], widths))
    return lines


def _line(cells: Sequence[str], widths: Sequence[int]) -> str:
    return "  ".join(cell.ljust(width) for cell, width in zip(cells, widths, strict=True)).rstrip()


def _section(title: str, lines: Sequence[str]) -> str:
    return "\n".join([title, "=" * len(title), *lines])


def _text(value: Any) -> str:
    return "-" if value is None or value == "" else str(value)


def _osd(osd: Mapping[str, Any]) -> str:
    devices, rejected = osd.get("devices") or [], osd.get("rejected") or []
    rows = []
    for dev in devices:
        note = ""
        if dev.get("action") == "create_partition":
            note = f"new partition {dev.get('partition_name')} at {human_bytes(int(dev.get('start_bytes') or 0))}"
        elif dev.get("action") == "wipe_then_prepare":
            note = "WIPES: " + "; ".join(dev.get("wipe_reasons") or []) if dev.get("wipe_reasons") else "WIPES the disk"
        elif dev.get("action") == "adopt":
            note = f"osd_fsid {dev.get('osd_fsid')}"
        size = human_bytes(int(dev.get("size_bytes") or 0))
        rows.append(
            [dev.get("action", "?"), dev["name"], dev.get("transport") or "-", size, _text(dev.get("by_id")), note]
        )
    lines = [f"Selected: {len(devices)}"]
    lines += table(["ACTION", "DEVICE", "BUS", "SIZE", "BY-ID", "NOTE"], rows) if rows else ["(no OSD device)"]
    if rejected:
        rows = [
            [r["name"], r.get("transport") or "-", human_bytes(int(r.get("size_bytes") or 0)), _reasons(r)]
            for r in rejected
        ]
        lines += ["", f"Rejected: {len(rejected)}", *table(["DEVICE", "BUS", "SIZE", "REASONS"], rows)]
    return _section("Ceph OSD devices", lines)


def _reasons(entry: Mapping[str, Any]) -> list[str]:
    reasons = [str(r) for r in entry.get("reasons") or []]
    if entry.get("hint"):
        reasons.append(f"hint: {entry['hint']}")
    return reasons


def _speed(mbps: Any) -> str:
    if not mbps:
        return "-"
    return f"{mbps // 1000} Gb/s" if mbps >= 1000 and mbps % 1000 == 0 else f"{mbps} Mb/s"


def _nic(nic: Mapping[str, Any]) -> str:
    rows = []
    for role in ("management", "provider", "storage"):
        entry = nic.get(role)
        if not entry:
            rows.append([role, "-", "-", "-", "-", "-", "uses the management network"])
            continue
        how = entry.get("selected_by") or ""
        if entry.get("shared") and role != "management":
            how = f"shared with management (bridge); {how}"
        rows.append(
            [
                role,
                entry["name"],
                _text(entry.get("driver")),
                _speed(entry.get("speed_mbps")),
                _text(entry.get("mac")),
                entry.get("cidrs") or ["-"],
                how,
            ]
        )
    lines = table(["ROLE", "INTERFACE", "DRIVER", "SPEED", "MAC", "ADDRESSES", "CHOSEN BY"], rows)
    rejected = nic.get("rejected") or []
    if rejected:
        rows = [[r["name"], _text(r.get("type")), _reasons(r)] for r in rejected]
        lines += ["", f"Not used: {len(rejected)}", *table(["INTERFACE", "TYPE", "REASONS"], rows)]
    return _section("Network roles", lines)


def _ip(ip: Mapping[str, Any]) -> str:
    mgmt = ip.get("management") or {}
    provider = ip.get("provider") or {}
    k8s = ip.get("kubernetes") or {}
    storage = ip.get("storage")
    gateway = f", gateway {mgmt['gateway']}" if mgmt.get("gateway") else ""
    floating = f"{provider.get('allocation_start')}-{provider.get('allocation_end')}"
    rows = [
        ["management", _text(mgmt.get("cidr")), f"address {mgmt.get('address')} on {mgmt.get('interface')}{gateway}"],
        ["internal VIP", _text(ip.get("internal_vip")), ""],
        ["provider", _text(provider.get("cidr")), f"gateway {provider.get('gateway')}, floating IPs {floating}"],
        ["k8s pods", _text(k8s.get("pod_cidr")), ""],
        ["k8s services", _text(k8s.get("service_cidr")), ""],
        [
            "storage",
            _text((storage or {}).get("cidr")),
            f"address {storage['address']}" if storage else "management network",
        ],
    ]
    return _section("IP plan", table(["NETWORK", "CIDR", "DETAILS"], rows))


def _memory(mem: Mapping[str, Any]) -> str:
    def row(label: str, mib: Any) -> list[str]:
        mib = int(mib or 0)
        return [label, str(mib), f"{mib * MIB / 1024**3:.1f}"]

    count, target = mem.get("ceph_osd_count", 0), mem.get("ceph_osd_memory_target_mib", 0)
    scaled = " scaled down" if mem.get("ceph_osd_memory_target_scaled") else ""
    rows = [
        row("host OS", mem.get("host_os_mib")),
        row(f"ceph OSDs ({count} x {target} MiB{scaled})", mem.get("ceph_osds_mib")),
        row("ceph mon + mgr", mem.get("ceph_mon_mgr_mib")),
        row("openstack services", mem.get("openstack_mib")),
        row("kubernetes (k3s)", mem.get("kubernetes_mib")),
        row("= nova reserved_host_memory_mb", mem.get("nova_reserved_host_memory_mb")),
        row("guests", mem.get("guests_mib")),
        row("total", mem.get("total_mib")),
    ]
    return _section("Memory budget", table(["CONSUMER", "MiB", "GiB"], rows))
