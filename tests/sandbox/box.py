"""The sandbox box under test: its name, where the deploy left plan and secrets on this machine, the CLI."""

import io
import json
import ssl
import urllib.request

import yaml

from ciab import cli, runner

BOX = "ciab-sandbox"
ROOT = runner.ROOT
PLAN = ROOT / ".cache" / "plan" / f"{BOX}.yml"
CEPH_SECRETS = ROOT / ".cache" / "secrets" / "ceph"
OPENSTACK_SECRETS = ROOT / ".cache" / "secrets" / "openstack"
CLIENT = "/opt/ciab/openstack/2026.2/client/bin"
OS_ADMIN = "openstack --os-cloud ciab-admin"
OS_DEMO = "openstack --os-cloud ciab-demo"
NETWORKS = yaml.safe_load((ROOT / "inventories" / "sandbox" / "group_vars" / "all.yml").read_text())[
    "ciab_sandbox_networks"
]


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
