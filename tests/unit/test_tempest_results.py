"""Tempest's results as ciab.box.tempest reads them: a CSV captured from the sandbox's smoke run, and the module
with stand-in stestr/subunit2csv (a run with failures, no run in the workspace, no venv)."""

import json
import os
import subprocess
import sys
from pathlib import Path

from ansible_collections.ciab.box.plugins.module_utils.tempest import summarize

from ciab import runner

SMOKE = Path(__file__).parent / "fixtures" / "tempest" / "smoke-sandbox.csv"
FAILED = "tempest.api.compute.test_versions.TestVersions.test_get_version_details[id-b953a29e-929c-4a8e-81be-ec3a7e03cb76,smoke]"  # noqa: E501


def test_captured_smoke_run_is_counted():
    """The first smoke run on the sandbox, before the front end kept the port in version links: one failure."""
    result = summarize(SMOKE.read_text())
    assert result["counts"] == {"total": 96, "passed": 87, "skipped": 8, "failed": 1}
    assert result["failed_tests"] == [FAILED]
    assert 300 < result["seconds"] < 420


def test_errors_unknown_states_and_setup_failures_count_as_failed():
    text = (
        "test,status,start_time,stop_time\n"
        '"setUpClass (tempest.api.volume.test_x.T)",error,None,None\n'
        "t.a,xfail,2026-12-03 10:00:00+00:00,2026-12-03 10:00:05+00:00\n"
        "t.b,exists,2026-12-03 10:00:01+00:00,2026-12-03 10:00:02+00:00\n"
    )
    result = summarize(text)
    assert result["counts"] == {"total": 3, "passed": 1, "skipped": 0, "failed": 2}
    assert result["failed_tests"] == ["setUpClass (tempest.api.volume.test_x.T)", "t.b"]
    assert result["seconds"] == 5
    assert summarize("test,status,start_time,stop_time\n")["counts"]["total"] == 0


def _module(tmp_path, venv):
    """Run the module on this machine (ansible's own CLI, the checkout's configuration); returns its result."""
    workspace = tmp_path / "ws"
    workspace.mkdir(exist_ok=True)
    done = subprocess.run(
        [str(Path(sys.executable).with_name("ansible")), "localhost", "-o", "-m", "ciab.box.tempest_results",
         "-a", f"workspace={workspace} venv={venv}", "-e", f"ansible_python_interpreter={sys.executable}"],
        cwd=runner.ROOT, capture_output=True, text=True, check=False, timeout=120,
        env={**os.environ, "ANSIBLE_CONFIG": str(runner.ROOT / "ansible.cfg"), "ANSIBLE_LOAD_CALLBACK_PLUGINS": "0"},
    )  # fmt: skip
    status, result = done.stdout.split(" | ", 1)[1].split(" => ", 1)
    return status.startswith("SUCCESS"), json.loads(result)


def _venv(tmp_path, stestr, subunit2csv):
    bin_dir = tmp_path / "venv" / "bin"
    bin_dir.mkdir(parents=True)
    for name, body in (("stestr", stestr), ("subunit2csv", subunit2csv)):
        (bin_dir / name).write_text(f"#!/bin/sh\n{body}\n")
        (bin_dir / name).chmod(0o755)
    return bin_dir.parent


def test_module_reads_a_run_with_failures(tmp_path):
    # subunit2csv exits 1 when the stream holds failures: still a complete result
    venv = _venv(tmp_path, "printf 'subunit-bytes'", f"cat >/dev/null; cat {SMOKE}; exit 1")
    ok, result = _module(tmp_path, venv)
    assert ok and result["counts"]["failed"] == 1 and result["failed_tests"] == [FAILED]
    assert result["changed"] is False


def test_module_fails_naming_the_workspace_without_a_run(tmp_path):
    venv = _venv(tmp_path, "echo 'No previous run data' >&2; exit 1", "exit 0")
    ok, result = _module(tmp_path, venv)
    assert not ok
    assert result["msg"].startswith(f"no Tempest run in {tmp_path / 'ws'}") and "No previous run data" in result["msg"]


def test_module_fails_without_the_venv(tmp_path):
    ok, result = _module(tmp_path, tmp_path / "no-venv")
    assert not ok
    assert result["msg"].startswith(f"no {tmp_path}/no-venv/bin/stestr: the Tempest venv is missing")


def test_module_refuses_output_that_is_no_csv(tmp_path):
    venv = _venv(tmp_path, "printf x", "cat >/dev/null; echo 'Traceback: boom' >&2; exit 2")
    ok, result = _module(tmp_path, venv)
    assert not ok and "subunit2csv could not read" in result["msg"] and "boom" in result["msg"]


def test_module_reads_a_run_larger_than_a_pipe(tmp_path):
    """A whole API run: megabytes of subunit in, a CSV line out per test while it reads. Feeding all of it before
    reading the CSV filled both pipes and the module hung (found on the first complete API run)."""
    stream = "head -c 4000000 /dev/zero | tr '\\0' x | fold -w 100"
    row = '"t" NR ",success,2026-12-03 10:00:00+00:00,2026-12-03 10:00:09+00:00"'
    csv = f"awk 'BEGIN {{print \"test,status,start_time,stop_time\"}} {{print {row}}}'"
    ok, result = _module(tmp_path, _venv(tmp_path, stream, csv))
    assert ok and result["counts"] == {"total": 40000, "passed": 40000, "skipped": 0, "failed": 0}
