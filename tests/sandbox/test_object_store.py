"""The object store on the sandbox: the Ceph object gateway behind Keystone, object-store (Swift) and
object-store-s3 (S3) in the catalog over TLS; what a member puts with Swift it reads back with S3, signed with the
EC2 credentials Keystone gives it."""

import json
import uuid

from box import OPENSTACK_SECRETS, OS_DEMO
from s3client import s3_request


def _catalog(host):
    return {e["Type"]: e for e in json.loads(host.check_output(f"{OS_DEMO} catalog list -f json"))}


def test_swift_and_s3_in_the_catalog_over_tls(host):
    catalog = _catalog(host)
    swift = [e["url"] for e in catalog["object-store"]["Endpoints"]]
    s3 = [e["url"] for e in catalog["object-store-s3"]["Endpoints"]]
    assert swift and all(u.startswith("https://") and ":8080/swift/v1/AUTH_" in u for u in swift), swift
    assert s3 and all(u.startswith("https://") and u.endswith(":8080") for u in s3), s3


def test_a_container_made_with_swift_reads_back_with_s3(host):
    container = f"test-{uuid.uuid4().hex[:8]}"
    creds = json.loads(host.check_output(f"{OS_DEMO} ec2 credentials create -f json"))
    try:
        host.check_output(f"{OS_DEMO} container create {container}")
        host.check_output(
            f"echo swift-to-s3 > /tmp/{container} && cd /tmp && {OS_DEMO} object create {container} {container}"
        )
        endpoint = next(e["url"] for e in _catalog(host)["object-store-s3"]["Endpoints"] if e["interface"] == "public")
        s3 = {"endpoint": endpoint, "access_key": creds["access"], "secret_key": creds["secret"],
              "cafile": str(OPENSTACK_SECRETS / "pki" / "ca.crt")}  # fmt: skip
        assert s3_request(s3, "GET", f"/{container}/{container}") == (200, b"swift-to-s3\n")
        # the same bucket, listed by S3 in the project's own namespace
        assert f"<Name>{container}</Name>".encode() in s3_request(s3, "GET", "/")[1]
    finally:
        host.run(f"{OS_DEMO} object delete {container} {container}")
        host.run(f"{OS_DEMO} container delete {container}")
        host.run(f"{OS_DEMO} ec2 credentials delete {creds['access']}")
