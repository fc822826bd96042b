"""Verify Nova on the all-in-one node: cells, the compute node on libvirt/QEMU, what the probes decided.

The boot of a server with an attached volume is the smoke test of playbooks/verify.yml (`sandbox up`: test_sandbox.py).
"""

import base64
import json
import os
import shlex
import socket
import ssl
import time
import urllib.parse
import uuid

import pytest
from box import BOX, CLIENT, OPENSTACK_SECRETS, OS_DEMO
from units import running_unit_user

OS = "openstack --os-cloud ciab-admin"
UNITS = ("nova-api", "nova-conductor", "nova-scheduler", "nova-novncproxy", "nova-compute")
NOVA = "/opt/ciab/openstack/2026.2/nova/bin"


def compute_services(host):
    return {s["Binary"]: s for s in json.loads(host.check_output(f"{OS} compute service list -f json"))}


@pytest.fixture(scope="module", autouse=True)
def compute_up(host):
    """nova-compute reports up (it may be coming back from the container restart of test_ceph.py)."""
    deadline = time.monotonic() + 300
    while True:
        result = host.run(f"{OS} compute service list -f json")
        if result.rc == 0 and all(
            s["State"] == "up" for s in json.loads(result.stdout) if s["Binary"] in ("nova-compute", "nova-conductor")
        ):
            return
        assert time.monotonic() < deadline, result.stdout + result.stderr
        time.sleep(5)


def test_services_up(host):
    services = compute_services(host)
    assert {"nova-conductor", "nova-scheduler", "nova-compute"} <= set(services)
    assert all(s["State"] == "up" and s["Status"] == "enabled" for s in services.values()), services


def test_cells_and_host_mapping(host):
    cells = host.check_output(f"sudo -u nova {NOVA}/nova-manage cell_v2 list_cells")
    assert "cell0" in cells and "cell1" in cells
    assert BOX in host.check_output(f"sudo -u nova {NOVA}/nova-manage cell_v2 list_hosts")


def test_hypervisor_is_qemu_tcg_here(host):
    """No /dev/kvm in the test container: the probe chose QEMU (TCG), and libvirt reports it."""
    hypervisors = json.loads(host.check_output(f"{OS} hypervisor list --long -f json"))
    assert [h["Hypervisor Type"] for h in hypervisors] == ["QEMU"]
    assert host.run("grep -Eq '^virt_type = qemu$' /etc/nova/nova.conf").rc == 0
    assert not host.file("/dev/kvm").exists


def test_libvirt_namespaces_off_because_the_node_is_a_container(host):
    assert host.check_output("systemd-detect-virt --container") == "docker"
    assert host.file("/etc/libvirt/qemu.conf").contains("^namespaces = \\[\\]$")


def test_memory_reserved_from_the_plan(host):
    conf = host.file("/etc/nova/nova.conf").content_string
    reserved = [line.split("=")[1].strip() for line in conf.splitlines() if line.startswith("reserved_host_memory_mb")]
    script = (
        "import json, openstack\n"
        "conn = openstack.connect(cloud='ciab-admin')\n"
        "provider = next(iter(conn.placement.resource_providers()))\n"
        "print(json.dumps(conn.placement.get(f'/resource_providers/{provider.id}/inventories/MEMORY_MB').json()))"
    )
    inventory = json.loads(host.check_output(f"{CLIENT}/python -c {shlex.quote(script)}"))
    assert str(inventory["reserved"]) == reserved[0]


def test_libvirt_secrets_hold_the_ceph_keys(host):
    secrets = host.check_output("virsh secret-list")
    for client in ("client.nova", "client.cinder"):
        assert f"ceph {client} secret" in secrets, client


def test_privsep_is_the_only_thing_nova_may_sudo(host):
    rules = host.check_output("sudo -l -U nova")
    allowed = [line.strip() for line in rules.splitlines() if "NOPASSWD" in line]
    assert len(allowed) == 1 and "/nova/bin/privsep-helper --config-file /etc/nova/nova.conf" in allowed[0]


@pytest.mark.parametrize("unit", UNITS)
def test_units_run_as_nova_and_are_enabled(host, unit):
    assert running_unit_user(host, unit) == "nova"


def console_speaks_rfb(host, server_id):
    """The server's console URL is the TLS front end (6080); through it, a websocket with the URL's token reaches
    the guest's VNC server: its first frame is the RFB greeting."""
    url = json.loads(host.check_output(f"{OS_DEMO} console url show --novnc -f json {server_id}"))["url"]
    where = urllib.parse.urlsplit(url)
    assert where.scheme == "https" and where.port == 6080, url
    token = urllib.parse.parse_qs(urllib.parse.parse_qs(where.query)["path"][0].lstrip("?"))["token"][0]
    context = ssl.create_default_context(cafile=str(OPENSTACK_SECRETS / "pki" / "ca.crt"))
    key = base64.b64encode(os.urandom(16)).decode()
    with (
        socket.create_connection((where.hostname, where.port), timeout=30) as raw,
        context.wrap_socket(raw, server_hostname=where.hostname) as tls,
    ):
        tls.sendall(
            f"GET /?token={token} HTTP/1.1\r\nHost: {where.netloc}\r\nUpgrade: websocket\r\n"
            f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n"
            f"Sec-WebSocket-Protocol: binary\r\nOrigin: https://{where.netloc}\r\n\r\n".encode()
        )
        answer = b""
        while b"RFB " not in answer and len(answer) < 4096:
            chunk = tls.recv(4096)
            if not chunk:
                break
            answer += chunk
    assert answer.startswith(b"HTTP/1.1 101"), answer[:300]
    return b"RFB 003." in answer


def test_server_snapshot_boots_again(host):
    """Its console answers through the TLS console proxy. A snapshot of a server is an RBD clone of its disk in the
    images pool (Nova's direct snapshot: nova's Ceph key may write there), not a copy of the whole disk through Glance;
    it is an image that boots a second server."""
    name = f"ciab-test-snap-{uuid.uuid4().hex[:6]}"
    boot = f"{OS_DEMO} server create --flavor SCS-1L-1-5 --network demo-net --wait -f json"
    server_id = snap_server_id = image_id = None
    try:
        server_id = json.loads(host.check_output(f"{boot} --image ciab-guest {name}"))["id"]
        assert console_speaks_rfb(host, server_id)
        snapshot = host.check_output(f"{OS_DEMO} server image create --wait -f json --name {name} {server_id}")
        image_id = json.loads(snapshot)["id"]
        image = json.loads(host.check_output(f"{OS_DEMO} image show -f json {image_id}"))
        assert image["status"] == "active" and image["properties"]["stores"] == "rbd", image
        journal = host.check_output(f"journalctl --no-pager -u nova-compute --grep {server_id} --output cat")
        assert "Took" in journal and "to snapshot the instance" in journal, journal[-2000:]
        # the messages of Nova's fallback to copying the disk through Glance
        assert "Performing standard snapshot" not in journal and "beginning image upload" not in journal, journal
        snap_server_id = json.loads(host.check_output(f"{boot} --image {image_id} {name}-2"))["id"]
        assert json.loads(host.check_output(f"{OS_DEMO} server show -f json {snap_server_id}"))["status"] == "ACTIVE"
    finally:
        for ident in (snap_server_id, server_id):
            if ident:
                host.run(f"{OS_DEMO} server delete --wait {ident}")
        if image_id:
            host.run(f"{OS_DEMO} image delete {image_id}")
