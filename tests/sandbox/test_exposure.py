"""The box's network exposure (issue 17), seen from outside: a separate container on the sandbox's management network
(not one of the box's nodes) scans every TCP port of the box's management address and finds exactly the documented
public endpoints (README, "Ports"); the backends (MariaDB, RabbitMQ, epmd, memcached, OVN's databases) and Ceph's
daemons do not answer it. On the box: the firewall is nftables' table inet ciab only (the other tables stay), and a
table that would cut off the run applying it (SSH, over a real SSH connection) is rolled back by the node."""

import json
import subprocess
import tempfile
import time
from pathlib import Path

import pytest
from box import BOX, NETWORKS, OPENSTACK_SECRETS, ROOT, SCAN, outside, plan

from ciab import runner

# What anyone on the management network may reach on the sandbox (one node, every default layer; no sshd in the
# sandbox, so SSH's open port has nothing behind it; Kubernetes is skipped without its artifacts).
PUBLIC = {443, 5000, 6080, 7480, 8080, 8774, 8776, 8778, 9292, 9311, 9696, 9876}


@pytest.fixture(scope="module")
def address():
    return plan()["ip"]["management"]["address"]


def test_a_scan_from_the_management_network_finds_exactly_the_public_endpoints(address):
    scan = outside("python3", "-c", SCAN, address)
    assert scan.returncode == 0, scan.stderr
    assert set(json.loads(scan.stdout)) == PUBLIC


def test_every_public_endpoint_speaks_tls_with_the_box_ca(address):
    # from outside, checked as a client does: the box's CA, the certificate naming the address it is reached at
    probe = (
        "import socket, ssl, sys\n"
        "context = ssl.create_default_context(cadata=sys.argv[2])\n"
        "for port in map(int, sys.argv[3:]):\n"
        "    try:\n"
        "        with context.wrap_socket(socket.create_connection((sys.argv[1], port), timeout=5),\n"
        "                                 server_hostname=sys.argv[1]) as tls:\n"
        "            print(port, 'TLS', tls.version())\n"
        "    except OSError as e:\n"
        "        print(port, 'NO', type(e).__name__, e)\n"
    )
    ca = (OPENSTACK_SECRETS / "pki" / "ca.crt").read_text()
    got = outside("python3", "-c", probe, address, ca, *map(str, sorted(PUBLIC)))
    assert got.returncode == 0, got.stderr
    assert got.stdout.count(" TLS ") == len(PUBLIC), got.stdout


def test_no_unauthenticated_ovsdb_memcached_or_database_from_outside(address):
    probe = (
        "import socket, sys\n"
        "for port in map(int, sys.argv[2:]):\n"
        "    try:\n"
        "        s = socket.create_connection((sys.argv[1], port), timeout=3)\n"
        '        s.sendall(b\'stats\\r\\n\' if port == 11211 else b\'{"method":"list_dbs","params":[],"id":0}\')\n'
        "        print(port, 'ANSWERED', s.recv(100))\n"
        "    except OSError as e:\n"
        "        print(port, 'refused', type(e).__name__)\n"
    )
    ports = ("6641", "6642", "11211", "3306", "5672", "5671", "4369", "3300")
    got = outside("python3", "-c", probe, address, *ports)
    assert got.returncode == 0, got.stderr
    assert "ANSWERED" not in got.stdout and got.stdout.count("refused") == len(ports), got.stdout


def test_the_firewall_is_one_table_and_the_others_stay(host):
    tables = host.check_output("nft list tables")
    assert "table inet ciab" in tables
    chain = host.check_output("nft list chain inet ciab input")
    assert "policy accept" in chain and "counter packets" in chain and "drop" in chain
    assert host.check_output("nft list set inet ciab public_tcp").count("8774") == 1
    # Docker's resolver in the box (its own NAT table) still answers a name only it knows; the table comes back at boot
    assert "table ip nat" in tables
    assert host.run(f"getent hosts {BOX}.{NETWORKS['management']['name']}").rc == 0
    assert host.service("ciab-firewall").is_enabled


def _ssh_inventory(tmp, key):
    """The sandbox as a user reaches a real box: over SSH to its management address."""
    inventory = Path(tmp) / "inventory"
    (inventory / "group_vars").mkdir(parents=True)
    (inventory / "group_vars" / "all.yml").write_text(
        (ROOT / "inventories" / "sandbox" / "group_vars" / "all.yml").read_text()
    )
    (inventory / "hosts.yml").write_text(
        json.dumps({"all": {"children": {"ciab_nodes": {"hosts": {BOX: {
            "ansible_connection": "ssh", "ansible_host": plan()["ip"]["management"]["address"], "ansible_user": "root",
            "ansible_python_interpreter": "/usr/bin/python3", "ansible_ssh_private_key_file": str(key),
            "ansible_ssh_common_args": "-o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null",
        }}}}}})
    )  # fmt: skip
    return inventory


def _ssh_works(address, key):
    return (
        subprocess.run(
            ["ssh", "-i", str(key), "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null",
             "-o", "ConnectTimeout=5", "-o", "BatchMode=yes", f"root@{address}", "true"],
            check=False, capture_output=True, timeout=30,
        ).returncode
        == 0
    )  # fmt: skip


def test_a_table_that_cuts_off_the_ssh_session_is_rolled_back(host, address):
    with tempfile.TemporaryDirectory() as tmp:
        key = Path(tmp) / "id"
        subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(key)], check=True)
        public_key = key.with_suffix(".pub").read_text().strip()
        host.check_output(
            "DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends openssh-server >/dev/null"
            f" && mkdir -p /root/.ssh && echo '{public_key}' > /root/.ssh/authorized_keys && systemctl start ssh"
        )
        try:
            assert _ssh_works(address, key)
            # the same base layer over SSH, but the table opens 2222 instead of the port this run uses (22)
            result = runner.run(
                str(ROOT / "playbooks" / "role.yml"),
                inventory=_ssh_inventory(tmp, key),
                extravars={"ciab_role": "ciab.box.base", "ciab_role_tasks": "firewall_setup",
                           "base_firewall_ssh_port": 2222, "base_firewall_rollback_seconds": 30,
                           "base_firewall_reconnect_seconds": 10},
            )  # fmt: skip
            assert not result.ok
            assert any("no new connection through the firewall's new table" in f.msg for f in result.failures), (
                result.failures
            )
            # the node puts the previous table back by itself (30 s after applying), and SSH answers again
            deadline = time.monotonic() + 120
            while not _ssh_works(address, key):
                assert time.monotonic() < deadline, host.run("journalctl -t ciab-firewall -n 5").stdout
                time.sleep(5)
            public = host.check_output("nft list set inet ciab public_tcp")
            assert "22" in public.replace(",", " ").split() and "2222" not in public
            assert "not confirmed" in host.check_output("journalctl -t ciab-firewall -n 5 --no-pager")
        finally:
            host.run("systemctl disable --now ssh ssh.socket; rm -f /root/.ssh/authorized_keys")
            # the base layer again as the sandbox runs it: its port file goes back to 22, the table stays
            again = runner.run(
                str(ROOT / "playbooks" / "role.yml"),
                inventory="sandbox",
                extravars={"ciab_role": "ciab.box.base", "ciab_role_tasks": "firewall_setup"},
            )
            assert again.ok, again.failures
