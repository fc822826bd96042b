"""SCS flavor names (scs-0100) and the standard flavors and images (scs-0103, scs-0104): our parser and tables
against the standard's own machine-readable files (fixtures/scs, copied from SovereignCloudStack/standards)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from ansible.errors import AnsibleFilterError
from ansible_collections.ciab.box.plugins.filter.scs import FilterModule, scs_flavor
from ansible_collections.ciab.box.plugins.module_utils.scs import (
    FlavorNameError,
    flavor_spec,
    name_v1,
    parse_flavor_name,
)

from ciab import runner

FIXTURES = Path(__file__).parent / "fixtures" / "scs"
STANDARD_FLAVORS = yaml.safe_load((FIXTURES / "scs-0103-flavors.yaml").read_text())
STANDARD_IMAGES = yaml.safe_load((FIXTURES / "scs-0104-images.yaml").read_text())["images"]
CONTRACT = yaml.safe_load((runner.ROOT / "roles" / "ciab" / "vars" / "main.yml").read_text())


@pytest.mark.parametrize(
    "flavor",
    STANDARD_FLAVORS["mandatory"] + STANDARD_FLAVORS["recommended"],
    ids=lambda f: f["name"],
)
def test_every_standard_flavor_is_what_its_name_says(flavor):
    """vCPUs, RAM (MiB), disk and every scs:* extra spec exactly as the standard's table has them."""
    spec = flavor_spec(flavor["name"])
    assert (spec["vcpus"], spec["ram"], spec["disk"]) == (flavor["cpus"], flavor["ram"], flavor.get("disk", 0))
    assert spec["extra_specs"] == {key: value for key, value in flavor.items() if key.startswith("scs:")}


def test_the_contract_lists_the_standard_flavors():
    for level in ("mandatory", "recommended"):
        assert CONTRACT["ciab_scs_flavors"][level] == [f["name"] for f in STANDARD_FLAVORS[level]]


def test_the_contract_lists_the_standard_images():
    ours = {image["name"]: image for image in CONTRACT["ciab_scs_images"]}
    for image in STANDARD_IMAGES:
        assert ours[image["name"]]["source"] == image["source"]
        assert ours[image["name"]].get("status") == image.get("status")
        assert ours[image["name"]].get("name_scheme") == image.get("name_scheme")
    # Debian 13 comes from the standard's test script (its list has the same shape)
    assert set(ours) - {i["name"] for i in STANDARD_IMAGES} == {"Debian 13"}


@pytest.mark.parametrize(
    ("name", "parts"),
    [
        ("SCS-2V-4-", {"disk": None, "disks": 1, "disk_type": None}),  # the cloud picks the root disk's size
        ("SCS-1L-0.5", {"ram_gib": 0.5, "disk": 0, "disks": 0}),
        ("SCS-4C-16-2x200p_kvm_z3h", {"cpu_type": "dedicated-core", "disks": 2, "disk_type": "nvme"}),
        ("SCS-8Ti-32uo-50h", {"insecure": True, "ecc": False, "ram_oversubscribed": True, "disk_type": "hdd"}),
    ],
)
def test_names_beyond_the_standard_flavors(name, parts):
    got = parse_flavor_name(name)
    assert {key: got[key] for key in parts} == parts


def test_name_v1_and_extensions():
    assert name_v1("SCS-2V-4-20s") == "SCS-2V:4:20s"
    assert name_v1("SCS-4C-16-2x200p_kvm") == "SCS-4C:16:2x200p_kvm"
    assert flavor_spec("SCS-4C-16-2x200p")["extra_specs"]["scs:disk1-type"] == "nvme"


@pytest.mark.parametrize(
    ("name", "says"),
    [
        ("m1.small", "starts with 'SCS-'"),
        ("SCS-2V:4:20s", "v1 syntax"),
        ("SCS-2X-4", "not SCS-<vCPUs>"),
        ("SCS-2V-0", "not SCS-<vCPUs>"),
        ("SCS-2V-4-20q", "not SCS-<vCPUs>"),
        (None, "starts with 'SCS-'"),
    ],
)
def test_bad_names_are_refused_with_the_reason(name, says):
    with pytest.raises(FlavorNameError, match=says):
        parse_flavor_name(name)


def test_the_filter_names_itself_in_its_errors():
    assert scs_flavor("SCS-1L-1-5")["extra_specs"]["scs:disk0-type"] == "network"
    with pytest.raises(AnsibleFilterError, match=r"ciab\.box\.scs_flavor: 'SCS-1X-1'"):
        scs_flavor("SCS-1X-1")


# Nova's flavors as openstack.cloud.compute_flavor_info returned them on the sandbox after a deploy (captured).
NOVA_FLAVORS = json.loads((Path(__file__).parent / "fixtures" / "nova" / "flavors.json").read_text())
WANTED = [flavor_spec(f["name"]) for f in STANDARD_FLAVORS["mandatory"] + STANDARD_FLAVORS["recommended"]]
RNG = {"hw_rng:allowed": "true"}


def test_nothing_to_set_when_nova_has_every_flavor_as_wanted():
    flavors_to_set = FilterModule().filters()["flavors_to_set"]
    assert {f["name"] for f in WANTED} <= {f["name"] for f in NOVA_FLAVORS}
    assert flavors_to_set(WANTED, NOVA_FLAVORS, RNG) == []


def _changed(name, **fields):
    return [{**f, **fields} if f["name"] == name else f for f in NOVA_FLAVORS]


@pytest.mark.parametrize(
    "found",
    [
        [f for f in NOVA_FLAVORS if f["name"] != "SCS-2V-4"],  # missing
        _changed("SCS-2V-4", ram=2048),
        _changed("SCS-2V-4", vcpus=4),
        _changed("SCS-2V-4", disk=10),
        _changed("SCS-2V-4", is_public=False),
        _changed("SCS-2V-4", extra_specs={}),  # an extra spec missing
        _changed("SCS-2V-4", extra_specs={**flavor_spec("SCS-2V-4")["extra_specs"], **RNG, "other": "1"}),  # one more
        _changed("SCS-2V-4", extra_specs={**flavor_spec("SCS-2V-4")["extra_specs"], "hw_rng:allowed": "false"}),
    ],
    ids=["missing", "ram", "vcpus", "disk", "private", "fewer-specs", "more-specs", "other-spec"],
)
def test_a_flavor_nova_has_otherwise_is_set(found):
    assert [f["name"] for f in FilterModule().filters()["flavors_to_set"](WANTED, found, RNG)] == ["SCS-2V-4"]
