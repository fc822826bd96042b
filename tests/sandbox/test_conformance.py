"""The SCS-compatible IaaS standards on the sandbox (`ciab conformance`, also part of the verify step of `sandbox
up`), as the demo member: the standard flavors and the image metadata are there, a volume backup round-trips, the
demo domain's manager manages its domain and nothing outside it; what the box lacks is reported, never "met"."""

import pytest
from box import OS_ADMIN, ciab


def _by_id(events):
    [event] = [e for e in events if e["event"] == "conformance"]
    return {r["id"]: r for r in event["results"]}


@pytest.fixture(scope="module")
def up_results(sandbox):
    """The checks the verify step of the README's first command ran (live: it ran the smoke test too)."""
    _, events = sandbox
    return _by_id(events)


def test_standard_flavors_and_names(up_results):
    flavors = {i: r for i, r in up_results.items() if i.startswith("scs-0103-flavor-")}
    assert len(flavors) == 31 and {r["status"] for r in flavors.values()} == {"met"}, flavors
    assert up_results["scs-0100-syntax-check"]["status"] == up_results["scs-0100-semantics-check"]["status"] == "met"


def test_every_public_image_has_the_scs_metadata(host, up_results):
    props = {i: r for i, r in up_results.items() if i.startswith("scs-0102-prop-")}
    assert {r["status"] for r in props.values()} == {"met"}, props
    # the check saw the box's images: the guest, its kernel and ramdisk, and nothing was vacuous
    public = host.check_output(f"{OS_ADMIN} image list --public -f value -c Name").split()
    assert props["scs-0102-prop-os_distro"]["reason"] == f"{len(public)} public images checked"
    assert len(public) >= 3


def test_key_manager_object_store_load_balancer_and_volume_types(up_results):
    for rid in ("scs-0116-presence", "scs-0116-permissions", "scs-0123-service-object-store-s3", "scs-0123-swift-s3",
                "scs-0123-service-load-balancer", "scs-0114-syntax-check", "scs-0114-encrypted-type",
                "scs-0114-replicated-type"):  # fmt: skip
        assert up_results[rid]["status"] == "met", up_results[rid]
    assert "InvalidAccessKeyId" in up_results["scs-0123-swift-s3"]["reason"]


def test_backup_round_trip_and_domain_manager_both_ways(up_results):
    assert up_results["scs-0117-test-backup"]["status"] == "met", up_results["scs-0117-test-backup"]
    assert up_results["scs-0302-own-domain"]["status"] == "met", up_results["scs-0302-own-domain"]
    assert up_results["scs-0302-nothing-outside"]["status"] == "met", up_results["scs-0302-nothing-outside"]
    assert up_results["scs-0115-default-rules"]["status"] == "met"


def test_a_sample_guest_has_entropy_and_passes_rngtest(up_results):
    """scs-0101's sample-VM tests: the box's guest, booted by the member, read from its console."""
    avail, fips = up_results["scs-0101-entropy-avail"], up_results["scs-0101-fips-test"]
    assert avail["status"] == "met" and avail["reason"].startswith("256 (hardware RNGs in the guest: virtio_rng"), avail
    assert fips["status"] == "met" and " failures, " in fips["reason"], fips


def test_what_the_box_lacks_is_reported_not_met(up_results):
    """No vacuous pass: the Ubuntu image is not there (accepted, with the reason) and nothing of it is checked."""
    rid = "scs-0104-image-ubuntu-24-04"
    assert up_results[rid]["status"] == "accepted" and up_results[rid]["reason"], up_results[rid]
    assert up_results["scs-0104-source-ubuntu-24-04"]["status"] == "not applicable"


def test_conformance_command_read_only_leaves_nothing(host):
    volumes = host.check_output(f"{OS_ADMIN} volume list --all-projects -f value -c ID")
    code, events = ciab("-i", "sandbox", "conformance", "--read-only")
    got = _by_id(events)
    assert code == 0
    assert got["scs-0117-test-backup"]["status"] == "not applicable"
    assert got["scs-0101-entropy-avail"]["status"] == "not applicable"
    assert got["scs-0103-flavor-1v-4"]["status"] == "met"
    assert host.check_output(f"{OS_ADMIN} volume list --all-projects -f value -c ID") == volumes
    # the live run of `sandbox up` left no test objects behind either
    assert "ciab-conformance" not in host.check_output(f"{OS_ADMIN} project list -f value -c Name")
    assert "ciab-conformance" not in host.check_output(f"{OS_ADMIN} volume backup list --all-projects -f value -c Name")
    assert "ciab-conformance" not in host.check_output(f"{OS_ADMIN} server list --all-projects -f value -c Name")
