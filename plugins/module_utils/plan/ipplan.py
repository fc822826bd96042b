"""Plan the IPv4 networks: management (found on the node), internal VIP, provider, Kubernetes, storage.

Planned networks must not overlap each other nor any network the node already reaches (connected networks of
its addresses plus its routes); a conflict raises PlanError naming both networks and the policy key to change.
All address math is netaddr's.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ansible_collections.ciab.box.plugins.module_utils.plan import (
    PlanError,
    as_str_list,
    check_policy,
    require_list_of_dicts,
    short,
)
from netaddr import AddrFormatError, IPAddress, IPNetwork, IPSet
from netaddr.ip import IPV4_LINK_LOCAL, IPV4_LOOPBACK, IPV4_MULTICAST

VAR = "ciab_ip_policy"
NICS_VAR = "ciab_nics"
ROUTE_VAR = "ciab_default_route"
ROUTES_ARG = "routes"
DEFAULTS: dict[str, Any] = {
    "management_interface": None,
    "internal_vip": None,
    "provider_cidr": "172.24.4.0/24",
    "provider_gateway": None,
    "provider_allocation_start": None,
    "provider_allocation_end": None,
    "pod_cidr": "10.42.0.0/16",
    "service_cidr": "10.43.0.0/16",
    "storage_cidr": None,
    "storage_address": None,
    # Interfaces the deployment itself creates (k3s flannel/CNI); their networks lie inside pod/service CIDRs.
    "ignore_interfaces": ["cni0", "flannel.1", "kube-ipvs0"],
}
# For a network with room for it the default provider allocation range is .100-.200 (offsets in the network).
_RANGE_OFFSETS = (100, 200)
# Ranges no planned network may touch: they are not unicast networks a node or a guest can use.
_SPECIAL = (
    (IPNetwork("0.0.0.0/8"), "'this network'"),
    (IPV4_LOOPBACK, "loopback"),
    (IPV4_LINK_LOCAL, "link-local"),
    (IPV4_MULTICAST, "multicast"),
    (IPNetwork("240.0.0.0/4"), "reserved, with the broadcast address"),
)
# Provider and storage may already be configured exactly as planned on a non-management interface.
_MAY_EXIST = ("provider_cidr", "storage_cidr")


def plan_ip(
    nics: list[Mapping[str, Any]],
    default_route: Mapping[str, Any] | None,
    routes: list[Any] | None = None,
    policy: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """Return the IP plan for one node; see plugins/filter/ip_plan.yml for the structure."""
    nics = require_list_of_dicts(nics, NICS_VAR)
    if default_route is not None and not isinstance(default_route, Mapping):
        raise PlanError(f"{ROUTE_VAR} must be a dict with 'interface' and 'gateway', got {short(default_route)}")
    if routes is not None and not isinstance(routes, list | tuple):
        raise PlanError(
            f"{ROUTES_ARG} must be a list of route dicts (ip -j route) or CIDR strings, got {short(routes)}"
        )
    pol = check_policy(policy, DEFAULTS, VAR)
    ignore = set(as_str_list(pol["ignore_interfaces"], f"{VAR}.ignore_interfaces"))
    warnings: list[str] = []
    mgmt = _management(nics, default_route or {}, pol["management_interface"], warnings)
    vip = _internal_vip(pol["internal_vip"], mgmt)
    provider = _provider(pol)
    pod = _network(pol["pod_cidr"], f"{VAR}.pod_cidr")
    service = _network(pol["service_cidr"], f"{VAR}.service_cidr")
    if pod.prefixlen > 24:
        raise PlanError(
            f"{VAR}.pod_cidr {pod} is too small: k3s gives every node a /24; use a /16 such as 10.42.0.0/16"
        )
    if service.prefixlen < 12:
        raise PlanError(f"{VAR}.service_cidr {service} is too large: Kubernetes allows at most a /12")
    storage_net = _network(pol["storage_cidr"], f"{VAR}.storage_cidr") if pol["storage_cidr"] else None
    planned = {"provider_cidr": provider["net"], "pod_cidr": pod, "service_cidr": service}
    if storage_net is not None:
        planned["storage_cidr"] = storage_net
    node = _node_networks(nics, routes or [], ignore)
    _check_overlaps(planned, node, mgmt["interface"], warnings)
    storage = _storage(storage_net, pol["storage_address"], mgmt, nics) if storage_net is not None else None
    return {
        "management": {k: mgmt[k] for k in ("interface", "address", "prefixlen", "cidr", "gateway")},
        "internal_vip": vip,
        "provider": {k: v for k, v in provider.items() if k != "net"},
        "kubernetes": {"pod_cidr": str(pod), "service_cidr": str(service)},
        "storage": storage,
        "node_networks": [{"cidr": str(n["net"]), "source": n["source"]} for n in node],
        "warnings": warnings,
    }


def _network(value: Any, key: str) -> IPNetwork:
    """A strict IPv4 network in CIDR form; host bits set are refused with the corrected value."""
    if not isinstance(value, str) or "/" not in value:
        raise PlanError(f"{key} must be an IPv4 network in CIDR form like 172.24.4.0/24, got {value!r}")
    try:
        net = IPNetwork(value.strip())
    except (AddrFormatError, ValueError, TypeError) as exc:
        raise PlanError(f"{key}: {value!r} is not a network in CIDR form like 172.24.4.0/24 ({exc})") from exc
    if net.version != 4:
        raise PlanError(f"{key}: {value} is not IPv4; the plan covers IPv4 networks only")
    if net.ip != net.network:
        raise PlanError(f"{key}: {value} has host bits set; did you mean {net.cidr}?")
    for special, what in _SPECIAL:
        if _overlaps(net, special):
            raise PlanError(
                f"{key}: {value} overlaps {special} ({what}), which cannot carry a network; use a private range "
                "such as 172.24.4.0/24"
            )
    return net


def _address(value: Any, key: str) -> IPAddress:
    try:
        addr = IPAddress(str(value).strip())
    except (AddrFormatError, ValueError, TypeError) as exc:
        raise PlanError(f"{key} must be an IPv4 address like 192.0.2.10, got {value!r}") from exc
    if addr.version != 4:
        raise PlanError(f"{key}: {value} is not IPv4")
    return addr


def _usable(addr: IPAddress, net: IPNetwork) -> bool:
    """Inside ``net`` and, for networks larger than /31, neither its network nor its broadcast address."""
    if addr not in net:
        return False
    return net.prefixlen >= 31 or addr not in (net.network, net.broadcast)


def _management(
    nics: list[Mapping[str, Any]], route: Mapping[str, Any], wanted: Any, warnings: list[str]
) -> dict[str, Any]:
    """The management address: on the policy's interface (or the default-route one), next to the gateway."""
    iface = wanted or route.get("interface")
    key = f"{VAR}.management_interface" if wanted else f"{ROUTE_VAR}.interface"
    if not iface:
        raise PlanError(
            f"{ROUTE_VAR}.interface is empty (no IPv4 default route); set {VAR}.management_interface to the "
            "interface that carries the management address"
        )
    nic = next((n for n in nics if n["name"] == iface), None)
    if nic is None:
        raise PlanError(f"{key}: interface {iface!r} is not in {NICS_VAR}; known: {', '.join(n['name'] for n in nics)}")
    if nic.get("type") == "loopback":
        raise PlanError(
            f"{key}: {iface} is the loopback interface, which no other machine reaches; set "
            f"{VAR}.management_interface to the interface that carries the management address"
        )
    addrs = [IPNetwork(a["cidr"]) for a in nic.get("addresses") or [] if a.get("family") == "inet" and a.get("cidr")]
    if not addrs:
        raise PlanError(
            f"{key}: {iface} has no IPv4 address; configure the management address on it or set "
            f"{VAR}.management_interface to the interface that has one"
        )
    gateway = route.get("gateway") if route.get("interface") == iface else None
    gw = _address(gateway, f"{ROUTE_VAR}.gateway") if gateway else None
    chosen = next((a for a in addrs if gw is not None and gw in a), addrs[0])
    if gw is not None and gw not in chosen:
        warnings.append(f"gateway {gw} lies outside the management network {chosen.cidr} (on-link route)")
    return {
        "interface": iface,
        "address": str(chosen.ip),
        "prefixlen": chosen.prefixlen,
        "cidr": str(chosen.cidr),
        "gateway": str(gw) if gw is not None else None,
        "net": chosen.cidr,
        "host_offset": int(chosen.ip) - chosen.cidr.first,
    }


def _internal_vip(value: Any, mgmt: Mapping[str, Any]) -> str:
    """Default: the node's own management address (single node); else an address inside the management net."""
    if value is None:
        return mgmt["address"]
    vip = _address(value, f"{VAR}.internal_vip")
    if not _usable(vip, mgmt["net"]):
        raise PlanError(
            f"{VAR}.internal_vip {vip} is not a usable address of the management network {mgmt['net']} "
            f"on {mgmt['interface']}; pick a free address inside it"
        )
    if mgmt["gateway"] and str(vip) == mgmt["gateway"]:
        raise PlanError(f"{VAR}.internal_vip {vip} is the default gateway; pick a free address in {mgmt['net']}")
    return str(vip)


def _provider(pol: Mapping[str, Any]) -> dict[str, Any]:
    net = _network(pol["provider_cidr"], f"{VAR}.provider_cidr")
    if net.size < 4:
        raise PlanError(f"{VAR}.provider_cidr {net} is too small for a gateway and floating IPs; use a /29 or larger")
    gateway = _address(pol["provider_gateway"], f"{VAR}.provider_gateway") if pol["provider_gateway"] else net[1]
    if (
        pol["provider_allocation_start"] is None
        and pol["provider_allocation_end"] is None
        and net.size > _RANGE_OFFSETS[1] + 1
    ):
        start, end = net[_RANGE_OFFSETS[0]], net[_RANGE_OFFSETS[1]]
    else:
        # the usable addresses, less the gateway when it sits at either end
        first, last = (net[2] if gateway == net[1] else net[1]), (net[-3] if gateway == net[-2] else net[-2])
        start = _address(pol["provider_allocation_start"] or first, f"{VAR}.provider_allocation_start")
        end = _address(pol["provider_allocation_end"] or last, f"{VAR}.provider_allocation_end")
    for key, addr in (
        ("provider_gateway", gateway),
        ("provider_allocation_start", start),
        ("provider_allocation_end", end),
    ):
        if not _usable(addr, net):
            raise PlanError(f"{VAR}.{key} {addr} is not a usable address of {VAR}.provider_cidr {net}")
    if start > end:
        raise PlanError(f"{VAR}.provider_allocation_start {start} is after {VAR}.provider_allocation_end {end}")
    if start <= gateway <= end:
        raise PlanError(
            f"{VAR}.provider_gateway {gateway} lies inside the allocation range {start}-{end}; "
            f"move {VAR}.provider_allocation_start or {VAR}.provider_allocation_end"
        )
    return {
        "net": net,
        "cidr": str(net),
        "gateway": str(gateway),
        "allocation_start": str(start),
        "allocation_end": str(end),
    }


def _route_network(route: Any, index: int) -> tuple[IPNetwork | None, str | None, str]:
    """(network, device, description) of one route; None for default routes and non-IPv4 entries."""
    where = f"{ROUTES_ARG}[{index}]"
    if isinstance(route, str):
        dst, dev, via = route, None, None
    elif isinstance(route, Mapping):
        dst, dev, via = route.get("dst"), route.get("dev"), route.get("gateway")
    else:
        raise PlanError(f"{where} must be a route dict (ip -j route) or a CIDR string, got {route!r}")
    if not dst or dst == "default" or (isinstance(route, Mapping) and route.get("type") not in (None, "unicast")):
        return None, None, ""
    try:
        net = IPNetwork(str(dst))
    except (AddrFormatError, ValueError) as exc:
        raise PlanError(f"{where}: destination {dst!r} is not an IP network") from exc
    if net.version != 4 or net.prefixlen == 0:
        return None, None, ""
    text = f"route {net.cidr}" + (f" via {via}" if via else "") + (f" dev {dev}" if dev else "")
    return net.cidr, dev, text


def _node_networks(nics: list[Mapping[str, Any]], routes: list[Any], ignore: set[str]) -> list[dict[str, Any]]:
    """Networks the node reaches already: connected networks of its IPv4 addresses, then its routes."""
    found: dict[tuple[str, str | None], dict[str, Any]] = {}
    for nic in nics:
        if nic["name"] in ignore:
            continue
        for addr in nic.get("addresses") or []:
            if addr.get("family") != "inet" or not addr.get("cidr"):
                continue
            net = IPNetwork(addr["cidr"])
            source = f"address {addr['cidr']} on {nic['name']}"
            found.setdefault((str(net.cidr), nic["name"]), {"net": net.cidr, "dev": nic["name"], "source": source})
    for index, route in enumerate(routes):
        net, dev, text = _route_network(route, index)
        if net is not None and dev not in ignore:
            found.setdefault((str(net), dev), {"net": net, "dev": dev, "source": text})
    return list(found.values())


def _overlaps(a: IPNetwork, b: IPNetwork) -> bool:
    return bool(IPSet([a]) & IPSet([b]))


def _check_overlaps(
    planned: Mapping[str, IPNetwork], node: list[Mapping[str, Any]], mgmt_iface: str, warnings: list[str]
) -> None:
    keys = list(planned)
    for i, first in enumerate(keys):
        for second in keys[i + 1 :]:
            if _overlaps(planned[first], planned[second]):
                raise PlanError(
                    f"{VAR}.{first} {planned[first]} overlaps {VAR}.{second} {planned[second]}; change one of them"
                )
    for key, net in planned.items():
        for seen in node:
            if not _overlaps(net, seen["net"]):
                continue
            if key in _MAY_EXIST and seen["net"] == net and seen["dev"] and seen["dev"] != mgmt_iface:
                warnings.append(f"{VAR}.{key} {net} is already configured on {seen['dev']} ({seen['source']})")
                continue
            raise PlanError(
                f"{VAR}.{key} {net} overlaps the node's network {seen['net']} ({seen['source']}); "
                f"choose a free range for {VAR}.{key}"
            )


def _storage(net: IPNetwork, value: Any, mgmt: Mapping[str, Any], nics: list[Mapping[str, Any]]) -> dict[str, Any]:
    """The node's storage address: policy, else an address it already has there, else the management host part."""
    key = f"{VAR}.storage_address"
    if value:
        addr = _address(value, key)
    else:
        present = [
            IPNetwork(a["cidr"]).ip
            for n in nics
            for a in n.get("addresses") or []
            if a.get("family") == "inet" and a.get("cidr") and IPNetwork(a["cidr"]).ip in net
        ]
        addr = present[0] if present else IPAddress(net.first + mgmt["host_offset"])
    if not _usable(addr, net):
        raise PlanError(
            f"{key} {addr} is not a usable address of {VAR}.storage_cidr {net}; set {key} to one "
            f"(the default reuses the host part of the management address {mgmt['address']})"
        )
    return {"cidr": str(net), "address": str(addr), "prefixlen": net.prefixlen}
