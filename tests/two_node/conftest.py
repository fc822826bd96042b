"""The on-demand two-node stage (`scripts/test two-node`): the sandbox of one box as the README's first command
makes it, then `ciab sandbox up --nodes 2` adds a second box to the running cloud. The first box's units and files
are read before and after. The boxes are removed at the end."""

import sys
from pathlib import Path

import pytest
import testinfra

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parents[1] / "tests" / "sandbox"))
sys.path.insert(0, str(HERE.parents[1] / "molecule" / "shared"))

from box import BOX, HARDWARE, UNITS, ciab, purge, results  # noqa: E402

from ciab import runner  # noqa: E402

SECOND = HARDWARE["ciab_sandbox_second"]["name"]
# What node 1's services read at start: none of it may change when a node joins (only the firewall's set of nodes).
CONFIGS = ("/etc/keystone /etc/glance /etc/placement /etc/barbican /etc/cinder /etc/neutron /etc/nova /etc/octavia "
           "/etc/ceph/ceph.conf /etc/mysql/mariadb.conf.d/99-ciab.cnf /etc/rabbitmq /etc/memcached.conf")  # fmt: skip


def units(host):
    """{unit: (MainPID, start time, restarts)} of node 1's cloud units that run."""
    patterns = " ".join(f"'{u}'" for u in UNITS)
    names = host.check_output(f"systemctl list-units --no-legend --plain --state=active --type=service {patterns}")
    found = {}
    for name in (line.split()[0] for line in names.splitlines() if line.strip()):
        show = host.check_output(f"systemctl show -P MainPID -P ExecMainStartTimestampMonotonic -P NRestarts {name}")
        found[name] = tuple(show.split())
    return found


def configs(host):
    """sha256 of every file node 1's services read (by path)."""
    out = host.check_output(f"find {CONFIGS} -type f -exec sha256sum {{}} + 2>/dev/null || true")
    return {line.split()[1]: line.split()[0] for line in out.splitlines()}


@pytest.fixture(scope="session")
def joined():
    """One box up, node 1 read; the second box joins; node 1 read again. Yields (code, events, before, after)."""
    purge()
    code, events = ciab("sandbox", "up")
    assert code == runner.EXIT_OK, [f for r in results(events) for f in r["failures"]]
    node1 = testinfra.get_host(f"docker://{BOX}")
    before = {"units": units(node1), "configs": configs(node1)}
    code, events = ciab("sandbox", "up", "--nodes", "2")
    after = {"units": units(node1), "configs": configs(node1)}
    yield code, events, before, after
    code_down, _ = ciab("sandbox", "down")
    assert code_down == runner.EXIT_OK


@pytest.fixture(scope="session")
def node1(joined):
    code, events, _, _ = joined
    if code != runner.EXIT_OK:
        pytest.fail(f"ciab sandbox up --nodes 2 failed: {[f for r in results(events) for f in r['failures']]}")
    return testinfra.get_host(f"docker://{BOX}")


@pytest.fixture(scope="session")
def node2(node1):
    return testinfra.get_host(f"docker://{SECOND}")
