"""Runs killed (#22) between a configuration change and its handler (Keystone's, Ceph's), during a database
migration, and while a venv is installed (OSD prepares are killed in the ceph-three scenario). Before, the service
kept running its old configuration and a re-run reported nothing to do. Now the next run restarts it
(ciab.box.pending_restart), runs the migration again (tasks/migrate.yml records only completed steps), completes the
venv and restarts its service on it, and the run after that changes nothing. Measured through what the service does,
not what its files say: a token's lifetime, the dashboard's login page, the port the gateway answers on."""

import calendar
import re
import time

import box
import pytest
from box import OS_ADMIN, ROOT, VENVS, dashboard_get

from ciab import cli, runner

# 5 min: on demand (scripts/test sandbox-long); scripts/test interrupted kills a cold deploy at six points
pytestmark = pytest.mark.long

PLAY = ROOT / "playbooks" / "role.yml"
CONFIG_TASK = "Config | /etc/keystone/keystone.conf"
MIGRATE_TASK = "Migrate | step (keystone)"
MIGRATED = f"{VENVS}/keystone/ciab-migrated.txt"
LONGER = 5400  # keystone_token_expiration's default is 3600


def token_lifetime(host):
    """Seconds a fresh token lives, from its expiry and the box's clock."""
    expires = host.check_output(f"{OS_ADMIN} token issue -f value -c expires")  # UTC, 2026-12-03T14:20:01+0000
    return calendar.timegm(time.strptime(expires[:19], "%Y-%m-%dT%H:%M:%S")) - time.time()


def run_role(role="ciab.box.keystone", **extravars):
    result = runner.run(str(PLAY), inventory=cli.SANDBOX, extravars={"ciab_role": role, **extravars})
    assert result.ok, result.failures
    return result


def run_killed(task, on, role="ciab.box.keystone", **extravars):
    return box.run_killed(PLAY, task, on, ciab_role=role, **extravars)


@pytest.fixture(scope="module", autouse=True)
def restore_default(host):
    """A failed check leaves Keystone on the default again for the tests after this one."""
    yield
    if f"expiration = {LONGER}" in host.file("/etc/keystone/keystone.conf").content_string:
        run_role()


def test_killed_before_the_handler_then_run_again(host):
    assert abs(token_lifetime(host) - 3600) < 120

    output = run_killed(CONFIG_TASK, "changed", keystone_token_expiration=LONGER)
    assert "RUNNING HANDLER" not in output, output[-2000:]
    assert f"expiration = {LONGER}" in host.file("/etc/keystone/keystone.conf").content_string
    # what the kill left: the file is new, the service is not (before ciab.box.pending_restart this stayed so)
    assert abs(token_lifetime(host) - 3600) < 120

    again = run_role(keystone_token_expiration=LONGER)
    assert again.changed >= 1
    assert abs(token_lifetime(host) - LONGER) < 120

    # killed during the schema migration (its record removed first, as a new release's lock would make it differ):
    # back on the default configuration, the run dies in keystone-manage db_sync, before the record
    host.check_output(f"rm {MIGRATED}")
    run_killed(MIGRATE_TASK, "start")
    assert not host.file(MIGRATED).exists
    back = run_role()
    assert back.changed >= 1
    assert host.file(MIGRATED).exists  # the migration ran again and completed
    assert (
        host.run("runuser -u keystone -- /opt/ciab/openstack/2026.2/keystone/bin/keystone-manage db_sync --check").rc
        == 0
    )
    assert abs(token_lifetime(host) - 3600) < 120
    assert run_role().changed == 0


def started(host, unit):
    """Wall-clock start of the unit's main process on the box (seconds since the epoch)."""
    return float(host.check_output(f'date -d "$(systemctl show -P ActiveEnterTimestamp {unit})" +%s.%N'))


def test_killed_while_installing_a_venv_then_run_again(host):
    """The dashboard's venv removed (as a new release would install it afresh) and the run killed 1 s into the
    install: half a venv, no stamp. The next run installs it whole, builds the static files and restarts the
    dashboard on the new venv; the run after that changes nothing. Then only the stamps removed (the venv is
    installed again, nothing else changes): the dashboard is restarted for the new venv alone."""
    venv = f"{VENVS}/horizon"
    stamp = f"{venv}/ciab-lock.txt"
    host.check_output(f"rm -rf {venv}")
    run_killed("Venv | install the lock (horizon)", "start", role="ciab.box.horizon")
    assert host.file(f"{venv}/bin/python").exists and not host.file(stamp).exists
    time.sleep(5)  # the killed run's installer on the box (its docker exec client is gone) finishes or dies
    before = float(host.check_output("date +%s.%N"))
    assert run_role("ciab.box.horizon").changed >= 1
    assert host.file(f"{venv}/ciab-migrated.txt").exists  # the static files were built again
    assert host.file(stamp).mtime.timestamp() >= before - 1  # the stamp's time is the install's
    assert started(host, "horizon") >= host.file(stamp).mtime.timestamp() - 1  # restarted on the new venv
    with dashboard_get() as answer:
        assert answer.status == 200 and 'id="id_password"' in answer.read().decode()
    assert run_role("ciab.box.horizon").changed == 0

    old = started(host, "horizon")
    host.check_output(f"rm {stamp} {venv}/ciab-build.txt")
    assert run_role("ciab.box.horizon").changed >= 1
    assert started(host, "horizon") > old  # pending_restart: the venv is newer than the process
    assert run_role("ciab.box.horizon").changed == 0


def listens(host, port):
    return f":{port} " in host.check_output("ss -Htln")


def test_killed_after_a_ceph_conf_change_then_run_again(host):
    """The gateway's port changed in ceph.conf and the run killed before its handler: radosgw still answers on the
    old port. The next run restarts the daemons older than ceph.conf (ciab.box.pending_restart, before the gateway
    is waited for on the new port); back on the default, the run after that changes nothing."""
    port, moved = 7480, 7481  # ceph_rgw_port's default and another
    assert listens(host, port)
    run_killed("Conf | /etc/ceph/ceph.conf", "changed", role="ciab.box.ceph", ceph_rgw_port=moved)
    assert f":{moved}" in host.file("/etc/ceph/ceph.conf").content_string
    assert listens(host, port) and not listens(host, moved)  # what the kill left

    try:
        assert run_role("ciab.box.ceph", ceph_rgw_port=moved).changed >= 1
        assert listens(host, moved) and not listens(host, port)
        endpoint = re.search(r"endpoint=(\S+)", host.file("/etc/ceph/ceph.conf").content_string).group(1)
        assert endpoint.endswith(f":{moved}") and host.run(f"curl -fsS http://{endpoint}/").rc == 0
    finally:
        back = run_role("ciab.box.ceph")
    assert back.changed >= 1 and listens(host, port)
    assert run_role("ciab.box.ceph").changed == 0
    assert host.run("ceph health").stdout.strip() == "HEALTH_OK"
