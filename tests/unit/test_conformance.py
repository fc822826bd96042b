"""The SCS conformance checks (plugins/module_utils/conformance.py) on the answers the sandbox's APIs gave its demo
member (fixtures/conformance/sandbox-*.json, captured with tests/unit/fixtures/conformance/README.md's commands),
and on those answers changed the ways a cloud gets them wrong. Nothing to check is never "met"."""

from __future__ import annotations

import copy
import datetime
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from ansible_collections.ciab.box.plugins.module_utils import conformance as c

from ciab import runner

FIXTURES = Path(__file__).parent / "fixtures" / "conformance"
CONTRACT = yaml.safe_load((runner.ROOT / "roles" / "ciab" / "vars" / "main.yml").read_text())
NOW = datetime.datetime(2026, 12, 4, 23, 0, tzinfo=datetime.UTC)


def captured(name: str, key: str) -> list[dict]:
    return json.loads((FIXTURES / f"sandbox-{name}.json").read_text())[key]


def by_id(results):
    return {r["id"]: r for r in results}


FLAVORS = captured("flavors", "flavors")
IMAGES = captured("images", "images")
VOLUME_TYPES = captured("volume-types", "volume_types")
SG_RULES = captured("default-security-group-rules", "default_security_group_rules")


def test_sandbox_flavors_meet_0100_and_0103():
    results = c.check_flavor_names(FLAVORS) + c.check_standard_flavors(FLAVORS, CONTRACT["ciab_scs_flavors"])
    assert {r["status"] for r in results} == {c.MET}
    assert len(results) == 2 + 31


def test_a_wrong_standard_flavor_is_not_met_and_says_what_differs():
    flavors = copy.deepcopy(FLAVORS)
    small = next(f for f in flavors if f["name"] == "SCS-2V-4-20s")
    small["ram"], small["extra_specs"]["scs:disk0-type"] = 2048, "network"
    flavors = [f for f in flavors if f["name"] != "SCS-1V-4"]
    got = by_id(c.check_standard_flavors(flavors, CONTRACT["ciab_scs_flavors"]))
    assert got["scs-0103-flavor-2v-4-20s"]["status"] == c.NOT_MET
    assert "ram 2048 (want 4096)" in got["scs-0103-flavor-2v-4-20s"]["reason"]
    assert "scs:disk0-type='network' (want 'ssd')" in got["scs-0103-flavor-2v-4-20s"]["reason"]
    assert got["scs-0103-flavor-1v-4"] == c.result(
        "scs-0103-flavor-1v-4", "standard flavor SCS-1V-4", c.NOT_MET, "no such flavor visible to the user"
    )
    names = by_id(c.check_flavor_names(flavors))
    assert names["scs-0100-semantics-check"]["status"] == c.NOT_MET  # 2 GiB under a name that says 4


def test_flavor_names_with_no_scs_flavor_are_not_applicable():
    results = c.check_flavor_names([{"name": "m1.small", "vcpus": 1, "ram": 2048, "disk": 20}])
    assert {r["status"] for r in results} == {c.NOT_APPLICABLE}
    bad = by_id(c.check_flavor_names([{"name": "SCS-2X-4", "vcpus": 2, "ram": 4096, "disk": 0}]))
    assert bad["scs-0100-syntax-check"]["status"] == c.NOT_MET


def test_flavors_allow_a_virtio_rng():
    assert c.check_flavor_rng(FLAVORS)["status"] == c.MET
    plain = [*FLAVORS, {"name": "m1.small", "extra_specs": {}}]
    assert c.check_flavor_rng(plain) == c.result(
        "scs-0101-flavor-rng", "flavors allow a virtio RNG (hw_rng:allowed)", c.NOT_MET, "m1.small", "recommended"
    )
    assert c.check_flavor_rng([])["status"] == c.NOT_APPLICABLE


CONSOLE = (FIXTURES / "sandbox-guest-console.txt").read_text()


def test_sandbox_guest_meets_0101_entropy_and_fips():
    got = by_id(c.check_guest_entropy(CONSOLE, "server e3"))
    assert got["scs-0101-entropy-avail"]["status"] == c.MET
    assert got["scs-0101-entropy-avail"]["reason"] == "256 (hardware RNGs in the guest: virtio_rng.0 none)"
    assert got["scs-0101-fips-test"]["status"] == c.MET
    assert got["scs-0101-fips-test"]["reason"] == "1 failures, 999 successes; strict test passed"
    assert {r["level"] for r in got.values()} == {"mandatory"}


@pytest.mark.parametrize(
    ("changes", "avail", "fips", "why"),
    [
        ({"entropy_avail 256": "entropy_avail 17"}, c.NOT_MET, c.MET, "17 (hardware"),
        ({"failures 1": "failures 4"}, c.MET, c.MET, "4 failures, 999 successes; strict test (at most 3) failed"),
        ({"failures 1": "failures 6"}, c.MET, c.NOT_MET, "6 failures"),
        # rngtest could not run (a guest without it): the line is there, the counts are not
        ({"successes 999 failures 1": ""}, c.MET, c.NOT_MET, "rngtest gave no count"),
        # a guest that reports nothing (another image): nothing is "met"
        ({"ciab-guest: ": "other: "}, c.NOT_MET, c.NOT_MET, "the guest did not report it"),
    ],
)
def test_guest_entropy_that_is_wrong_or_missing_is_not_met(changes, avail, fips, why):
    console = CONSOLE
    for old, new in changes.items():
        console = console.replace(old, new)
    got = by_id(c.check_guest_entropy(console, "server e3"))
    assert (got["scs-0101-entropy-avail"]["status"], got["scs-0101-fips-test"]["status"]) == (avail, fips)
    assert any(why in r["reason"] for r in got.values()), got


def test_guest_entropy_without_a_guest_is_not_applicable():
    got = c.check_guest_entropy(None, "live checks off")
    assert {(r["status"], r["reason"]) for r in got} == {(c.NOT_APPLICABLE, "live checks off")}


def test_sandbox_images_meet_0102():
    results = by_id(c.check_image_metadata(IMAGES, now=NOW))
    assert all(r["status"] == c.MET for r in results.values() if r["level"] == "mandatory"), results
    assert results["scs-0102-prop-architecture"]["reason"] == f"{len(IMAGES)} public images checked"
    # one minimal image per OS: no generic one to be unique
    assert results["scs-0102-os_purpose-uniqueness"]["status"] == c.NOT_APPLICABLE


def test_missing_and_wrong_image_properties_are_named():
    images = copy.deepcopy(IMAGES)
    del images[0]["os_distro"]
    images[1]["image_source"] = "somewhere"
    images[2]["image_build_date"] = "2027-01-01"  # in the future of NOW
    got = by_id(c.check_image_metadata(images, now=NOW))
    assert got["scs-0102-prop-os_distro"]["status"] == c.NOT_MET
    assert images[0]["name"] in got["scs-0102-prop-os_distro"]["reason"]
    assert got["scs-0102-prop-image_source"]["status"] == c.NOT_MET
    assert got["scs-0102-prop-image_build_date"]["status"] == c.NOT_MET


def test_an_outdated_image_is_not_met():
    image = {**IMAGES[0], "replace_frequency": "monthly", "provided_until": "2027-06-01"}
    image["image_build_date"] = "2026-09-01"
    got = by_id(c.check_image_metadata([image], now=NOW))
    assert "older than its replace_frequency (monthly)" in got["scs-0102-prop-image_build_date"]["reason"]


def test_private_images_only_or_none_are_not_applicable():
    private = [{**IMAGES[0], "visibility": "private", "os_distro": None}]
    assert {r["status"] for r in c.check_image_metadata(private, now=NOW)} == {c.NOT_APPLICABLE}
    assert {r["status"] for r in c.check_image_metadata([], now=NOW)} == {c.NOT_APPLICABLE}


def test_standard_images_on_the_sandbox_and_with_ubuntu():
    got = by_id(c.check_standard_images(IMAGES, CONTRACT["ciab_scs_images"]))
    assert got["scs-0104-image-ubuntu-24-04"]["status"] == c.NOT_MET  # no internet here: not registered
    assert got["scs-0104-source-ubuntu-24-04"]["status"] == c.NOT_APPLICABLE  # nothing named so: nothing to check
    ubuntu = {"name": "Ubuntu 24.04", "image_source": "https://cloud-images.ubuntu.com/noble/current/x.img"}
    capi = {"name": "ubuntu-capi-image-v1.31.2", "image_source": "https://example.org/x"}
    got = by_id(c.check_standard_images([ubuntu, capi], CONTRACT["ciab_scs_images"]))
    assert got["scs-0104-image-ubuntu-24-04"]["status"] == c.MET
    assert got["scs-0104-source-ubuntu-24-04"]["status"] == c.MET
    assert got["scs-0104-image-ubuntu-capi-image"]["status"] == c.MET
    assert got["scs-0104-source-ubuntu-capi-image"]["status"] == c.NOT_MET


def test_volume_types():
    got = by_id(c.check_volume_types(VOLUME_TYPES))
    tagged = [t for t in VOLUME_TYPES if str(t.get("description") or "").startswith("[scs:")]
    assert got["scs-0114-syntax-check"]["status"] == (c.MET if tagged else c.NOT_APPLICABLE)
    bad = by_id(c.check_volume_types([{"name": "x", "description": "[scs:replicated, encrypted] both"}]))
    assert bad["scs-0114-syntax-check"]["status"] == c.NOT_MET  # not sorted
    good = by_id(c.check_volume_types([{"name": "luks", "description": "[scs:encrypted, replicated] LUKS on Ceph"}]))
    assert good["scs-0114-encrypted-type"]["status"] == good["scs-0114-replicated-type"]["status"] == c.MET


def test_default_security_group_rules():
    assert c.check_default_security_group_rules(SG_RULES)[0]["status"] == c.MET
    opened = [*SG_RULES, {"id": "x", "direction": "ingress", "ethertype": "IPv4", "remote_ip_prefix": "0.0.0.0/0",
                          "protocol": "tcp", "used_in_default_sg": True, "used_in_non_default_sg": True}]  # fmt: skip
    assert "ingress rule x (tcp from 0.0.0.0/0)" in c.check_default_security_group_rules(opened)[0]["reason"]
    no_v6 = [r for r in SG_RULES if r["ethertype"] == "IPv4"]
    assert "no IPv6 egress rule" in c.check_default_security_group_rules(no_v6)[0]["reason"]
    assert c.check_default_security_group_rules([])[0]["status"] == c.NOT_APPLICABLE


def test_services_and_s3():
    got = by_id(c.check_services(["compute", "identity", "image", "network", "placement", "volumev3"]))
    assert got["scs-0123-service-block-storage"]["status"] == c.MET
    assert got["scs-0123-service-load-balancer"]["status"] == c.NOT_MET
    assert got["scs-0123-service-object-store-s3"]["reason"] == "not in the member's catalog"
    assert c.has_service(["volume"], "block-storage") and not c.has_service(["image"], "block-storage")
    assert c.has_service(["key-manager"], "key-manager") and not c.has_service([], "key-manager")
    assert c.check_s3_answer(None, "")["status"] == c.NOT_APPLICABLE
    assert c.check_s3_answer(403, "<Code>InvalidAccessKeyId</Code>")["status"] == c.MET
    assert c.check_s3_answer(401, "Unauthorized")["status"] == c.NOT_MET


@pytest.mark.parametrize("status", [c.MET, c.NOT_MET, c.NOT_APPLICABLE])
def test_every_result_has_the_same_keys(status):
    assert set(c.result("x", "y", status)) == {"id", "requirement", "status", "reason", "level"}


def _module(tmp_path, sdk: str | None):
    """Run the module on this machine with a stand-in openstacksdk (a package `openstack` whose connect() is sdk),
    or without one; returns (ok, result)."""
    env = {**os.environ, "ANSIBLE_CONFIG": str(runner.ROOT / "ansible.cfg"), "ANSIBLE_LOAD_CALLBACK_PLUGINS": "0"}
    if sdk is not None:
        (tmp_path / "openstack").mkdir()
        (tmp_path / "openstack" / "__init__.py").write_text(sdk)
        env["PYTHONPATH"] = str(tmp_path)
    args = {"cloud": "ciab-demo", "flavors": CONTRACT["ciab_scs_flavors"], "images": []}
    done = subprocess.run(
        [str(Path(sys.executable).with_name("ansible")), "localhost", "-o", "-m", "ciab.box.scs_conformance",
         "-a", json.dumps(args), "-e", f"ansible_python_interpreter={sys.executable}"],
        cwd=runner.ROOT, capture_output=True, text=True, check=False, timeout=120, env=env,
    )  # fmt: skip
    status, result = done.stdout.split(" | ", 1)[1].split(" => ", 1)
    return status.startswith("SUCCESS"), json.loads(result)


def test_module_without_openstacksdk_says_so(tmp_path):
    ok, result = _module(tmp_path, None)
    assert not ok and "openstacksdk" in result["msg"]


def test_module_names_the_cloud_it_cannot_reach(tmp_path):
    sdk = "def connect(cloud):\n    raise RuntimeError(f'Cloud {cloud} was not found.')\n"
    ok, result = _module(tmp_path, sdk)
    assert not ok and result["msg"] == "cloud ciab-demo: Cloud ciab-demo was not found."


def test_module_refuses_an_admin_token(tmp_path):
    """The standards' checks run as a plain member: an admin's cloud would see (and pass) more than a tenant."""
    sdk = (
        "from types import SimpleNamespace as N\n"
        "access = N(role_names=['admin', 'member'], service_catalog=N(catalog=[]))\n"
        "def connect(cloud):\n"
        "    return N(session=N(auth=N(get_access=lambda session: access)))\n"
    )
    ok, result = _module(tmp_path, sdk)
    assert not ok
    assert result["msg"].startswith("cloud ciab-demo: its token has the roles ['admin', 'member']")
