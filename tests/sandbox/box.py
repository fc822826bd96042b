"""The sandbox box under test: its name, where the deploy left plan and secrets on this machine, the CLI."""

import io
import json
import os
import signal
import ssl
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

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
