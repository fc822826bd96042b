"""ceph_replication: the cluster-wide failure domain, pool size and min_size from the OSD topology."""

from __future__ import annotations

import pytest
from ansible_collections.ciab.box.plugins.module_utils.plan import PlanError
from ansible_collections.ciab.box.plugins.module_utils.plan.replication import ceph_replication


@pytest.mark.parametrize(
    ("counts", "domain", "size", "min_size"),
    [
        ([2], "osd", 2, 1),  # the sandbox and the reference box: one node, two NVMe drives
        ([1], "osd", 1, 1),  # one disk: one copy (the pools carry no redundancy; the role says so to the monitors)
        ([4], "osd", 3, 2),  # one node with four disks: three copies on distinct disks
        ([1, 1, 1], "host", 3, 2),  # molecule ceph-three
        ([2, 2], "host", 2, 1),  # two nodes: two copies, one per host, however many disks
        ([3, 0], "osd", 3, 2),  # a node without OSDs (a mon-only node) does not count
        ([2, 2, 2, 2, 2], "host", 3, 2),
        ([], "osd", 1, 1),  # no OSD planned yet
    ],
)
def test_derived_from_the_topology(counts, domain, size, min_size):
    got = ceph_replication(counts)
    assert (got["failure_domain"], got["pool_size"], got["pool_min_size"]) == (domain, size, min_size)
    assert got["crush_rule"] == f"ciab_replicated_{domain}"
    assert got["osd_nodes"] == len([c for c in counts if c])
    assert got["osds"] == sum(counts)


def test_explicit_values_are_used_as_given():
    got = ceph_replication([2, 2, 2], "osd", 2, 2)
    assert (got["failure_domain"], got["pool_size"], got["pool_min_size"]) == ("osd", 2, 2)
    # a failure domain alone: the size follows its members (three hosts, one OSD each)
    assert ceph_replication([1, 1, 1], "host")["pool_size"] == 3
    # host on one node: one member, one copy (the monitors would never place a second)
    assert ceph_replication([4], "host")["pool_size"] == 1
    # strings from templating are numbers too
    assert ceph_replication(["2", "2"], "auto", "3", "0")["pool_min_size"] == 2


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (([2], "rack"), "ceph_crush_failure_domain must be auto or one of osd, host, got 'rack'"),
        (([2], "auto", 2, 3), r"ceph_pool_min_size \(3\) must not exceed the pools' size \(2, ceph_pool_size\)"),
        (([2], "auto", "two"), "ceph_pool_size must be an integer, got 'two'"),
        (("2",), "the OSD counts must be a list of integers, one per OSD node, got str"),
        (([2, -1],), "the OSD count of a node must be at least 0, got -1"),
    ],
)
def test_bad_inputs_name_the_variable(args, message):
    with pytest.raises(PlanError, match=message):
        ceph_replication(*args)
