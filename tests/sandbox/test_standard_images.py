"""The SCS standard images (scs-0104, ciab.box.demo's standard_images step) on the sandbox. Without internet (this
machine) each one is skipped with a message that names it, its address and the variable that gives another source,
and the run does not fail. From a mirror (a local web server on the box with the image and its SHA512SUMS, as the
Debian mirrors publish them) the image is downloaded, checked, uploaded with its scs-0102 metadata naming the
official source, and a re-run leaves it alone; a wrong checksum or a missing given file fails with the reason."""

import json

import pytest
from box import OS_ADMIN, ROOT, ciab

from ciab import cli, runner

PLAY = ROOT / "playbooks" / "role.yml"
SKIPPED = "Standard image | not reachable and no other source given, skipped"
MIRROR = "/var/tmp/ciab-test-mirror"
PORT = 8999
DEBIAN_12 = "debian-12-genericcloud-amd64.qcow2"
OFFICIAL = f"https://cloud.debian.org/images/cloud/bookworm/latest/{DEBIAN_12}"
BUILT = "2026-11-02 03:04"  # the mirror file's time, which the web server sends as Last-Modified


def run_images(**extravars):
    """Only the standard image step of ciab.box.demo; (result, the messages of the skip task)."""
    events = []
    result = runner.run(
        str(PLAY),
        inventory=cli.SANDBOX,
        extravars={"ciab_role": "ciab.box.demo", "ciab_role_tasks": "standard_images", **extravars},
        on_event=events.append,
    )
    skipped = [
        e["event_data"]["res"]["msg"]
        for e in events
        if e.get("event") == "runner_on_ok" and e["event_data"].get("task") == SKIPPED
    ]
    return result, skipped


def glance(host, name):
    found = host.run(f"{OS_ADMIN} image show -f json '{name}'")
    return json.loads(found.stdout) if found.rc == 0 else None


@pytest.fixture
def mirror(host):
    """A web server on the box with a Debian 12 'image' (the test guest's disk as qcow2) and its SHA512SUMS. What
    a box with internet registered under the test's names goes first (the sandbox is the test's)."""
    host.run(f"{OS_ADMIN} image delete 'Debian 12' 'Debian 13'")
    host.check_output(
        f"rm -rf {MIRROR} && mkdir -p {MIRROR} && cd {MIRROR} && "
        f"qemu-img convert -O qcow2 $(ls -d /var/cache/ciab/guest/*/disk.raw | head -1) {DEBIAN_12} && "
        f"touch -d '{BUILT} UTC' {DEBIAN_12} && sha512sum {DEBIAN_12} > SHA512SUMS"
    )
    host.check_output(
        f"systemd-run --unit ciab-test-mirror --collect python3 -m http.server --bind 127.0.0.1 "
        f"--directory {MIRROR} {PORT} && sleep 1"
    )
    yield f"http://127.0.0.1:{PORT}/{DEBIAN_12}"
    host.run("systemctl stop ciab-test-mirror")
    host.run(f"{OS_ADMIN} image delete 'Debian 12' 'Debian 13'; rm -rf {MIRROR}")


def test_without_internet_each_image_is_skipped_and_says_why(host):
    result, skipped = run_images()
    assert result.ok, result.failures
    for name in ("Ubuntu 24.04", "Debian 13", "Debian 12"):
        if glance(host, name):  # a box with internet registered it in the deploy: it is checked below, not here
            continue
        [message] = [m for m in skipped if m.startswith(f"{name} is not registered")]
        assert "demo_standard_image_sources" in message and "https://" in message, message
        assert message.endswith("\n")  # the ciab CLI prints a debug message with a line break


def test_from_a_mirror_with_its_checksums_and_full_metadata(host, mirror):
    result, skipped = run_images(demo_standard_image_sources={"Debian 12": {"url": mirror}})
    assert result.ok, result.failures
    assert not [m for m in skipped if m.startswith("Debian 12")]
    image = glance(host, "Debian 12")
    assert image and image["visibility"] == "public" and image["disk_format"] == "qcow2", image
    props = image["properties"]
    assert props["image_source"] == OFFICIAL  # where it comes from, not the mirror that had a copy
    assert (props["os_distro"], props["os_version"], props["image_original_user"]) == ("debian", "12", "debian")
    assert props["image_build_date"] == BUILT and props["replace_frequency"] == "never"
    assert image["min_disk"] >= 1 and image["min_ram"] == 512
    assert host.run("ls /var/cache/ciab/images/*").rc != 0  # the download went after the upload
    # scs-0104 sees it: the recommended Debian 12 is met and names its official source
    _, events = ciab("-i", "sandbox", "conformance", "--read-only")
    [event] = [e for e in events if e["event"] == "conformance"]
    got = {r["id"]: r["status"] for r in event["results"]}
    assert got["scs-0104-image-debian-12"] == got["scs-0104-source-debian-12"] == "met", got
    # Glance has it: the next run leaves it alone (no download, nothing changed)
    again, _ = run_images(demo_standard_image_sources={"Debian 12": {"url": mirror}})
    assert again.ok and again.changed == 0, again.failures


def test_from_a_local_file(host, mirror):
    result, _ = run_images(demo_standard_image_sources={"Debian 13": {"file": f"{MIRROR}/{DEBIAN_12}"}})
    assert result.ok, result.failures
    props = glance(host, "Debian 13")["properties"]
    assert props["image_source"].startswith("https://cloud.debian.org/images/cloud/trixie/"), props
    assert props["image_build_date"] == BUILT and props["os_version"] == "13"
    assert host.file(f"{MIRROR}/{DEBIAN_12}").exists  # the user's file stays


def test_a_wrong_checksum_fails_and_registers_nothing(host, mirror):
    host.check_output(f"cd {MIRROR} && sed -i 's/^[0-9a-f]/0/' SHA512SUMS")
    result, _ = run_images(demo_standard_image_sources={"Debian 12": {"url": mirror}})
    assert not result.ok
    assert any("checksum" in f.msg.lower() for f in result.failures), result.failures
    assert glance(host, "Debian 12") is None


def test_a_given_source_that_does_not_work_is_a_bad_input(host):
    result, _ = run_images(demo_standard_image_sources={"Debian 12": {"file": "/nowhere/debian-12.qcow2"}})
    assert result.exit_code == runner.EXIT_USAGE, result.failures
    assert 'demo_standard_image_sources["Debian 12"]: /nowhere/debian-12.qcow2 is not on' in result.failures[0].msg
    result, _ = run_images(demo_standard_image_sources={"Debian 21": {"file": "/srv/x.qcow2"}})
    assert result.exit_code == runner.EXIT_USAGE
    assert "demo_standard_image_sources names Debian 21" in result.failures[0].msg
