"""The README's first command, once per test run: `ciab sandbox up` from no sandbox, with every default layer. The
tests then check the box it made (testinfra over `docker exec`), in the order of ORDER; the box is removed at the end.
A failed check shows the units' journal."""

import sys
from pathlib import Path

import pytest
import testinfra
from box import BOX, UNITS, ciab, purge, results

from ciab import runner

# The tests share helpers with the Molecule scenarios (s3client, waiting, units).
sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "molecule" / "shared"))

# up and its re-run first, the container restart (end of test_ceph) before the checks that expect it, verify, then
# backup/restore, then destroy last. Every module is listed: one that is not would run after the destroy.
ORDER = ["test_sandbox", "test_ceph", "test_openstack", "test_cinder", "test_barbican", "test_object_store",
         "test_neutron", "test_nova", "test_octavia", "test_horizon", "test_conformance", "test_standard_images",
         "test_exposure", "test_k3s", "test_interrupted", "test_verify_playbook", "test_tempest", "test_restore",
         "test_destroy"]  # fmt: skip

JOURNAL = "journalctl --no-pager --lines 80 " + " ".join(f"--unit '{unit}'" for unit in UNITS)


def pytest_collection_modifyitems(items):
    unlisted = sorted({Path(item.fspath).stem for item in items} - set(ORDER))
    if unlisted:
        raise pytest.UsageError(f"tests/sandbox/conftest.py: add {', '.join(unlisted)} to ORDER (before test_restore)")
    items.sort(key=lambda item: ORDER.index(Path(item.fspath).stem))


@pytest.fixture(scope="session")
def sandbox():
    """`ciab sandbox up` from nothing (the README's first command); the box is removed after the last test."""
    purge()
    code, events = ciab("sandbox", "up")
    yield code, events
    code_down, _ = ciab("sandbox", "down")
    assert code_down == runner.EXIT_OK


@pytest.fixture(scope="session")
def host(sandbox):
    code, events = sandbox
    if code != runner.EXIT_OK:
        pytest.fail(f"ciab sandbox up failed: {[f for r in results(events) for f in r['failures']]}")
    return testinfra.get_host(f"docker://{BOX}")


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    host = item.funcargs.get("host") if hasattr(item, "funcargs") else None
    if report.when == "call" and report.failed and host is not None:
        journal = host.run(JOURNAL)
        report.sections.append(("journal of the units", journal.stdout + journal.stderr))
