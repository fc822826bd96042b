"""The FilterModule shim: filter names, error wrapping, and docs that match the functions."""

from __future__ import annotations

import inspect
import json
import os
import pathlib
import subprocess
import sys

import pytest
import yaml
from ansible.errors import AnsibleFilterError
from ansible_collections.ciab.box.plugins.filter.plan import FilterModule
from ansible_collections.ciab.box.plugins.module_utils.plan.osd import select_osd_devices
from plan_facts import REFERENCE_BOX_DEFAULT_ROUTE, REFERENCE_BOX_DISKS, REFERENCE_BOX_NICS, fresh

REPO = pathlib.Path(__file__).resolve().parents[2]
FILTERS = FilterModule().filters()


def test_filter_names():
    assert sorted(FILTERS) == [
        "ceph_replication",
        "ip_plan",
        "memory_budget",
        "nic_roles",
        "orphan_osds",
        "osd_devices",
        "plan_table",
    ]


def test_filters_return_what_the_functions_return():
    assert FILTERS["osd_devices"](fresh(REFERENCE_BOX_DISKS), {}) == select_osd_devices(fresh(REFERENCE_BOX_DISKS), {})
    roles = FILTERS["nic_roles"](fresh(REFERENCE_BOX_NICS), fresh(REFERENCE_BOX_DEFAULT_ROUTE))
    assert roles["management"]["name"] == "eno1"
    assert FILTERS["memory_budget"](128 * 1024**3, 2)["guests_mib"] == 107683


def test_plan_error_becomes_ansible_filter_error_naming_the_variable():
    with pytest.raises(AnsibleFilterError) as err:
        FILTERS["osd_devices"](fresh(REFERENCE_BOX_DISKS), {"min_size": "100G"})
    # said once (Ansible appends the cause only when the message does not end with it), after the input marker by
    # which ciab.runner reports it as a bad input (exit 2)
    assert str(err.value) == (
        "[ciab-input] ciab.box.osd_devices: ciab_osd_policy has unknown key(s) 'min_size' "
        "(did you mean 'min_size_bytes'?); known keys: allow_wipe, exclude, include, include_loop, "
        "min_partition_bytes, min_size_bytes, transports, use_system_disk_free_space"
    )
    with pytest.raises(
        AnsibleFilterError, match=r"^\[ciab-input\] ciab.box.ip_plan: ciab_ip_policy.pod_cidr 10.42.0.0/15 overlaps"
    ):
        FILTERS["ip_plan"](
            fresh(REFERENCE_BOX_NICS), fresh(REFERENCE_BOX_DEFAULT_ROUTE), [], {"pod_cidr": "10.42.0.0/15"}
        )
    with pytest.raises(AnsibleFilterError, match=r"^\[ciab-input\] ciab.box.plan_table: plan must be a dict"):
        FILTERS["plan_table"]("plan")


def test_type_error_becomes_ansible_filter_error_with_the_usage():
    with pytest.raises(AnsibleFilterError) as err:
        FILTERS["nic_roles"](fresh(REFERENCE_BOX_NICS))  # default_route missing
    assert str(err.value) == (
        "ciab.box.nic_roles: wrong arguments, expected ciab_nics | ciab.box.nic_roles(ciab_default_route, "
        "ciab_nic_policy): assign_nic_roles() missing 1 required positional argument: 'default_route'"
    )
    with pytest.raises(AnsibleFilterError, match=r"expected total_bytes \| ciab.box.memory_budget\(osd_count"):
        FILTERS["memory_budget"](1, 2, {}, "extra")


@pytest.mark.parametrize("name", sorted(FILTERS))
def test_doc_file_matches_the_function(name):
    doc = yaml.safe_load((REPO / "plugins" / "filter" / f"{name}.yml").read_text())
    assert sorted(doc) == ["DOCUMENTATION", "EXAMPLES", "RETURN"]
    assert doc["DOCUMENTATION"]["name"] == name
    assert f"ciab.box.{name}" in doc["EXAMPLES"]
    params = list(inspect.signature(inspect.unwrap(FILTERS[name])).parameters)
    positional = [p.strip() for p in doc["DOCUMENTATION"].get("positional", "").split(",") if p.strip()]
    assert positional == params[1:]
    assert sorted(doc["DOCUMENTATION"]["options"]) == sorted(["_input", *params[1:]])


def test_filters_resolve_by_fqcn_in_a_real_template():
    ansible = pathlib.Path(sys.executable).with_name("ansible")
    assert (REPO / ".collections" / "ansible_collections" / "ciab" / "box").exists(), "run scripts/setup"
    assert ansible.exists(), "run scripts/setup: the venv has no ansible CLI"
    facts = json.dumps({"disks": REFERENCE_BOX_DISKS, "policy": {"transports": ["usb"]}})
    template = "{{ (disks | ciab.box.osd_devices(policy)).rejected | map(attribute='name') | list }}"
    env = {**os.environ, "ANSIBLE_LOCALHOST_WARNING": "false", "ANSIBLE_INVENTORY_UNPARSED_WARNING": "false"}
    done = subprocess.run(
        [str(ansible), "localhost", "-c", "local", "-i", "localhost,", "-m", "ansible.builtin.debug", "-a",
         f"msg={template}", "-e", facts],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    assert "- nvme0n1" in done.stdout
    assert "- nvme1n1" in done.stdout
    failed = subprocess.run(
        [str(ansible), "localhost", "-c", "local", "-i", "localhost,", "-m", "ansible.builtin.debug", "-a",
         "msg={{ [] | ciab.box.osd_devices({'min_size': 1}) }}"],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert failed.returncode != 0
    assert "ciab_osd_policy has unknown key(s) 'min_size'" in failed.stdout + failed.stderr


def test_orphan_osds_error_names_the_filter():
    with pytest.raises(AnsibleFilterError, match=r"^ciab.box.orphan_osds: orphan_osds wants the osds list"):
        FILTERS["orphan_osds"]("not a list", [])
