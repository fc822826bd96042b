"""A cold deploy of every default layer killed at several points, then run to the end, leaves the cloud an
uninterrupted cold deploy leaves (#22, the long harness; `scripts/test interrupted`, about 35 min).

First the reference: `ciab sandbox up` from nothing, uninterrupted, and its effective state. Then a fresh box (the
same plan, the controller's secrets kept) whose deploy (playbooks/site.yml) is SIGKILLed at each point of KILLS in
turn: every run starts from the top and dies at the next point, so each point is met by a run that has not done it
yet. A run to the end follows, then one that must change nothing, then `ciab verify` (the smoke test). The effective
state must equal the reference's: the same units running and none older than its configuration or venv, the same
configuration files byte for byte, venvs and migrations recorded from the same locks and steps, one OSD per planned
device and HEALTH_OK. On the sandbox a kill ends the ansible-playbook side; a command already running in the box (its
docker exec client gone) finishes or dies with its pipe, as on a node whose SSH connection dropped."""

import json

import box
import pytest
import testinfra
from box import BOX, ROOT, UNITS, VENVS, ciab, results

from ciab import cli, runner

SITE = ROOT / "playbooks" / "site.yml"
# (task, when): in the order a cold deploy meets them; "start" kills 1 s into the task, "changed" as it reports a
# change (before its handler).
KILLS = [
    ("Mon | create the monitor store", "start"),  # cluster bootstrap
    ("OSD device | prepare BlueStore on the device the guard let through", "start"),  # OSD prepare
    ("Venv | install the lock (keystone)", "start"),  # a venv install
    ("Config | /etc/neutron/neutron.conf", "changed"),  # a configuration change before its handler
    ("Chassis | provider NIC in the provider bridge", "start"),  # the provider-NIC plug
    ("Migrate | step (nova)", "start"),  # a database migration
]
# Where the services' configuration lives.
CONFIG_DIRS = ["/etc/ceph", "/etc/keystone", "/etc/glance", "/etc/placement", "/etc/cinder", "/etc/neutron",
               "/etc/nova", "/etc/horizon", "/etc/nginx", "/etc/mysql", "/etc/rabbitmq"]  # fmt: skip

# The files that configure a service (not its keys, certificates or data), as find(1) arguments; venv stamps too.
CONFIG_NAMES = ["*.conf", "*.ini", "*.py", "*.yaml", "*.json", "*.cnf", "ciab-lock.txt"]
CONFIGS = r"\( " + " -o ".join(f"-name '{glob}'" for glob in CONFIG_NAMES) + r" \)"

# ceph-crash starts with its package, before ceph.conf exists, and runs the ceph CLI (which reads ceph.conf) for each
# crash report it posts: the file is its running configuration.
PER_USE = {"ceph-crash.service"}


def running(host):
    listed = host.check_output("systemctl list-units --type=service --state=running --plain --no-legend --no-pager "
                               + " ".join(f"'{unit}'" for unit in UNITS))  # fmt: skip
    return sorted(line.split()[0] for line in listed.splitlines())


def older_than_inputs(host, units):
    """Units whose process started before a configuration file of their directory or their venv's stamp changed
    (but those that read their configuration at each use)."""
    stale = []
    for unit in set(units) - PER_USE:
        name = unit.removesuffix(".service").split("@")[0].split("-")[0]
        inputs = f"/etc/{name} {VENVS}/{name}/ciab-lock.txt"
        newest = host.run(f"find {inputs} -type f {CONFIGS} -printf '%T@\\n' 2>/dev/null | sort -n | tail -1")
        if not newest.stdout.strip():
            continue
        start = host.check_output(f'date -d "$(systemctl show -P ActiveEnterTimestamp {unit})" +%s.%N')
        if float(start) < float(newest.stdout) - 1:
            stale.append(unit)
    return sorted(stale)


def state(host):
    """What the deploy left that a user would notice, as comparable values."""
    dirs = " ".join(CONFIG_DIRS)
    configs = host.check_output(f"find {dirs} -type f {CONFIGS} -exec sha256sum {{}} + | sort -k 2")
    records = host.check_output(f"cat {VENVS}/*/ciab-lock.txt {VENVS}/*/ciab-migrated.txt | sha256sum")
    raw = json.loads(host.check_output("ceph-volume raw list --format json"))
    units = running(host)
    return {
        "units": units,
        "stale units": older_than_inputs(host, units),
        "configuration files": configs.splitlines(),
        "venv and migration records": records,
        "devices with an OSD": sorted(osd["device"] for osd in raw.values()),
        "OSDs in the map": len(json.loads(host.check_output("ceph osd ls --format json"))),
        "health": host.check_output("ceph health"),
    }


def deploy():
    return runner.run("site", inventory=cli.SANDBOX)


@pytest.fixture(scope="module")
def host():
    return testinfra.get_host(f"docker://{BOX}")


def test_a_cold_deploy_killed_at_each_point_ends_as_an_uninterrupted_one(host, capsys):
    assert runner.run("sandbox", extravars={"ciab_sandbox_state": "down"}).ok
    code, events = ciab("sandbox", "up")
    assert code == runner.EXIT_OK, [f for r in results(events) for f in r["failures"]]
    reference = state(host)
    assert reference["stale units"] == [] and reference["health"] == "HEALTH_OK"
    assert len(reference["devices with an OSD"]) == reference["OSDs in the map"] > 0

    try:
        assert runner.run("sandbox", extravars={"ciab_sandbox_state": "down"}).ok
        assert runner.run("sandbox", extravars={"ciab_sandbox_state": "up"}).ok
        assert runner.run("plan", inventory=cli.SANDBOX).ok
        for task, when in KILLS:
            output = box.run_killed(SITE, task, when)
            with capsys.disabled():
                print(f"\nkilled at {task!r} ({when}); the run's last lines:\n" + "".join(output.splitlines(True)[-4:]))
        whole = deploy()
        assert whole.ok, whole.failures
        again = deploy()
        assert again.ok and again.changed == 0, again.failures
        code, events = ciab("-i", cli.SANDBOX, "verify")
        assert code == runner.EXIT_OK, [f for r in results(events) for f in r["failures"]]
        assert state(host) == reference
    finally:
        assert runner.run("sandbox", extravars={"ciab_sandbox_state": "down"}).ok
