"""Pending restarts: a running unit older than its newest configuration file (a run killed before its handler)."""

import os

from ansible_collections.ciab.box.plugins.module_utils.freshness import newest_input, parse_show, process_started

# `systemctl show -p ActiveState -p ExecMainStartTimestampMonotonic` as captured on the sandbox
SHOW_ACTIVE = "ExecMainStartTimestampMonotonic=5303361812\nActiveState=active\n"
SHOW_STOPPED = "ExecMainStartTimestampMonotonic=0\nActiveState=inactive\n"
SHOW_FAILED = "ExecMainStartTimestampMonotonic=5303361812\nActiveState=failed\n"


def _touch(path, mtime):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("x")
    os.utime(path, (mtime, mtime))
    return path


def test_newest_config_file_below_a_directory_wins(tmp_path):
    _touch(tmp_path / "etc/nova/nova.conf", 1000)
    newest = _touch(tmp_path / "etc/nova/rootwrap.d/compute.filters", 3000)
    _touch(tmp_path / "etc/nova/api-paste.ini", 2000)
    assert newest_input([str(tmp_path / "etc/nova")]) == (3000, str(newest))


def test_key_material_without_a_suffix_does_not_count(tmp_path):
    conf = _touch(tmp_path / "keystone/keystone.conf", 1000)
    _touch(tmp_path / "keystone/fernet-keys/0", 9000)
    assert newest_input([str(tmp_path / "keystone")]) == (1000, str(conf))


def test_a_named_file_counts_whatever_its_name_and_missing_paths_are_skipped(tmp_path):
    unit = _touch(tmp_path / "keystone.service.d-override", 5000)
    _touch(tmp_path / "keystone/keystone.conf", 1000)
    found = newest_input([str(tmp_path / "keystone"), str(unit), str(tmp_path / "absent")])
    assert found == (5000, str(unit))
    assert newest_input([str(tmp_path / "absent")]) is None


def test_process_start_in_wall_clock_time():
    # monotonic now 5400 s, the process started at monotonic 5303.361812 s: 96.638188 s before wall_now
    started = process_started(parse_show(SHOW_ACTIVE), wall_now=1_800_000_000.0, monotonic_now=5400.0)
    assert abs(started - (1_800_000_000.0 - 96.638188)) < 1e-6


def test_a_unit_that_does_not_run_has_no_start():
    assert process_started(parse_show(SHOW_STOPPED), 1_800_000_000.0, 5400.0) is None
    assert process_started(parse_show(SHOW_FAILED), 1_800_000_000.0, 5400.0) is None
    assert process_started(parse_show(""), 1_800_000_000.0, 5400.0) is None
