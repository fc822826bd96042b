"""The one contract from the plan to the roles (ciab.box.ciab): a plan whose management NIC is not the default
route's, with a provider NIC, reaches every layer's inputs; and no role reads the plan or re-derives a value the
contract owns.

The plan is made for real (playbooks/plan.yml offline from hand-written facts of a three-NIC box); the roles'
inputs are read the way the roles see them (their defaults on top of the contract role, which reads the plan).
"""

from __future__ import annotations

import copy
import json
import re
from pathlib import Path

import pytest
import yaml
from plan_facts import (
    REFERENCE_BOX_NICS,
    REFERENCE_BOX_ROUTES,
    inet,
    nic,
    offline_host,
)

from ciab import runner

ROLES = runner.ROOT / "roles"
CONTRACT = Path(__file__).parent / "playbooks" / "contract.yml"

# eno1 keeps the default route (192.0.2.10); the box is managed over eno2 (another network, no default route) and
# eno3 (no address) is its provider NIC.
NICS = [
    *copy.deepcopy(REFERENCE_BOX_NICS),
    nic("eno3", mac="bc:97:e1:5a:10:03", permanent_mac="bc:97:e1:5a:10:03", pci_address="0000:42:00.0"),
]
NICS[2]["addresses"] = [inet("198.51.100.20/24")]
ROUTES = [
    *REFERENCE_BOX_ROUTES,
    {"dst": "198.51.100.0/24", "dev": "eno2", "protocol": "kernel", "scope": "link", "prefsrc": "198.51.100.20"},
]
POLICY = {
    "ciab_nic_policy": {"management": "eno2", "provider": "eno3"},
    "ciab_ip_policy": {"provider_cidr": "203.0.113.0/24", "provider_gateway": "203.0.113.1"},
}


@pytest.fixture(scope="module")
def box(tmp_path_factory):
    """Plan the three-NIC box offline, then read every layer's inputs through the contract."""
    tmp = tmp_path_factory.mktemp("contract")
    host = offline_host(
        tmp / "plan",
        ciab_secrets_dir=str(tmp / "secrets"),
        ciab_nics=NICS,
        ciab_routes=ROUTES,
        contract_out=str(tmp / "inputs.json"),
        **POLICY,
    )
    inventory = tmp / "hosts.yml"
    inventory.write_text(yaml.safe_dump({"all": {"children": {"ciab_nodes": {"hosts": {"testbox": host}}}}}))
    planned = runner.run(str(runner.ROOT / "playbooks" / "plan.yml"), inventory=inventory)
    assert planned.exit_code == runner.EXIT_OK, planned.failures
    plan = yaml.safe_load((tmp / "plan" / "testbox.yml").read_text())
    read = runner.run(str(CONTRACT), inventory=inventory)
    assert read.exit_code == runner.EXIT_OK, read.failures
    return plan, json.loads((tmp / "inputs.json").read_text()), tmp


def test_the_plan_manages_over_the_policy_nic_not_the_default_route(box):
    plan, _, _ = box
    assert plan["nic"]["management"]["name"] == "eno2"
    assert plan["ip"]["management"]["address"] == "198.51.100.20"
    assert plan["nic"]["provider"]["name"] == "eno3"
    assert plan["ip"]["provider"]["cidr"] == "203.0.113.0/24"


def test_every_layer_takes_the_planned_management_network(box):
    _, inputs, _ = box
    for name in ("base_mgmt_address", "ceph_mgmt_address", "ceph_public_address", "openstack_internal_address",
                 "k3s_node_ip"):  # fmt: skip
        assert inputs[name] == "198.51.100.20", name
    assert inputs["ceph_public_network"] == "198.51.100.0/24"
    assert inputs["k3s_flannel_iface"] == "eno2"


def test_neutron_takes_the_planned_provider_nic_and_range(box):
    plan, inputs, _ = box
    assert inputs["neutron_provider_interface"] == "eno3"
    provider = plan["ip"]["provider"]
    assert inputs["neutron_public_network"] == {
        "name": "public",
        "cidr": provider["cidr"],
        "gateway": provider["gateway"],
        "allocation_start": provider["allocation_start"],
        "allocation_end": provider["allocation_end"],
    }
    assert inputs["smoke_external_network"] == "public"
    # the peer that must answer while the provider NIC moves into OVS is never on the provider network
    assert inputs["neutron_provider_check_peer"] != provider["gateway"]


def test_devices_and_memory_budget_reach_ceph_openstack_and_k3s(box):
    plan, inputs, _ = box
    assert inputs["ceph_osd_devices"] == [d["by_id"] for d in plan["osd"]["devices"]]
    memory = plan["memory"]
    assert inputs["ceph_osd_memory_target"] == memory["ceph_osd_memory_target_bytes"]
    assert inputs["nova_reserved_host_memory_mb"] == memory["nova_reserved_host_memory_mb"]
    assert inputs["openstack_infra_mariadb_buffer_pool_mib"] == memory["openstack_mib"] // 8
    assert inputs["k3s_system_reserved_mib"] == memory["total_mib"] - memory["kubernetes_mib"]


def test_one_secrets_root_for_every_layer(box):
    _, inputs, tmp = box
    assert inputs["ceph_secrets_dir"] == str(tmp / "secrets" / "ceph")
    assert inputs["openstack_secrets_dir"] == str(tmp / "secrets" / "openstack")


# What only the contract may do: read the plan's sections, the default route's facts (the fallback without a plan),
# controller paths next to the playbooks, and the inventory's groups. A layer's safety check on live facts
# (neutron's "the provider NIC is not the default route's") is not a default and is allowed in tasks.
OWNED = {
    "the plan's sections": re.compile(r"\bciab_plan\.|\b__\w+_plan\b|_plan_file\b"),
    "the default route's facts": re.compile(r"default_ipv4"),
    "controller paths": re.compile(r"\.cache/|playbook_dir"),
    "inventory groups": re.compile(r"groups\["),
}


@pytest.mark.parametrize("role", sorted(p.name for p in ROLES.iterdir() if p.name != "ciab"))
def test_no_role_re_derives_what_the_contract_owns(role):
    found = []
    for path in sorted((ROLES / role).glob("*/*.yml")) + sorted((ROLES / role).glob("templates/*.j2")):
        if path.parent.name not in ("defaults", "vars", "templates", "tasks", "handlers"):
            continue
        for number, line in enumerate(path.read_text().splitlines(), 1):
            code = line.split("#", 1)[0] if path.suffix == ".yml" else line
            for what, pattern in OWNED.items():
                allowed = what == "the default route's facts" and path.parent.name == "tasks"
                if pattern.search(code) and not allowed:
                    found.append(f"{path.relative_to(ROLES)}:{number}: {what}: {line.strip()}")
    assert not found, "\n".join(found)


@pytest.mark.parametrize("role", sorted(p.name for p in ROLES.iterdir() if p.name != "ciab"))
def test_every_role_depends_on_the_contract(role):
    deps = yaml.safe_load((ROLES / role / "meta" / "main.yml").read_text())["dependencies"]
    names = [d["role"] if isinstance(d, dict) else d for d in deps]
    assert names and names[0] in ("ciab.box.ciab", "ciab.box.openstack"), names
