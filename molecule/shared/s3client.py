"""A minimal S3 client for the Ceph scenarios' verify steps: AWS Signature V4, path-style, standard library only.

Shared by tests/sandbox and molecule/ceph-three (their tests put molecule/shared on sys.path)."""

import datetime
import hashlib
import hmac
import os
import ssl
import urllib.parse
import urllib.request


def s3_request(creds, method, path, body=b""):
    """A minimal AWS Signature V4 request to the gateway (path-style, signed payload); creds: endpoint, access_key,
    secret_key and, for a TLS endpoint of the deploy's CA, cafile."""
    endpoint = urllib.parse.urlsplit(creds["endpoint"])
    now = datetime.datetime.now(datetime.UTC)
    amz_date, day = now.strftime("%Y%m%dT%H%M%SZ"), now.strftime("%Y%m%d")
    payload = hashlib.sha256(body).hexdigest()
    headers = {"host": endpoint.netloc, "x-amz-content-sha256": payload, "x-amz-date": amz_date}
    signed = ";".join(sorted(headers))
    uri = urllib.parse.quote(path)
    canonical = "\n".join([method, uri, "", *(f"{k}:{headers[k]}" for k in sorted(headers)), "", signed, payload])
    scope = f"{day}/us-east-1/s3/aws4_request"
    to_sign = "\n".join(["AWS4-HMAC-SHA256", amz_date, scope, hashlib.sha256(canonical.encode()).hexdigest()])
    key = ("AWS4" + creds["secret_key"]).encode()
    for part in (day, "us-east-1", "s3", "aws4_request"):
        key = hmac.new(key, part.encode(), hashlib.sha256).digest()
    signature = hmac.new(key, to_sign.encode(), hashlib.sha256).hexdigest()
    headers["authorization"] = (
        f"AWS4-HMAC-SHA256 Credential={creds['access_key']}/{scope}, SignedHeaders={signed}, Signature={signature}"
    )
    request = urllib.request.Request(creds["endpoint"] + uri, data=body or None, method=method, headers=headers)
    context = ssl.create_default_context(cafile=creds["cafile"]) if creds.get("cafile") else None
    with urllib.request.urlopen(request, timeout=30, context=context) as response:
        return response.status, response.read()


def s3_roundtrip(creds, bucket, size):
    """Make ``bucket``, put ``size`` random bytes, get them back; returns (put data sha256, got sha256). Cleans up."""
    data = os.urandom(size)
    assert s3_request(creds, "PUT", f"/{bucket}")[0] == 200
    try:
        assert s3_request(creds, "PUT", f"/{bucket}/blob", data)[0] == 200
        status, body = s3_request(creds, "GET", f"/{bucket}/blob")
        assert status == 200
        return hashlib.sha256(data).hexdigest(), hashlib.sha256(body).hexdigest()
    finally:
        s3_request(creds, "DELETE", f"/{bucket}/blob")
        s3_request(creds, "DELETE", f"/{bucket}")
