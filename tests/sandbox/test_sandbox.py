"""The README's first command end to end: `ciab sandbox up` on this machine, an idempotent re-run, the destroy
guard and `ciab sandbox down`. Needs root, dockerd and the image (scripts/test runs scripts/setup first).

It runs the base layer only (`--limit base`): the Ceph and OpenStack layers are the same playbooks (site.yml),
converged, re-run and verified once, in the all-in-one Molecule scenario (molecule/aio), not twice per test run."""

import io
import json
import subprocess

import pytest
import yaml

from ciab import cli, runner

BOX = "ciab-sandbox"


def ciab(*argv):
    out = io.StringIO()
    code = cli.main(["--json", *argv], out=out)
    return code, [json.loads(line) for line in out.getvalue().splitlines()]


def results(events):
    return [e for e in events if e["event"] == "result"]


def purge():
    """No sandbox and no disk files: the disks of an earlier sandbox hold its OSDs, which the plan would adopt."""
    result = runner.run("sandbox", extravars={"ciab_sandbox_state": "down", "ciab_sandbox_keep_disks": False})
    assert result.ok, result.failures


@pytest.fixture(scope="module")
def sandbox():
    purge()
    code, events = ciab("sandbox", "up", "--limit", "base")
    yield code, events
    ciab("sandbox", "down")
    purge()


def test_sandbox_up_runs_every_phase(sandbox):
    code, events = sandbox
    failures = [f for r in results(events) for f in r["failures"]]
    assert code == runner.EXIT_OK, failures
    assert [e["step"] for e in events if e["event"] == "step"] == ["sandbox", "discover", "plan", "deploy", "verify"]
    assert all(r["ok"] for r in results(events))
    [summary] = [e for e in events if e["event"] == "summary"]
    assert summary["layers"] == ["base"]


def test_container_runs_systemd_with_the_loop_disks(sandbox):
    state = subprocess.run(
        ["docker", "exec", BOX, "systemctl", "is-system-running"], capture_output=True, text=True, check=False
    )
    assert state.stdout.strip() in ("running", "degraded")
    devices = subprocess.run(
        ["docker", "exec", BOX, "sh", "-c", "ls /dev/loop*"], capture_output=True, text=True, check=True
    ).stdout.split()
    assert len(devices) == 2


def test_plan_selects_exactly_the_sandbox_disks_and_nics(sandbox):
    plan = yaml.safe_load((runner.ROOT / ".cache" / "plan" / f"{BOX}.yml").read_text())
    devices = plan["osd"]["devices"]
    assert [d["transport"] for d in devices] == ["loop", "loop"]
    assert all(d["loop_backing_file"].startswith("/var/lib/ciab/sandbox/") for d in devices)
    assert all(d["action"] == "prepare" for d in devices)
    # Every other disk the container sees in sysfs belongs to the host and is rejected with a reason.
    assert all(r["reasons"] for r in plan["osd"]["rejected"])
    assert plan["nic"]["management"]["name"] == "eth0"
    assert plan["nic"]["provider"]["name"] == "eth1"
    assert plan["ip"]["management"]["cidr"].startswith("172.31.240.")


def test_rerun_changes_nothing(sandbox):
    code, events = ciab("-i", "sandbox", "deploy", "--limit", "base")
    [result] = results(events)
    assert code == runner.EXIT_OK
    assert result["changed"] == 0, result["stats"]


def test_verify_and_status_answer(sandbox):
    # status verifies what deploy recorded (base); verify is told the layer.
    for command in (["verify", "--limit", "base"], ["status"]):
        code, events = ciab("-i", "sandbox", *command)
        assert code == runner.EXIT_OK
        assert results(events)[0]["failures"] == []


def test_destroy_guard_keeps_the_box(sandbox):
    code, events = ciab("-i", "sandbox", "destroy", "--yes-destroy", "some-other-box")
    assert code == runner.EXIT_REFUSED
    [message] = [e for e in events if e["event"] == "message"]
    assert "--yes-destroy NAME naming one box of inventory sandbox" in message["text"]
    running = subprocess.run(
        ["docker", "inspect", "-f", "{{.State.Running}}", BOX], capture_output=True, text=True, check=False
    )
    assert running.stdout.strip() == "true"
