"""Assign network roles (management, provider, storage) from ``ciab_nics`` facts and ``ciab_nic_policy``.

Management is wherever the default route lives (a bridge or bond is reported as such and never moved).
Provider and storage go to the remaining eligible physical NICs: names or MACs in the policy win, otherwise
carrier first, then speed. With a single NIC the provider network shares the management NIC (``shared``).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from ansible_collections.ciab.box.plugins.module_utils.plan import PlanError, check_policy, require_list_of_dicts, short

VAR = "ciab_nic_policy"
NICS_VAR = "ciab_nics"
ROUTE_VAR = "ciab_default_route"
DEFAULTS: dict[str, Any] = {"management": None, "provider": None, "storage": None}
_MAC = re.compile(r"^[0-9a-f]{2}([:-][0-9a-f]{2}){5}$", re.IGNORECASE)


def assign_nic_roles(
    nics: list[Mapping[str, Any]], default_route: Mapping[str, Any] | None, policy: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    """Return ``{"management", "provider", "storage", "rejected", "warnings"}`` for ``nics`` (``ciab_nics``)."""
    nics = require_list_of_dicts(nics, NICS_VAR)
    if default_route is not None and not isinstance(default_route, Mapping):
        raise PlanError(f"{ROUTE_VAR} must be a dict with 'interface' and 'gateway', got {short(default_route)}")
    pol = check_policy(policy, DEFAULTS, VAR)
    by_name = {nic["name"]: nic for nic in nics}
    warnings: list[str] = []
    management = _management(nics, by_name, default_route or {}, pol["management"], warnings)
    stack = _stack(management, by_name)
    held = {name: f"carries the management network (under {top})" for name, top in stack.items()}
    route_iface = (default_route or {}).get("interface")
    if route_iface in by_name and route_iface not in stack:  # explicit management elsewhere: never reuse it
        held.update(
            {n: f"carries the default route (under {top})" for n, top in _stack(by_name[route_iface], by_name).items()}
        )
    taken = set(held)
    roles: dict[str, dict[str, Any] | None] = {}
    for role in ("provider", "storage"):  # explicit names first, so automatic picks cannot steal them
        if pol[role] is not None:
            roles[role] = _explicit(
                role, pol[role], nics, management=management, stack=stack, taken=taken, warnings=warnings
            )
    for role in ("provider", "storage"):
        if role not in roles:
            roles[role] = _auto(nics, taken)
    provider, storage = roles["provider"], roles["storage"]
    if provider is None:
        provider = _entry(management, "no free NIC left", shared=True)
        warnings.append(
            f"no free NIC for the provider network: it shares the management NIC {management['name']} through a "
            f"bridge (provider.shared: true); name a free NIC in {VAR}.provider to separate them"
        )
    if provider["shared"] and management["type"] == "wireless":
        warnings.append(
            f"the management NIC {management['name']} is wireless and cannot be bridged: the provider network "
            f"has no uplink (floating IPs reach only this node); name a wired NIC in {VAR}.provider"
        )
    assigned = {management["name"], provider["name"], *([storage["name"]] if storage else [])}
    rejected = [_rejected(nic, held) for nic in nics if nic["name"] not in assigned]
    return {
        "management": management,
        "provider": provider,
        "storage": storage,
        "rejected": rejected,
        "warnings": warnings,
    }


def _norm_mac(value: Any) -> str | None:
    return str(value).lower().replace("-", ":") if value else None


def _resolve(value: Any, key: str, nics: list[Mapping[str, Any]]) -> Mapping[str, Any]:
    """Find the NIC a policy value names: an interface name (or altname) or a MAC address."""
    if not isinstance(value, str) or not value.strip():
        raise PlanError(f"{key} must be an interface name or a MAC address, got {value!r}")
    value = value.strip()
    if _MAC.match(value):
        mac = _norm_mac(value)
        hits = [n for n in nics if _norm_mac(n.get("permanent_mac")) == mac]
        hits = hits or [n for n in nics if _norm_mac(n.get("mac")) == mac and n.get("physical")]
        hits = hits or [n for n in nics if _norm_mac(n.get("mac")) == mac]
        if len(hits) > 1:
            names = ", ".join(n["name"] for n in hits)
            raise PlanError(f"{key}: MAC {value} is shared by {names}; use the interface name instead")
    else:
        hits = [n for n in nics if n["name"] == value or value in (n.get("altnames") or [])]
    known = ", ".join(f"{n['name']} ({n.get('mac')})" for n in nics if n.get("type") != "loopback")
    if not hits:
        raise PlanError(f"{key}: no interface {value!r} on the node; known interfaces: {known}")
    if hits[0].get("type") == "loopback":
        raise PlanError(
            f"{key}: {hits[0]['name']} is the loopback interface, which no other machine reaches; "
            f"name a network interface: {known}"
        )
    return hits[0]


def _require_carrier(nic: Mapping[str, Any], key: str) -> None:
    if nic.get("carrier") is not True:
        raise PlanError(
            f"{key}: {nic['name']} has no carrier (operstate {nic.get('operstate')}); connect the cable or enable "
            f"the switch port, or name another interface in {key}"
        )


def _entry(nic: Mapping[str, Any], selected_by: str, shared: bool = False) -> dict[str, Any]:
    return {
        "name": nic["name"],
        "type": nic.get("type"),
        "mac": nic.get("mac"),
        "permanent_mac": nic.get("permanent_mac"),
        "driver": nic.get("driver"),
        "speed_mbps": nic.get("speed_mbps"),
        "mtu": nic.get("mtu"),
        "carrier": nic.get("carrier"),
        "pci_address": nic.get("pci_address"),
        "members": list(nic.get("members") or []),
        "cidrs": [a["cidr"] for a in nic.get("addresses") or [] if a.get("family") == "inet" and a.get("cidr")],
        "shared": shared,
        "selected_by": selected_by,
    }


def _management(
    nics: list[Mapping[str, Any]],
    by_name: Mapping[str, Mapping[str, Any]],
    route: Mapping[str, Any],
    wanted: Any,
    warnings: list[str],
) -> dict[str, Any]:
    iface = route.get("interface")
    if wanted is not None:
        nic = _resolve(wanted, f"{VAR}.management", nics)
        via = []
        while nic.get("master") in by_name:  # a bridge/bond port: the address lives on the master
            via.append(nic["name"])
            nic = by_name[nic["master"]]
        _require_carrier(nic, f"{VAR}.management")
        if iface and iface != nic["name"]:
            warnings.append(
                f"{VAR}.management is {nic['name']} but the default route uses {iface}; the plan follows the policy"
            )
        return _entry(nic, f"{VAR}.management" + (f" (via port {via[0]})" if via else ""))
    if not iface:
        raise PlanError(
            f"{ROUTE_VAR}.interface is empty: the node has no IPv4 default route, so the management NIC is unknown; "
            f"set {VAR}.management to its interface name or MAC"
        )
    if iface not in by_name:
        raise PlanError(
            f"{ROUTE_VAR}.interface {iface!r} is not in {NICS_VAR}; re-run discovery or set {VAR}.management"
        )
    if by_name[iface].get("type") == "loopback":
        raise PlanError(
            f"{ROUTE_VAR}.interface {iface!r} is the loopback interface; set {VAR}.management to the interface "
            "that carries the management address"
        )
    return _entry(by_name[iface], "default route")


def _stack(management: Mapping[str, Any], by_name: Mapping[str, Mapping[str, Any]]) -> dict[str, str]:
    """Interfaces that carry management: the NIC, its ports/slaves (recursively) and a VLAN's parent."""
    stack = {management["name"]: management["name"]}
    todo = [management["name"]]
    while todo:
        name = todo.pop()
        nic = by_name.get(name) or {}
        lower = list(nic.get("members") or [])
        if nic.get("type") == "vlan" and "." in name:
            lower.append(name.rsplit(".", 1)[0])
        for member in lower:
            if member in by_name and member not in stack:
                stack[member] = name
                todo.append(member)
    return stack


def _explicit(
    role: str,
    wanted: Any,
    nics: list[Mapping[str, Any]],
    *,
    management: Mapping[str, Any],
    stack: Mapping[str, str],
    taken: set[str],
    warnings: list[str],
) -> dict[str, Any] | None:
    """The NIC the policy names; naming the management NIC asks to share it (storage: None = management)."""
    key = f"{VAR}.{role}"
    nic = _resolve(wanted, key, nics)
    if nic["name"] in stack:
        return _entry(management, key, shared=True) if role == "provider" else None
    if nic["name"] in taken:
        raise PlanError(
            f"{key}: {nic['name']} already carries another role or the default route; give each role its own NIC "
            f"or leave {key} unset"
        )
    _require_carrier(nic, key)
    if nic.get("master"):
        warnings.append(f"{key}: {nic['name']} is already a port of {nic['master']}")
    taken.add(nic["name"])
    return _entry(nic, key)


def _auto(nics: list[Mapping[str, Any]], taken: set[str]) -> dict[str, Any] | None:
    """The fastest free eligible physical NIC with carrier (name breaks ties); None when none is left."""
    free = [
        nic
        for nic in nics
        if nic["name"] not in taken
        and nic.get("physical")
        and nic.get("type") == "ether"
        and nic.get("eligible")
        and nic.get("carrier") is True
        and not nic.get("master")
    ]
    if not free:
        return None
    best = sorted(free, key=lambda n: (-(n.get("speed_mbps") or 0), n["name"]))[0]
    taken.add(best["name"])
    return _entry(best, f"best free NIC (carrier, {best.get('speed_mbps') or 'unknown'} Mb/s)")


def _rejected(nic: Mapping[str, Any], held: Mapping[str, str]) -> dict[str, Any]:
    reasons = [str(r) for r in nic.get("reasons") or []]
    if nic["name"] in held:
        reasons.append(held[nic["name"]])
    elif nic.get("eligible") and not reasons:
        reasons.append("eligible but not needed: every role already has a NIC")
    elif not reasons:
        reasons.append("not eligible (discovery gave no reason)")
    return {"name": nic["name"], "type": nic.get("type"), "mac": nic.get("mac"), "reasons": reasons}
