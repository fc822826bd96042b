"""`ciab backup` and `ciab restore` on the sandbox (#20), before test_destroy: a member's server (its disk in Ceph),
a volume made from the guest image, a Barbican secret and EC2 credentials are made; the backup is written; a restore
onto the running box of an archive of another hostname is refused with both reasons; `ciab destroy --keep-osd-disks`
removes the cloud but not the OSDs; `ciab restore` brings the same cloud back: the same project, user, image, volume
(byte for byte), server (running again), secret and credentials, the same OSDs adopted in the same cluster."""

import io
import json
import stat
import tarfile
import uuid

import pytest
import yaml
from box import BOX, OS_ADMIN, OS_DEMO, ROOT, ciab, plan, results
from waiting import wait_for

from ciab import runner

ARCHIVE = ROOT / ".cache" / "backup" / "test-restore.tar.gz"
NAME = f"ciab-test-restore-{uuid.uuid4().hex[:6]}"


def show(host, what, ident, cloud=OS_DEMO):
    return json.loads(host.check_output(f"{cloud} {what} show -f json {ident}"))


def volume_sum(host, volume_id):
    return host.check_output(f"rbd --pool volumes export volume-{volume_id} - 2>/dev/null | sha256sum").split()[0]


def osds(host):
    return sorted(o["uuid"] for o in json.loads(host.check_output("ceph osd dump --format json"))["osds"])


def failures(events):
    return [f for r in results(events) for f in r["failures"]]


@pytest.fixture(scope="module")
def before(host):
    """What the restore must bring back, made by the demo member; the backup of it; removed after the tests."""
    boot = f"--image ciab-guest --flavor SCS-1L-1-5 --network demo-net --wait -f json {NAME}"
    made = {"server": json.loads(host.check_output(f"{OS_DEMO} server create {boot}"))["id"]}
    volume = host.check_output(f"{OS_DEMO} volume create --size 1 --image ciab-guest -f json {NAME}")
    made["volume"] = json.loads(volume)["id"]
    wait_for(host, f"{OS_DEMO} volume show -f value -c status {made['volume']}", lambda out: out.strip() == "available")
    secret = host.check_output(f"{OS_DEMO} secret store -f json --name {NAME} --payload {NAME}")
    made["secret"] = json.loads(secret)["Secret href"]
    made["ec2"] = json.loads(host.check_output(f"{OS_DEMO} ec2 credentials create -f json"))
    token = json.loads(host.check_output(f"{OS_DEMO} token issue -f json"))
    made.update(project=token["project_id"], user=token["user_id"], volume_sum=volume_sum(host, made["volume"]))
    made["image"] = show(host, "image", "ciab-guest")["id"]
    made["osds"], made["fsid"] = osds(host), host.check_output("ceph fsid")
    ARCHIVE.unlink(missing_ok=True)
    code, events = ciab("-i", "sandbox", "backup", "--output", str(ARCHIVE))
    assert code == runner.EXIT_OK, failures(events)
    yield made
    host.run(f"{OS_DEMO} server delete --wait {made['server']}")
    host.run(f"{OS_DEMO} volume delete {made['volume']}")
    host.run(f"{OS_DEMO} secret delete {made['secret']}")
    host.run(f"{OS_DEMO} ec2 credentials delete {made['ec2']['access']}")
    ARCHIVE.unlink(missing_ok=True)


def test_backup_is_one_private_archive_with_every_part(before):
    assert stat.S_IMODE(ARCHIVE.stat().st_mode) == 0o600
    with tarfile.open(ARCHIVE) as tar:
        names = set(tar.getnames())
        manifest = yaml.safe_load(tar.extractfile("manifest.yml"))
        with tarfile.open(fileobj=io.BytesIO(tar.extractfile(f"nodes/{BOX}.tar.gz").read())) as node:
            parts = {name.removeprefix("./") for name in node.getnames()}
    assert {"secrets/ceph/cluster.yml", "secrets/openstack/pki/ca.key", f"plan/{BOX}.yml"} <= names
    openstack = {"mariadb.sql", "ovnnb_db.db", "ovnsb_db.db", "keystone-keys.tar", "nova-compute_id"}
    assert openstack | {"nova-instances.tar", "ceph-mon.tar"} <= parts
    assert manifest["nodes"][BOX]["hostname"] == BOX
    assert sorted(o["osd_uuid"] for o in manifest["nodes"][BOX]["osds"]) == before["osds"]


def test_restore_onto_another_box_or_a_running_cloud_is_refused(host, before, tmp_path):
    """An archive whose node has another hostname, restored onto the running box: refused with both reasons, as a
    bad input, before anything changed."""
    other = tmp_path / "other.tar.gz"
    with tarfile.open(ARCHIVE) as src, tarfile.open(other, "w:gz") as dst:
        for member in src.getmembers():
            data = src.extractfile(member) if member.isfile() else None
            if member.name == "manifest.yml":
                manifest = yaml.safe_load(data)
                manifest["nodes"][BOX]["hostname"] = "elsewhere"
                raw = yaml.safe_dump(manifest).encode()
                member.size, data = len(raw), io.BytesIO(raw)
            dst.addfile(member, data)
    code, events = ciab("-i", "sandbox", "restore", str(other))
    assert code == runner.EXIT_USAGE, failures(events)
    [failure] = failures(events)
    assert "its hostname is ciab-sandbox, the archive is of elsewhere" in failure["msg"]
    assert "it already runs a cloud" in failure["msg"]
    assert show(host, "server", before["server"])["status"] == "ACTIVE"


@pytest.fixture(scope="module")
def restored(host, before):
    """destroy --keep-osd-disks (the system state goes, the OSDs stay), then restore."""
    code, events = ciab("-i", "sandbox", "destroy", "--yes-destroy", BOX, "--keep-osd-disks")
    assert code == runner.EXIT_OK, failures(events)
    assert host.run("systemctl is-active mariadb ceph-mon.target").stdout.split() != ["active", "active"]
    for device in [d["path"] for d in plan()["osd"]["devices"]]:
        assert "ceph_bluestore" in host.check_output(f"blkid -p -o value -s TYPE {device}"), device
    code, events = ciab("-i", "sandbox", "restore", str(ARCHIVE))
    return code, events


def test_restore_brings_the_same_cloud_back(host, before, restored):
    code, events = restored
    assert code == runner.EXIT_OK, failures(events)
    assert osds(host) == before["osds"] and host.check_output("ceph fsid") == before["fsid"]
    token = json.loads(host.check_output(f"{OS_DEMO} token issue -f json"))
    assert (token["project_id"], token["user_id"]) == (before["project"], before["user"])
    assert show(host, "image", "ciab-guest")["id"] == before["image"]
    assert show(host, "volume", before["volume"])["status"] == "available"
    assert volume_sum(host, before["volume"]) == before["volume_sum"]
    assert host.check_output(f"{OS_DEMO} secret get --payload -f value {before['secret']}") == NAME
    ec2 = show(host, "ec2 credentials", before["ec2"]["access"])
    assert ec2["secret"] == before["ec2"]["secret"]
    # the server comes back running on its disk in Ceph (Nova resumes it), and its guest boots again
    wait_for(host, f"{OS_ADMIN} server show -f value -c status {before['server']}", lambda out: out.strip() == "ACTIVE")
    wait_for(host, f"{OS_DEMO} console log show {before['server']}", lambda out: "disks vda" in out)
    assert host.run("test -e /var/lib/ciab/restore").rc == 1
