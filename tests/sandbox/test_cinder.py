"""Verify Cinder on the all-in-one node: volumes and backups on Ceph, volume types, services that come back.

Runs after test_ceph.py (which restarts the container), so the checks first wait for the volume services.
"""

import contextlib
import json
import time
import uuid

import pytest
from units import running_unit_user
from waiting import wait_for

OS = "openstack --os-cloud ciab-admin"
UNITS = ("cinder-api", "cinder-scheduler", "cinder-volume", "cinder-backup")


def services_up(out):
    services = json.loads(out)
    return {s["Binary"] for s in services if s["State"] == "up"} == {
        "cinder-scheduler",
        "cinder-volume",
        "cinder-backup",
    }


def status(host, kind, ident, wanted, timeout=300):
    """Wait until the volume/backup ``ident`` has status ``wanted`` (failing early on an error status)."""
    deadline = time.monotonic() + timeout
    while True:
        shown = json.loads(host.check_output(f"{OS} {kind} show -f json {ident}"))
        assert shown["status"] != "error", shown
        if shown["status"] == wanted:
            return shown
        assert time.monotonic() < deadline, shown
        time.sleep(3)


def rbd_ls(host, pool, client):
    return host.check_output(f"rbd --id {client} --pool {pool} ls").split()


@pytest.fixture(scope="module", autouse=True)
def volume_services_up(host):
    wait_for(host, f"{OS} volume service list -f json", services_up, timeout=300)


def test_catalog_has_block_storage_v3_over_tls(host):
    catalog = {entry["Type"]: entry for entry in json.loads(host.check_output(f"{OS} catalog list -f json"))}
    urls = {e["interface"]: e["url"] for e in catalog["block-storage"]["Endpoints"]}
    assert {"public", "internal"} <= set(urls)
    assert all(url.startswith("https://") and url.endswith(":8776/v3") for url in urls.values()), urls


def test_default_type_is_ceph_and_says_replicated_per_scs(host):
    default = json.loads(host.check_output(f"{OS} volume type list --default -f json"))
    assert [t["Name"] for t in default] == ["ceph"]
    shown = json.loads(host.check_output(f"{OS} volume type show -f json ceph"))
    # aio: two OSDs on one host, pools keep 2 copies on distinct disks
    assert shown["description"].startswith("[scs:replicated] Ceph RBD pool volumes, 2 copies on distinct disks")
    assert shown["is_public"]


def test_volume_on_rbd_backed_up_to_ceph_and_restored(host):
    name = f"ciab-test-{uuid.uuid4().hex[:8]}"
    volume_id = backup_id = restored_id = None
    try:
        volume_id = json.loads(host.check_output(f"{OS} volume create --size 1 -f json {name}"))["id"]
        shown = status(host, "volume", volume_id, "available")
        assert shown["type"] == "ceph"
        assert f"volume-{volume_id}" in rbd_ls(host, "volumes", "cinder")
        backup_id = json.loads(host.check_output(f"{OS} volume backup create -f json --name {name} {volume_id}"))["id"]
        status(host, "volume backup", backup_id, "available")
        assert any(volume_id in image for image in rbd_ls(host, "backups", "cinder-backup"))
        # a new volume named by the restore (OSC's "volume create --backup" rejects any microversion here)
        restore = json.loads(host.check_output(f"{OS} volume backup restore -f json {backup_id} {name}-r"))
        restored_id = restore["volume_id"]
        status(host, "volume", restored_id, "available")
    finally:
        for kind, ident in (("volume backup", backup_id), ("volume", restored_id), ("volume", volume_id)):
            if ident:
                host.run(f"{OS} {kind} delete {ident}")
                wait_for(host, f"{OS} {kind} list -f value -c ID", lambda out, i=ident: i not in out, timeout=180)
    assert f"volume-{volume_id}" not in rbd_ls(host, "volumes", "cinder")


@contextlib.contextmanager
def volume_from_image(host, disk_format, size=1048576):
    """An image of ``size`` random bytes in ``disk_format`` (raw or qcow2) and a volume made from it, available;
    yields (image id, volume id, path of the raw bytes on the node). Deletes both afterwards."""
    name = f"ciab-test-{uuid.uuid4().hex[:8]}"
    image_id = volume_id = None
    try:
        host.check_output(f"head -c {size} /dev/urandom > /tmp/{name}.raw")
        if disk_format != "raw":
            host.check_output(f"qemu-img convert -f raw -O {disk_format} /tmp/{name}.raw /tmp/{name}.{disk_format}")
        image_id = json.loads(
            host.check_output(
                f"{OS} image create --disk-format {disk_format} --container-format bare "
                f"--file /tmp/{name}.{disk_format} -f json {name}"
            )
        )["id"]
        created = host.check_output(f"{OS} volume create --size 1 --image {image_id} -f json {name}")
        volume_id = json.loads(created)["id"]
        status(host, "volume", volume_id, "available")
        yield image_id, volume_id, f"/tmp/{name}.raw"
    finally:
        if volume_id:
            host.run(f"{OS} volume delete {volume_id}")
            wait_for(host, f"{OS} volume list -f value -c ID", lambda out: volume_id not in out, timeout=180)
        if image_id:
            host.run(f"{OS} image delete {image_id}")
        host.run(f"rm -f /tmp/{name}.raw /tmp/{name}.{disk_format}")


def test_volume_from_an_image_is_a_copy_on_write_clone(host):
    with volume_from_image(host, "raw") as (image_id, volume_id, _raw):
        info = json.loads(host.check_output(f"rbd --id cinder info --format json volumes/volume-{volume_id}"))
        assert info["parent"]["pool"] == "images" and info["parent"]["image"] == image_id, info


def test_volume_list_filters_by_name(host):
    """Cinder's resource_filters.json is installed: a name filter returns exactly that volume, on the plain list and
    on /detail (which answered 400 "Invalid filters" without it)."""
    names = [f"ciab-test-filter-{uuid.uuid4().hex[:6]}" for _ in range(2)]
    ids = []
    try:
        for name in names:
            ids.append(json.loads(host.check_output(f"{OS} volume create --size 1 -f json {name}"))["id"])
        for ident in ids:
            status(host, "volume", ident, "available")
        listed = json.loads(host.check_output(f"{OS} volume list --name {names[0]} -f json"))
        assert [v["ID"] for v in listed] == [ids[0]]
        detail = json.loads(host.check_output(f"{OS} volume list --long --name {names[1]} -f json"))
        assert [v["ID"] for v in detail] == [ids[1]]
    finally:
        for ident in ids:
            host.run(f"{OS} volume delete {ident}")


def test_volume_from_a_qcow2_image(host):
    """A non-raw image is converted by cinder-volume with qemu-img through its rootwrap (it failed with "sudo: a
    terminal is required" without the rule): the volume becomes available and holds the image's bytes."""
    with volume_from_image(host, "qcow2", size=2097152) as (_image_id, volume_id, raw):
        head = host.check_output(
            f"rbd --id cinder export volumes/volume-{volume_id} - 2>/dev/null | head -c 2097152 | sha256sum"
        ).split()[0]
        assert head == host.check_output(f"sha256sum {raw}").split()[0]


def test_volume_uploaded_to_an_image(host):
    """cinder-volume uploads a volume to Glance (the path that broke with chunked bodies behind the front end)."""
    name = f"ciab-test-{uuid.uuid4().hex[:8]}"
    volume_id = image_id = None
    try:
        volume_id = json.loads(host.check_output(f"{OS} volume create --size 1 -f json {name}"))["id"]
        status(host, "volume", volume_id, "available")
        upload = json.loads(
            host.check_output(f"{OS} image create --volume {volume_id} --disk-format raw -f json {name}-image")
        )
        image_id = upload.get("image_id") or upload.get("id")
        image = wait_for(
            host, f"{OS} image show -f json {image_id}", lambda out: json.loads(out)["status"] in ("active", "killed")
        )
        assert json.loads(image)["status"] == "active", image
        status(host, "volume", volume_id, "available")
    finally:
        if image_id:
            host.run(f"{OS} image delete {image_id}")
        if volume_id:
            host.run(f"{OS} volume delete {volume_id}")


@pytest.mark.parametrize("unit", UNITS)
def test_units_run_as_cinder_and_are_enabled(host, unit):
    assert running_unit_user(host, unit) == "cinder"


def test_services_restart_cleanly(host):
    host.check_output("systemctl restart " + " ".join(UNITS))
    wait_for(host, f"{OS} volume service list -f json", services_up, timeout=300)
    volume_id = json.loads(wait_for(host, f"{OS} volume create --size 1 -f json ciab-test-restart", timeout=300))["id"]
    status(host, "volume", volume_id, "available")
    host.check_output(f"{OS} volume delete {volume_id}")
