"""plan_ip: management found on the node, planned networks validated, overlaps refused with the key to change."""

from __future__ import annotations

import pytest
from ansible_collections.ciab.box.plugins.module_utils.plan import PlanError
from ansible_collections.ciab.box.plugins.module_utils.plan.ipplan import plan_ip
from plan_facts import (
    REFERENCE_BOX_DEFAULT_ROUTE,
    REFERENCE_BOX_NICS,
    REFERENCE_BOX_ROUTES,
    SATA_SERVER_DEFAULT_ROUTE,
    SATA_SERVER_NICS,
    VM_DEFAULT_ROUTE,
    VM_NICS,
    fresh,
    inet,
    nic,
)


def ref(policy=None, routes=None, nics=None):
    return plan_ip(
        nics if nics is not None else fresh(REFERENCE_BOX_NICS),
        fresh(REFERENCE_BOX_DEFAULT_ROUTE),
        fresh(REFERENCE_BOX_ROUTES) + (routes or []),
        policy,
    )


def test_reference_box_defaults():
    plan = ref({})
    assert plan["management"] == {
        "interface": "eno1",
        "address": "192.0.2.10",
        "prefixlen": 24,
        "cidr": "192.0.2.0/24",
        "gateway": "192.0.2.1",
    }
    assert plan["internal_vip"] == "192.0.2.10"
    assert plan["provider"] == {
        "cidr": "172.24.4.0/24",
        "gateway": "172.24.4.1",
        "allocation_start": "172.24.4.100",
        "allocation_end": "172.24.4.200",
    }
    assert plan["kubernetes"] == {"pod_cidr": "10.42.0.0/16", "service_cidr": "10.43.0.0/16"}
    assert plan["storage"] is None
    assert plan["node_networks"] == [
        {"cidr": "127.0.0.0/8", "source": "address 127.0.0.1/8 on lo"},
        {"cidr": "192.0.2.0/24", "source": "address 192.0.2.10/24 on eno1"},
    ]
    assert plan["warnings"] == []


def test_provider_overlapping_the_management_network_is_refused():
    with pytest.raises(PlanError) as err:
        ref({"provider_cidr": "192.0.2.128/25"})
    assert str(err.value) == (
        "ciab_ip_policy.provider_cidr 192.0.2.128/25 overlaps the node's network 192.0.2.0/24 "
        "(address 192.0.2.10/24 on eno1); choose a free range for ciab_ip_policy.provider_cidr"
    )


def test_planned_networks_overlapping_each_other_are_refused():
    with pytest.raises(PlanError) as err:
        ref({"pod_cidr": "10.42.0.0/15"})
    assert str(err.value) == (
        "ciab_ip_policy.pod_cidr 10.42.0.0/15 overlaps ciab_ip_policy.service_cidr 10.43.0.0/16; change one of them"
    )
    with pytest.raises(PlanError, match=r"provider_cidr 10.43.0.0/24 overlaps ciab_ip_policy.service_cidr"):
        ref({"provider_cidr": "10.43.0.0/24"})


def test_pod_network_overlapping_a_node_route_is_refused():
    corporate = {"dst": "10.0.0.0/8", "gateway": "192.0.2.254", "dev": "eno1", "flags": []}
    with pytest.raises(PlanError) as err:
        ref({}, routes=[corporate])
    assert str(err.value) == (
        "ciab_ip_policy.pod_cidr 10.42.0.0/16 overlaps the node's network 10.0.0.0/8 "
        "(route 10.0.0.0/8 via 192.0.2.254 dev eno1); choose a free range for ciab_ip_policy.pod_cidr"
    )
    plan = ref({"pod_cidr": "100.64.0.0/16", "service_cidr": "100.65.0.0/16"}, routes=[corporate])
    assert plan["kubernetes"] == {"pod_cidr": "100.64.0.0/16", "service_cidr": "100.65.0.0/16"}


def test_routes_as_plain_cidr_strings_and_host_routes():
    with pytest.raises(PlanError, match=r"overlaps the node's network 172.24.4.9/32 \(route 172.24.4.9/32\)"):
        ref({}, routes=["172.24.4.9"])
    # default, non-unicast and IPv6 routes are not networks the node reaches
    ref({}, routes=["0.0.0.0/0", {"dst": "10.42.0.0/16", "type": "blackhole"}, {"dst": "fd00::/8", "dev": "eno1"}])


def test_networks_of_deployed_k3s_interfaces_are_ignored():
    nics = [*fresh(REFERENCE_BOX_NICS), nic("cni0", physical=False, type="bridge", addresses=[inet("10.42.0.1/24")])]
    cni_route = {"dst": "10.42.0.0/24", "dev": "cni0", "protocol": "kernel", "scope": "link", "flags": []}
    assert ref({}, routes=[cni_route], nics=nics)["kubernetes"]["pod_cidr"] == "10.42.0.0/16"
    with pytest.raises(PlanError, match=r"pod_cidr 10.42.0.0/16 overlaps the node's network 10.42.0.0/24"):
        ref({"ignore_interfaces": []}, routes=[cni_route], nics=nics)


def test_provider_already_configured_exactly_on_another_interface_is_accepted():
    nics = [*fresh(REFERENCE_BOX_NICS), nic("br-ex", physical=False, type="bridge", addresses=[inet("172.24.4.1/24")])]
    plan = ref({}, nics=nics)
    assert plan["provider"]["cidr"] == "172.24.4.0/24"
    assert plan["warnings"] == [
        "ciab_ip_policy.provider_cidr 172.24.4.0/24 is already configured on br-ex (address 172.24.4.1/24 on br-ex)"
    ]
    nics[-1]["addresses"] = [inet("172.24.0.1/16")]  # a larger network is a real conflict
    with pytest.raises(PlanError, match=r"provider_cidr 172.24.4.0/24 overlaps the node's network 172.24.0.0/16"):
        ref({}, nics=nics)


def test_host_bits_are_refused_with_the_fix():
    with pytest.raises(PlanError) as err:
        ref({"provider_cidr": "172.24.4.5/24"})
    assert (
        str(err.value) == "ciab_ip_policy.provider_cidr: 172.24.4.5/24 has host bits set; did you mean 172.24.4.0/24?"
    )


@pytest.mark.parametrize(
    ("policy", "message"),
    [
        ({"provider_cidr": "172.24.4.0"}, r"^ciab_ip_policy.provider_cidr must be an IPv4 network in CIDR form"),
        ({"provider_cidr": "172.24.400.0/24"}, r"^ciab_ip_policy.provider_cidr: '172.24.400.0/24' is not a network"),
        ({"provider_cidr": "fd00::/64"}, r"^ciab_ip_policy.provider_cidr: fd00::/64 is not IPv4"),
        ({"provider_cidr": "172.24.4.0/31"}, r"^ciab_ip_policy.provider_cidr 172.24.4.0/31 is too small"),
        ({"provider_gateway": "172.24.5.1"}, r"^ciab_ip_policy.provider_gateway 172.24.5.1 is not a usable address"),
        ({"provider_gateway": "172.24.4.150"}, r"^ciab_ip_policy.provider_gateway 172.24.4.150 lies inside"),
        (
            {"provider_allocation_start": "172.24.4.200", "provider_allocation_end": "172.24.4.100"},
            r"^ciab_ip_policy.provider_allocation_start 172.24.4.200 is after ciab_ip_policy.provider_allocation_end",
        ),
        ({"provider_allocation_end": "172.24.4.255"}, r"^ciab_ip_policy.provider_allocation_end 172.24.4.255 is not"),
        ({"pod_cidr": "10.42.0.0/25"}, r"^ciab_ip_policy.pod_cidr 10.42.0.0/25 is too small"),
        ({"service_cidr": "10.0.0.0/8"}, r"^ciab_ip_policy.service_cidr 10.0.0.0/8 is too large"),
        ({"internal_vip": "192.0.3.10"}, r"^ciab_ip_policy.internal_vip 192.0.3.10 is not a usable address of"),
        ({"internal_vip": "192.0.2.255"}, r"^ciab_ip_policy.internal_vip 192.0.2.255 is not a usable address"),
        ({"internal_vip": "192.0.2.1"}, r"^ciab_ip_policy.internal_vip 192.0.2.1 is the default gateway"),
        ({"internal_vip": "vip"}, r"^ciab_ip_policy.internal_vip must be an IPv4 address"),
        ({"management_interface": "eno2"}, r"^ciab_ip_policy.management_interface: eno2 has no IPv4 address"),
        ({"management_interface": "eno7"}, r"^ciab_ip_policy.management_interface: interface 'eno7' is not in"),
        ({"storage_cidr": "192.0.2.0/24"}, r"^ciab_ip_policy.storage_cidr 192.0.2.0/24 overlaps the node's network"),
        ({"provider_cird": "10.0.0.0/24"}, r"unknown key\(s\) 'provider_cird' \(did you mean 'provider_cidr'\?\)"),
        ({"ignore_interfaces": "cni0"}, r"^ciab_ip_policy.ignore_interfaces must be a list of strings"),
    ],
)
def test_bad_policy_names_the_key(policy, message):
    with pytest.raises(PlanError, match=message):
        ref(policy)


def test_internal_vip_and_custom_provider():
    plan = ref({"internal_vip": "192.0.2.50", "provider_cidr": "203.0.113.0/28"})
    assert plan["internal_vip"] == "192.0.2.50"
    # a network too small for .100-.200: gateway = first address, floating IPs = the rest
    assert plan["provider"] == {
        "cidr": "203.0.113.0/28",
        "gateway": "203.0.113.1",
        "allocation_start": "203.0.113.2",
        "allocation_end": "203.0.113.14",
    }


def test_small_provider_network_with_the_gateway_at_the_top():
    plan = ref({"provider_cidr": "203.0.113.0/28", "provider_gateway": "203.0.113.14"})
    assert (plan["provider"]["allocation_start"], plan["provider"]["allocation_end"]) == ("203.0.113.1", "203.0.113.13")


def test_storage_network_address_defaults_to_the_management_host_part():
    plan = ref({"storage_cidr": "198.18.0.0/24"})
    assert plan["storage"] == {"cidr": "198.18.0.0/24", "address": "198.18.0.10", "prefixlen": 24}
    plan = ref({"storage_cidr": "198.18.0.0/24", "storage_address": "198.18.0.77"})
    assert plan["storage"]["address"] == "198.18.0.77"
    with pytest.raises(PlanError, match=r"^ciab_ip_policy.storage_address 198.18.1.1 is not a usable address"):
        ref({"storage_cidr": "198.18.0.0/24", "storage_address": "198.18.1.1"})


def test_storage_network_already_on_the_storage_nic():
    nics = fresh(REFERENCE_BOX_NICS)
    nics[2]["addresses"] = [inet("198.18.0.42/24")]
    plan = ref({"storage_cidr": "198.18.0.0/24"}, nics=nics)
    assert plan["storage"]["address"] == "198.18.0.42"
    assert plan["warnings"] == [
        "ciab_ip_policy.storage_cidr 198.18.0.0/24 is already configured on eno2 (address 198.18.0.42/24 on eno2)"
    ]


def test_bond_management_and_docker_bridge():
    plan = plan_ip(fresh(SATA_SERVER_NICS), fresh(SATA_SERVER_DEFAULT_ROUTE), [], {})
    assert plan["management"]["interface"] == "bond0"
    assert plan["management"]["cidr"] == "198.51.100.0/24"
    with pytest.raises(
        PlanError, match=r"overlaps the node's network 172.17.0.0/16 \(address 172.17.0.1/16 on docker0\)"
    ):
        plan_ip(fresh(SATA_SERVER_NICS), fresh(SATA_SERVER_DEFAULT_ROUTE), [], {"provider_cidr": "172.17.5.0/24"})


def test_address_next_to_the_gateway_is_management_and_ipv6_is_ignored():
    nics = fresh(VM_NICS)
    nics[1]["addresses"] = [
        {"family": "inet6", "address": "fe80::1", "prefixlen": 64, "cidr": "fe80::1/64", "scope": "link"},
        inet("10.99.0.5/24"),
        inet("10.0.2.15/24"),
    ]
    plan = plan_ip(nics, fresh(VM_DEFAULT_ROUTE), [], {})
    assert plan["management"]["address"] == "10.0.2.15"


def test_on_link_gateway_outside_the_address_network_warns():
    nics = fresh(VM_NICS)
    nics[1]["addresses"] = [inet("203.0.113.7/32")]
    plan = plan_ip(nics, {"interface": "eth0", "gateway": "172.31.1.1", "family": "inet"}, [], {})
    assert plan["management"]["cidr"] == "203.0.113.7/32"
    assert plan["internal_vip"] == "203.0.113.7"
    assert plan["warnings"] == ["gateway 172.31.1.1 lies outside the management network 203.0.113.7/32 (on-link route)"]


def test_no_default_route_needs_the_management_interface():
    with pytest.raises(
        PlanError, match=r"^ciab_default_route.interface is empty .* set ciab_ip_policy.management_interface"
    ):
        plan_ip(fresh(VM_NICS), {"interface": None, "gateway": None}, [], {})
    plan = plan_ip(fresh(VM_NICS), None, None, {"management_interface": "eth0"})
    assert plan["management"]["gateway"] is None


@pytest.mark.parametrize(
    ("nics", "route", "routes", "message"),
    [
        ("eth0", VM_DEFAULT_ROUTE, [], r"^ciab_nics must be a list of dicts"),
        (VM_NICS, ["eth0"], [], r"^ciab_default_route must be a dict"),
        (VM_NICS, VM_DEFAULT_ROUTE, "10.0.0.0/8", r"^routes must be a list"),
        (VM_NICS, VM_DEFAULT_ROUTE, [42], r"^routes\[0\] must be a route dict"),
        (VM_NICS, VM_DEFAULT_ROUTE, [{"dst": "nowhere"}], r"^routes\[0\]: destination 'nowhere' is not an IP network"),
    ],
)
def test_bad_arguments_name_the_argument(nics, route, routes, message):
    with pytest.raises(PlanError, match=message):
        plan_ip(fresh(nics), route, routes, {})


def test_loopback_is_not_a_management_interface():
    with pytest.raises(PlanError, match=r"^ciab_ip_policy.management_interface: lo is the loopback interface"):
        ref({"management_interface": "lo"})


@pytest.mark.parametrize(
    ("key", "cidr", "what"),
    [
        ("provider_cidr", "224.1.0.0/24", "multicast"),
        ("provider_cidr", "240.0.0.0/24", "reserved"),
        ("provider_cidr", "127.0.0.0/24", "loopback"),
        ("provider_cidr", "169.254.0.0/24", "link-local"),
        ("provider_cidr", "0.0.0.0/24", "'this network'"),
        ("storage_cidr", "239.0.0.0/24", "multicast"),
        ("pod_cidr", "224.0.0.0/16", "multicast"),
        ("service_cidr", "240.0.0.0/16", "reserved"),
    ],
)
def test_special_ranges_are_refused_naming_the_key(key, cidr, what):
    with pytest.raises(PlanError, match=rf"^ciab_ip_policy.{key}: {cidr} overlaps .*\({what}"):
        ref({key: cidr})


def test_a_policy_that_is_no_dict_names_its_plain_type():
    class _AnsibleTaggedStr(str):  # what Ansible hands a filter for a string from the inventory
        pass

    with pytest.raises(PlanError) as err:
        ref(_AnsibleTaggedStr("oops"))
    assert str(err.value) == "ciab_ip_policy must be a dict of policy keys, got str: 'oops'"
