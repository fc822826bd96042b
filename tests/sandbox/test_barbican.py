"""Barbican, the key manager, on the sandbox: a member's secret round-trips, the master key stays outside the
database, and an encrypted volume (type ceph-luks) gets its key from Barbican and is LUKS on the RBD pool."""

import json
import uuid

from box import OS_ADMIN, OS_DEMO
from waiting import wait_for

KEK = "/etc/barbican/barbican.conf.d/kek.conf"


def test_key_manager_in_the_catalog_over_tls(host):
    catalog = {e["Type"]: e for e in json.loads(host.check_output(f"{OS_DEMO} catalog list -f json"))}
    urls = [e["url"] for e in catalog["key-manager"]["Endpoints"]]
    assert urls and all(url.startswith("https://") and url.endswith(":9311") for url in urls), urls


def test_a_member_stores_lists_reads_and_deletes_a_secret(host):
    name = f"test-{uuid.uuid4().hex[:8]}"
    stored = json.loads(host.check_output(f"{OS_DEMO} secret store -f json --name {name} --payload round-trip"))
    ref = stored["Secret href"]
    try:
        assert ref.startswith("https://") and ":9311/v1/secrets/" in ref
        listed = json.loads(host.check_output(f"{OS_DEMO} secret list -f json --name {name}"))
        assert [s["Secret href"] for s in listed] == [ref]
        assert host.check_output(f"{OS_DEMO} secret get --payload -f value {ref}") == "round-trip"
    finally:
        host.check_output(f"{OS_DEMO} secret delete {ref}")
    assert json.loads(host.check_output(f"{OS_DEMO} secret list -f json --name {name}")) == []


def test_the_master_key_is_the_barbican_users_alone_and_not_in_the_database(host):
    kek = host.file(KEK)
    assert kek.user == "barbican" and kek.mode == 0o600
    key = next(line.split("=", 1)[1].strip() for line in kek.content_string.splitlines() if line.startswith("kek"))
    assert len(key) == 44  # a Fernet key: 32 bytes, base64
    dump = host.check_output("mysqldump --skip-extended-insert barbican")
    assert "kek_data" in dump and key not in dump


def test_an_encrypted_volume_has_its_key_in_barbican_and_is_luks_on_ceph(host):
    name = f"test-luks-{uuid.uuid4().hex[:8]}"
    volume = json.loads(host.check_output(f"{OS_DEMO} volume create -f json --type ceph-luks --size 1 {name}"))
    try:
        shown = json.loads(
            wait_for(
                host,
                f"{OS_ADMIN} volume show -f json {volume['id']}",
                lambda out: json.loads(out)["status"] in ("available", "error"),
                timeout=120,
            )
        )
        assert shown["status"] == "available" and shown["encrypted"] is True, shown
        # the volume's key is a secret of the member's project in Barbican
        keys = json.loads(host.check_output(f"{OS_DEMO} secret list -f json"))
        assert any(s["Secret type"] == "symmetric" for s in keys), keys
        # and the RBD image starts with a LUKS header
        header = host.check_output(
            f"rbd --id cinder --pool volumes export volume-{volume['id']} - 2>/dev/null | head -c 6 | od -An -c"
        )
        assert header.split()[:4] == ["L", "U", "K", "S"], header
    finally:
        host.check_output(f"{OS_DEMO} volume delete {volume['id']}")


def test_an_encrypted_volume_attaches_decrypted_by_qemu(host):
    """No dm-crypt here: Nova hands the LUKS volume to QEMU with its key from Barbican as a libvirt secret, and the
    guest sees the plain disk."""
    name = f"test-luks-{uuid.uuid4().hex[:8]}"
    volume = host.check_output(f"{OS_DEMO} volume create -f value -c id --type ceph-luks --size 1 {name}")
    boot = "--image ciab-guest --flavor SCS-1L-1-5 --network demo-net --wait"
    server = host.check_output(f"{OS_DEMO} server create -f value -c id {boot} {name}")
    try:
        wait_for(host, f"{OS_DEMO} volume show -f value -c status {volume}", lambda out: out.strip() == "available")
        host.check_output(f"{OS_DEMO} server add volume {server} {volume}")
        wait_for(host, f"{OS_DEMO} volume show -f value -c status {volume}", lambda out: out.strip() == "in-use")
        domain = host.check_output(f"{OS_ADMIN} server show -f value -c OS-EXT-SRV-ATTR:instance_name {server}")
        xml = host.check_output(f"virsh dumpxml {domain}")
        assert "<encryption format='luks' engine='qemu'>" in xml
        # the guest prints its disks every 5 s: the attached one appears as vdb
        wait_for(host, f"{OS_DEMO} console log show {server}", lambda out: "disks vda vdb" in out)
    finally:
        host.run(f"{OS_DEMO} server delete --wait {server}")
        wait_for(host, f"{OS_DEMO} volume show -f value -c status {volume}", lambda out: out.strip() == "available")
        host.check_output(f"{OS_DEMO} volume delete {volume}")
