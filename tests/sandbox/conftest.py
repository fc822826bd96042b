"""Show the units' journal under every failed check, so a red run says why."""

import sys
from pathlib import Path

import pytest

# The tests share helpers with the other scenarios (s3client, waiting).
sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "shared"))

UNITS = [
    "ceph*",
    "ciab-ceph-osd-activate.service",
    "keystone",
    "glance",
    "placement",
    "cinder-*",
    "neutron-*",
    "nova-*",
    "libvirtd",
    "ovn-*",
    "ovs-vswitchd",
    "ovsdb-server",
    "nginx",
    "mariadb",
    "rabbitmq-server",
    "memcached",
]
JOURNAL = "journalctl --no-pager --lines 80 " + " ".join(f"--unit '{unit}'" for unit in UNITS)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    host = item.funcargs.get("host") if hasattr(item, "funcargs") else None
    if report.when == "call" and report.failed and host is not None:
        journal = host.run(JOURNAL)
        report.sections.append(("journal of the units", journal.stdout + journal.stderr))
