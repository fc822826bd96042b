"""The sandbox box under test: its name, where the deploy left plan and secrets on this machine, the CLI."""

import io
import json
import os
import shlex
import signal
import ssl
import struct
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from pathlib import Path

import websocket
import yaml

from ciab import cli, runner

BOX = "ciab-sandbox"
ROOT = runner.ROOT
PLAN = ROOT / ".cache" / "plan" / f"{BOX}.yml"
CEPH_SECRETS = ROOT / ".cache" / "secrets" / "ceph"
OPENSTACK_SECRETS = ROOT / ".cache" / "secrets" / "openstack"
VENVS = "/opt/ciab/openstack/2026.2"  # openstack_venv_root of the release
CLIENT = f"{VENVS}/client/bin"
# The cloud's units (systemctl patterns): their journal goes with a failed check; the long harness compares them.
UNITS = ["ceph*", "ciab-ceph-osd-activate.service", "keystone", "glance", "placement", "barbican-api", "cinder-*",
         "neutron-*", "nova-*", "octavia-*", "horizon", "libvirtd", "ovn-*", "ovs-vswitchd", "ovsdb-server", "nginx",
         "mariadb", "rabbitmq-server", "memcached"]  # fmt: skip
OS_ADMIN = "openstack --os-cloud ciab-admin"
OS_DEMO = "openstack --os-cloud ciab-demo"
HARDWARE = yaml.safe_load((ROOT / "inventories" / "sandbox" / "group_vars" / "all.yml").read_text())
NETWORKS = HARDWARE["ciab_sandbox_networks"]
# the box's address on the overlay network, in CIDR form (its ciab_overlay_address)
OVERLAY = f"{HARDWARE['ciab_sandbox_overlay_address']}/{NETWORKS['overlay']['subnet'].split('/')[1]}"


def dashboard():
    """{url, domain, user, password_file, ca}: what ciab.box.horizon wrote next to clouds.yaml."""
    return yaml.safe_load((OPENSTACK_SECRETS / "dashboard.yml").read_text())


def dashboard_get(path="auth/login/", timeout=30):
    """GET a path of the dashboard over TLS, trusting the deploy's CA; returns the open answer (status, headers,
    read())."""
    where = dashboard()
    context = ssl.create_default_context(cafile=where["ca"])
    return urllib.request.urlopen(where["url"] + path, context=context, timeout=timeout)


def plan():
    return yaml.safe_load(PLAN.read_text())


def purge():
    """No sandbox and no disk files: what an earlier run left must not be adopted."""
    result = runner.run("sandbox", extravars={"ciab_sandbox_state": "down", "ciab_sandbox_keep_disks": False})
    assert result.ok, result.failures


def ciab(*argv):
    """Run the ciab CLI in-process with --json; returns (exit code, events)."""
    out = io.StringIO()
    code = cli.main(["--json", *argv], out=out)
    return code, [json.loads(line) for line in out.getvalue().splitlines()]


def results(events):
    return [e for e in events if e["event"] == "result"]


def run_killed(playbook, task, on, **extravars):
    """ansible-playbook `playbook` against the sandbox with the given variables, SIGKILLed (its process group) when
    `task` reports changed (on="changed": before any handler ran) or 1 s after it started (on="start": its command
    runs); returns its output."""
    inventory = runner.inventory_path(cli.SANDBOX)
    argv = [str(Path(sys.executable).parent / "ansible-playbook"), "-i", str(inventory), str(playbook)]
    for key, value in extravars.items():
        argv += ["-e", f"{key}={value}"]
    env = {**os.environ, "ANSIBLE_CONFIG": str(ROOT / "ansible.cfg"), "ANSIBLE_NOCOLOR": "1"}
    proc = subprocess.Popen(argv, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            start_new_session=True)  # fmt: skip
    lines, in_task = [], False
    for line in proc.stdout:
        lines.append(line)
        if line.startswith("TASK ["):
            in_task = task in line
            if in_task and on == "start":
                time.sleep(1)
                os.killpg(proc.pid, signal.SIGKILL)
                break
        elif in_task and on == "changed" and line.startswith("changed:"):
            os.killpg(proc.pid, signal.SIGKILL)
            break
    proc.wait(timeout=60)
    output = "".join(lines)
    assert proc.returncode == -signal.SIGKILL, f"the run ended before {task} {on}:\n{output[-3000:]}"
    return output


# The nodes' TLS ports (RabbitMQ 5671, OVN's southbound 6642; test_openstack, tests/two_node): a probe run on a box that
# sends the protocol's first bytes over TLS, with the node certificate or without one.
NODE_TLS_DIR = "/etc/ciab/node-tls"
NODE_TLS = {"ca": f"{NODE_TLS_DIR}/ca.crt", "crt": f"{NODE_TLS_DIR}/node.crt", "key": f"{NODE_TLS_DIR}/node.key"}
TLS_PROBE = (
    "import socket, ssl, sys\n"
    "address, port, hello = sys.argv[1], int(sys.argv[2]), bytes.fromhex(sys.argv[3])\n"
    "context = ssl.create_default_context(cafile=sys.argv[4])\n"
    "if len(sys.argv) > 5:\n"
    "    context.load_cert_chain(sys.argv[5], sys.argv[6])\n"
    "try:\n"
    "    with context.wrap_socket(socket.create_connection((address, port), timeout=10),\n"
    "                             server_hostname=address) as tls:\n"
    "        tls.sendall(hello)\n"
    "        answer = tls.recv(200)\n"
    "        print('ANSWERED' if answer else 'CLOSED', tls.version(), answer.hex())\n"
    "except OSError as e:\n"
    "    print('REFUSED', type(e).__name__, e)\n"
)
# what the client sends first: AMQP 0-9-1's protocol header, an OVSDB request
HELLO = {5671: b"AMQP\x00\x00\x09\x01".hex(), 6642: b'{"method":"list_dbs","params":[],"id":0}'.hex()}


def tls_probe(host, address, port, with_certificate):
    """ANSWERED/CLOSED/REFUSED, the TLS version and the answer (hex) of ADDRESS:PORT, as HOST sees it."""
    probe = f"python3 -c {shlex.quote(TLS_PROBE)} {address} {port} {HELLO[port]} {NODE_TLS['ca']}"
    return host.check_output(f"{probe} {NODE_TLS['crt']} {NODE_TLS['key']}" if with_certificate else probe)


# A guest's VNC server (QEMU's, port 5900 + display; test_nova, tests/two_node): a probe run on a box that speaks RFB
# as a plain client would (RFB 3.8: the security types offered) and then, if VeNCrypt (19) is offered, asks for its
# X509None subtype (260, what nova's console proxy uses) and makes the TLS session, with the node certificate or
# without one. Prints JSON: the types, the subtypes, whether the subtype was accepted, the security result (hex; empty
# when the server ended the session) or the TLS error.
VNC_PROBE = (
    "import json, socket, ssl, struct, sys\n"
    "address, port, ca = sys.argv[1], int(sys.argv[2]), sys.argv[3]\n"
    "vnc = socket.create_connection((address, port), timeout=10)\n"
    "def read(size):\n"
    "    data = b''\n"
    "    while len(data) < size:\n"
    "        chunk = vnc.recv(size - len(data))\n"
    "        if not chunk:\n"
    "            raise EOFError(data)\n"
    "        data += chunk\n"
    "    return data\n"
    "seen = {'version': read(12).decode()}\n"
    "vnc.sendall(b'RFB 003.008\\n')\n"
    "seen['types'] = list(read(read(1)[0]))\n"
    "if seen['types'] == [19]:\n"
    "    vnc.sendall(b'\\x13')\n"
    "    seen['vencrypt'] = list(read(2))\n"
    "    vnc.sendall(b'\\x00\\x02')\n"
    "    read(1)\n"
    "    count = read(1)[0]\n"
    "    seen['subtypes'] = list(struct.unpack(f'!{count}I', read(4 * count)))\n"
    "    vnc.sendall(struct.pack('!I', 260))\n"
    "    seen['accepted'] = read(1)[0]\n"
    "    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)\n"
    "    context.check_hostname = False\n"
    "    context.load_verify_locations(ca)\n"
    "    if len(sys.argv) > 4:\n"
    "        context.load_cert_chain(sys.argv[4], sys.argv[5])\n"
    "    try:\n"
    "        tls = context.wrap_socket(vnc)\n"
    "        seen['tls'] = tls.version()\n"
    "        seen['result'] = tls.recv(4).hex()\n"
    "    except OSError as e:\n"
    "        seen['error'] = f'{type(e).__name__}: {e}'\n"
    "print(json.dumps(seen))\n"
)


def vnc_listener(host, domain):
    """The address and port of the libvirt DOMAIN's VNC server on HOST (`virsh vncdisplay`: ADDRESS:DISPLAY, the
    address left out for loopback)."""
    address, display = host.check_output(f"virsh vncdisplay {domain}").rsplit(":", 1)
    return address or "127.0.0.1", 5900 + int(display)


def vnc_probe(host, address, port, with_certificate):
    """What a client sees of the guest's VNC server at ADDRESS:PORT, from HOST (VNC_PROBE's JSON)."""
    probe = f"python3 -c {shlex.quote(VNC_PROBE)} {address} {port} {NODE_TLS['ca']}"
    return json.loads(host.check_output(f"{probe} {NODE_TLS['crt']} {NODE_TLS['key']}" if with_certificate else probe))


def console_session(host, server_id):
    """The server's console URL is the TLS front end (6080); through it, a websocket with the URL's token is an RFB
    session with the guest's VNC server: the proxy offers the browser no security type but None (it made the VeNCrypt
    session with the guest's VNC server itself), then the guest's security result and its ServerInit follow (the
    desktop's size and name)."""
    url = json.loads(host.check_output(f"{OS_DEMO} console url show --novnc -f json {server_id}"))["url"]
    where = urllib.parse.urlsplit(url)
    assert where.scheme == "https" and where.port == 6080, url
    token = urllib.parse.parse_qs(urllib.parse.parse_qs(where.query)["path"][0].lstrip("?"))["token"][0]
    socket = websocket.create_connection(
        f"wss://{where.netloc}/?token={token}",
        sslopt={"ca_certs": str(OPENSTACK_SECRETS / "pki" / "ca.crt")},
        subprotocols=["binary"],
        origin=f"https://{where.netloc}",
        timeout=30,
    )
    received = bytearray()

    def read(size):
        while len(received) < size:
            received.extend(socket.recv())
        data = bytes(received[:size])
        del received[:size]
        return data

    try:
        session = {"version": read(12)}
        socket.send_binary(b"RFB 003.008\n")
        session["types"] = list(read(read(1)[0]))
        socket.send_binary(b"\x01")  # None
        session["result"] = read(4)
        socket.send_binary(b"\x01")  # ClientInit, shared
        width, height = struct.unpack("!HH", read(4))
        read(16)  # the pixel format
        session.update(size=(width, height), name=read(struct.unpack("!I", read(4))[0]).decode())
    finally:
        socket.close()
    return session


# Every TCP port of an address that answers, as seen from outside the box (test_exposure, tests/two_node).
SCAN = r"""
import asyncio, json, sys
async def probe(sem, host, port, found):
    async with sem:
        try:
            _, writer = await asyncio.wait_for(asyncio.open_connection(host, port), 1.5)
            found.append(port)
            writer.close()
        except Exception:
            pass
async def main(host):
    sem, found = asyncio.Semaphore(3000), []
    await asyncio.gather(*(probe(sem, host, port, found) for port in range(1, 65536)))
    print(json.dumps(sorted(found)))
asyncio.run(main(sys.argv[1]))
"""


def outside(*argv, timeout=300):
    """A command in a throwaway container of the sandbox's image on its management network (not a node)."""
    image = subprocess.run(
        ["docker", "inspect", "-f", "{{.Config.Image}}", BOX], capture_output=True, text=True, check=True
    ).stdout.strip()
    return subprocess.run(
        ["docker", "run", "--rm", "--network", NETWORKS["management"]["name"], "--entrypoint", argv[0], image,
         *argv[1:]],
        check=False, capture_output=True, text=True, timeout=timeout,
    )  # fmt: skip
