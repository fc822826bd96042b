"""assign_nic_roles: management stays where the default route is; provider/storage by policy, carrier, speed."""

from __future__ import annotations

import pytest
from ansible_collections.ciab.box.plugins.module_utils.plan import PlanError
from ansible_collections.ciab.box.plugins.module_utils.plan.nic import assign_nic_roles
from plan_facts import (
    REFERENCE_BOX_DEFAULT_ROUTE,
    REFERENCE_BOX_NICS,
    SATA_SERVER_DEFAULT_ROUTE,
    SATA_SERVER_NICS,
    VM_DEFAULT_ROUTE,
    VM_NICS,
    fresh,
    nic,
)


def roles(result):
    return {
        role: (result[role]["name"], result[role]["shared"]) if result[role] else None
        for role in ("management", "provider", "storage")
    }


def rejected(result):
    return {r["name"]: r["reasons"] for r in result["rejected"]}


def ref(policy=None):
    return assign_nic_roles(fresh(REFERENCE_BOX_NICS), fresh(REFERENCE_BOX_DEFAULT_ROUTE), policy)


def sata(policy=None):
    return assign_nic_roles(fresh(SATA_SERVER_NICS), fresh(SATA_SERVER_DEFAULT_ROUTE), policy)


def test_reference_box():
    result = ref({})
    assert roles(result) == {"management": ("eno1", False), "provider": ("eno2", False), "storage": None}
    assert result["management"] == {
        "name": "eno1",
        "type": "ether",
        "mac": "bc:97:e1:5a:10:01",
        "permanent_mac": "bc:97:e1:5a:10:01",
        "driver": "bnxt_en",
        "speed_mbps": 10000,
        "mtu": 1500,
        "carrier": True,
        "pci_address": "0000:41:00.0",
        "members": [],
        "cidrs": ["192.0.2.10/24"],
        "shared": False,
        "selected_by": "default route",
    }
    assert result["provider"]["selected_by"] == "best free NIC (carrier, 10000 Mb/s)"
    assert rejected(result) == {"lo": ["is loopback"]}
    assert result["warnings"] == []


def test_bond_carrying_the_default_route_is_management_and_its_slaves_are_never_reused():
    result = sata()
    assert roles(result) == {
        "management": ("bond0", False),
        "provider": ("ens2f0", False),
        "storage": ("ens2f1", False),
    }
    assert result["management"]["members"] == ["eno1", "eno2"]
    assert result["management"]["cidrs"] == ["198.51.100.20/24"]
    assert rejected(result) == {
        "lo": ["is loopback"],
        "eno1": ["is a bond slave of bond0", "carries the management network (under bond0)"],
        "eno2": ["is a bond slave of bond0", "carries the management network (under bond0)"],
        "ens3f0": ["no carrier"],
        "docker0": ["is virtual (bridge)", "no carrier"],
    }


def test_faster_nic_wins_the_provider_role():
    nics = [*fresh(REFERENCE_BOX_NICS), nic("ens1f0", driver="ice", speed_mbps=25000)]
    result = assign_nic_roles(nics, fresh(REFERENCE_BOX_DEFAULT_ROUTE), {})
    assert roles(result) == {"management": ("eno1", False), "provider": ("ens1f0", False), "storage": ("eno2", False)}


def test_a_single_nic_collapses_roles_onto_management_with_a_warning():
    result = assign_nic_roles(fresh(VM_NICS), fresh(VM_DEFAULT_ROUTE), {})
    assert roles(result) == {"management": ("eth0", False), "provider": ("eth0", True), "storage": None}
    assert result["warnings"] == [
        "no free NIC for the provider network: it shares the management NIC eth0 through a bridge "
        "(provider.shared: true); name a free NIC in ciab_nic_policy.provider to separate them"
    ]


def test_provider_by_mac_in_any_spelling():
    result = ref({"provider": "BC-97-E1-5A-10-02"})
    assert roles(result)["provider"] == ("eno2", False)
    assert result["provider"]["selected_by"] == "ciab_nic_policy.provider"


def test_storage_taking_the_last_free_nic_leaves_provider_shared():
    result = ref({"storage": "eno2"})
    assert roles(result) == {"management": ("eno1", False), "provider": ("eno1", True), "storage": ("eno2", False)}
    assert result["warnings"][0].startswith("no free NIC for the provider network: it shares the management NIC eno1")


def test_explicit_storage_is_not_stolen_by_automatic_provider_choice():
    result = sata({"storage": "ens2f0"})
    assert roles(result) == {
        "management": ("bond0", False),
        "provider": ("ens2f1", False),
        "storage": ("ens2f0", False),
    }


def test_naming_the_management_nic_asks_for_sharing():
    result = ref({"provider": "eno1", "storage": "eno1"})
    assert roles(result) == {"management": ("eno1", False), "provider": ("eno1", True), "storage": None}
    assert result["warnings"] == []
    assert rejected(result)["eno2"] == ["eligible but not needed: every role already has a NIC"]


def test_naming_a_port_of_the_management_bond_shares_the_bond():
    result = sata({"provider": "3c:ec:ef:00:00:02"})
    assert roles(result)["provider"] == ("bond0", True)


def test_management_by_mac_of_a_bond_slave_reports_the_bond():
    # the bond and both slaves share 3c:ec:ef:00:00:01; the permanent MAC identifies eno1, whose master is bond0
    result = sata({"management": "3c:ec:ef:00:00:01"})
    assert result["management"]["name"] == "bond0"
    assert result["management"]["selected_by"] == "ciab_nic_policy.management (via port eno1)"


def test_explicit_management_elsewhere_warns_and_keeps_the_default_route_nic_free():
    result = ref({"management": "eno2"})
    assert roles(result) == {"management": ("eno2", False), "provider": ("eno2", True), "storage": None}
    assert result["warnings"][0] == (
        "ciab_nic_policy.management is eno2 but the default route uses eno1; the plan follows the policy"
    )
    assert rejected(result)["eno1"] == ["carries the default route (under eno1)"]


@pytest.mark.parametrize(
    ("policy", "message"),
    [
        ({"provider": "eno9"}, r"^ciab_nic_policy.provider: no interface 'eno9' on the node; known interfaces: eno1"),
        ({"storage": "aa:bb:cc:dd:ee:ff"}, r"^ciab_nic_policy.storage: no interface 'aa:bb:cc:dd:ee:ff'"),
        ({"provider": "ens3f0"}, r"^ciab_nic_policy.provider: ens3f0 has no carrier \(operstate down\)"),
        ({"provider": "ens2f0", "storage": "ens2f0"}, r"^ciab_nic_policy.storage: ens2f0 already carries another role"),
        ({"provider": ""}, r"^ciab_nic_policy.provider must be an interface name or a MAC address"),
        ({"bridge": "br0"}, r"^ciab_nic_policy has unknown key\(s\) 'bridge'"),
        ("eno1", r"^ciab_nic_policy must be a dict"),
    ],
)
def test_bad_policy_names_the_key(policy, message):
    with pytest.raises(PlanError, match=message):
        sata(policy)


def test_shared_mac_without_permanent_mac_is_ambiguous():
    nics = [nic("eth0", mac="52:54:00:00:00:01"), nic("eth1", mac="52:54:00:00:00:01"), *fresh(VM_NICS)[1:]]
    with pytest.raises(PlanError, match=r"^ciab_nic_policy.provider: MAC 52:54:00:00:00:01 is shared by eth0, eth1"):
        assign_nic_roles(nics, fresh(VM_DEFAULT_ROUTE), {"provider": "52:54:00:00:00:01"})


def test_missing_default_route_names_the_fact_and_the_policy_key():
    with pytest.raises(PlanError) as err:
        assign_nic_roles(fresh(VM_NICS), {"interface": None, "gateway": None, "family": "inet"}, {})
    assert "ciab_default_route.interface is empty" in str(err.value)
    assert "set ciab_nic_policy.management" in str(err.value)
    result = assign_nic_roles(fresh(VM_NICS), None, {"management": "eth0"})
    assert result["management"]["selected_by"] == "ciab_nic_policy.management"


def test_default_route_on_an_unknown_interface():
    with pytest.raises(PlanError, match=r"^ciab_default_route.interface 'wg0' is not in ciab_nics"):
        assign_nic_roles(fresh(VM_NICS), {"interface": "wg0", "gateway": None}, {})


def test_explicit_management_without_carrier():
    nics = fresh(VM_NICS)
    nics[1]["carrier"] = None
    with pytest.raises(PlanError, match=r"^ciab_nic_policy.management: eth0 has no carrier"):
        assign_nic_roles(nics, fresh(VM_DEFAULT_ROUTE), {"management": "eth0"})


@pytest.mark.parametrize(
    ("nics", "route", "message"),
    [
        ({"eth0": {}}, VM_DEFAULT_ROUTE, r"^ciab_nics must be a list of dicts"),
        ([{"mac": "x"}], VM_DEFAULT_ROUTE, r"^ciab_nics\[0\] must be a dict with a non-empty 'name'"),
        (VM_NICS, "eth0", r"^ciab_default_route must be a dict"),
    ],
)
def test_bad_facts_name_the_argument(nics, route, message):
    with pytest.raises(PlanError, match=message):
        assign_nic_roles(fresh(nics), route, {})


def test_wireless_management_cannot_carry_a_shared_provider_bridge():
    nics = fresh(VM_NICS)
    nics[1].update(type="wireless", driver="iwlwifi", eligible=False, reasons=["is wireless (cannot be bridged)"])
    result = assign_nic_roles(nics, fresh(VM_DEFAULT_ROUTE), {})
    assert result["provider"]["shared"] is True
    assert result["warnings"][1] == (
        "the management NIC eth0 is wireless and cannot be bridged: the provider network has no uplink "
        "(floating IPs reach only this node); name a wired NIC in ciab_nic_policy.provider"
    )


def test_error_messages_do_not_dump_whole_fact_lists():
    with pytest.raises(PlanError) as err:
        assign_nic_roles([fresh(SATA_SERVER_NICS)], fresh(SATA_SERVER_DEFAULT_ROUTE), {})
    assert len(str(err.value)) < 160
    assert str(err.value).startswith("ciab_nics[0] must be a dict with a non-empty 'name', got [{'name': 'lo'")


@pytest.mark.parametrize("role", ["management", "provider", "storage"])
def test_loopback_is_refused_for_every_role(role):
    with pytest.raises(PlanError, match=rf"^ciab_nic_policy.{role}: lo is the loopback interface.*eno1"):
        assign_nic_roles(fresh(REFERENCE_BOX_NICS), fresh(REFERENCE_BOX_DEFAULT_ROUTE), {role: "lo"})


def test_default_route_on_loopback_is_refused():
    with pytest.raises(PlanError, match=r"^ciab_default_route.interface 'lo' is the loopback interface"):
        assign_nic_roles(fresh(REFERENCE_BOX_NICS), {"interface": "lo", "gateway": None})
