"""Capture -> replay: a capture holds what discovery reads, and replaying it gives the same facts."""

from __future__ import annotations

import os
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest
import treebuilder
from ansible_collections.ciab.box.plugins.module_utils.disks import discover_disks
from ansible_collections.ciab.box.plugins.module_utils.nics import discover_nics
from ansible_collections.ciab.box.plugins.module_utils.sysfs import capture_tree

REPO = Path(__file__).resolve().parents[2]
FIXTURES = Path(__file__).parent / "fixtures"
MACHINES = sorted(p.name for p in FIXTURES.iterdir() if (p / "ciab-capture").is_dir())
ANSIBLE = Path(sys.executable).with_name("ansible")
TOP_LEVEL = {"sys", "proc", "run", "dev", "ciab-capture"}


def capture(root, tmp_path, name="box"):
    """Capture ``root``; returns (extracted root, facts discovery computed while capturing, archive)."""
    seen = {}

    def disks(src, runner):
        seen["disks"] = discover_disks(src, runner, include_loop=True)

    def nics(src, runner):
        seen["nics"] = discover_nics(src, runner)

    archive = tmp_path / f"{name}.tar.gz"
    capture_tree(str(root), str(archive), name, (disks, nics))
    out = tmp_path / "extracted"
    with tarfile.open(archive) as tar:
        tar.extractall(out, filter="data")
    return out / name, seen, archive


def replay(root):
    return {"disks": discover_disks(root, include_loop=True), "nics": discover_nics(root)}


def test_round_trip_of_this_machine(tmp_path):
    """Compared with the discovery that ran during the capture: devices may come and go between two runs."""
    root, live, _archive = capture("/", tmp_path, "this-machine")
    assert replay(root) == live
    assert live["nics"][0], "this machine has network interfaces"


@pytest.mark.parametrize("machine", MACHINES)
def test_capturing_a_capture_changes_nothing(machine, tmp_path):
    root, seen, _archive = capture(FIXTURES / machine, tmp_path, machine)
    assert seen == replay(FIXTURES / machine)
    assert replay(root) == seen


def test_edge_cases_survive_a_capture(tmp_path):
    full = treebuilder.build(treebuilder.edge_cases, tmp_path / "full")
    root, seen, _archive = capture(full, tmp_path)
    assert replay(root) == seen == replay(full)


def test_archive_holds_only_small_files_and_relative_links(tmp_path):
    _root, _seen, archive = capture(FIXTURES / "server-sata-bond-bridge", tmp_path, "srv")
    with tarfile.open(archive) as tar:
        members = tar.getmembers()
    assert {m.name.split("/")[1] for m in members if "/" in m.name} <= TOP_LEVEL
    assert all(m.name == "srv" or m.name.startswith("srv/") for m in members)
    assert all(m.isfile() or m.isdir() or m.issym() for m in members)
    assert all(not m.linkname.startswith("/") for m in members if m.issym())
    assert max(m.size for m in members if m.isfile()) < 64 * 1024
    names = {m.name for m in members}
    # Only what discovery reads: no statistics, no power management, no block device nodes.
    assert not any("/statistics/" in n or "/power/" in n for n in names)
    dev = [m for m in members if m.name.startswith("srv/dev/disk/by-id/")]
    assert dev
    assert all(m.issym() for m in dev)
    # Device nodes are never read: the by-id links point at empty placeholder files.
    nodes = [m for m in members if m.name.startswith("srv/dev/") and m.isfile()]
    assert sorted(m.name for m in nodes) == [
        "srv/dev/sda",
        "srv/dev/sda1",
        "srv/dev/sda2",
        "srv/dev/sda3",
        "srv/dev/sdb",
    ]
    assert all(m.size == 0 for m in nodes)
    assert "srv/ciab-capture/commands/ip_-j_addr_show.txt" in names
    assert "srv/proc/self/mountinfo" in names
    assert "srv/run/udev/data/b8:0" in names


def test_no_symlink_in_a_capture_dangles(tmp_path):
    root, _seen, _archive = capture(FIXTURES / "vm-firecracker-virtio", tmp_path, "vm")
    links = [p for p in root.rglob("*") if p.is_symlink()]
    assert links
    assert [str(p) for p in links if not p.exists()] == []


def test_failing_commands_are_captured_with_rc_and_stderr(tmp_path):
    _root, _seen, archive = capture(FIXTURES / "vm-firecracker-virtio", tmp_path, "vm")
    with tarfile.open(archive) as tar:
        rc = tar.extractfile("vm/ciab-capture/commands/blkid_-p_-o_export_-dev-vda.rc").read()
        err = tar.extractfile("vm/ciab-capture/commands/blkid_-p_-o_export_-dev-vda.err").read()
    assert rc == b"2\n"
    assert b"Operation not permitted" in err


def test_non_regular_files_are_never_read_or_captured(tmp_path):
    full = treebuilder.build(treebuilder.container_virtio, tmp_path / "full")
    size = full / "sys/devices/pci0000:00/0000:00:03.0/virtio2/block/vdb/size"
    size.unlink()
    os.mkfifo(size)  # would block forever if opened for a blocking read
    root, seen, archive = capture(full, tmp_path)
    assert next(d for d in seen["disks"] if d["name"] == "vdb")["size_bytes"] == 0
    with tarfile.open(archive) as tar:
        assert "box/sys/devices/pci0000:00/0000:00:03.0/virtio2/block/vdb/size" not in tar.getnames()
    assert replay(root) == seen


def test_module_writes_the_archive_and_honours_check_mode(tmp_path):
    dest = tmp_path / "cap.tar.gz"
    base = [str(ANSIBLE), "localhost", "-m", "ciab.box.hardware_capture"]
    args = f"dest={dest} name=refbox root={FIXTURES / 'refbox-epyc-2xnvme'}"
    env = {**os.environ, "ANSIBLE_LOAD_CALLBACK_PLUGINS": "0", "ANSIBLE_STDOUT_CALLBACK": "minimal"}
    check = subprocess.run(
        [*base, "-a", args, "--check"], capture_output=True, text=True, cwd=REPO, env=env, check=False
    )
    assert check.returncode == 0, check.stdout + check.stderr
    assert not dest.exists()
    done = subprocess.run([*base, "-a", args], capture_output=True, text=True, cwd=REPO, env=env, check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    with tarfile.open(dest) as tar:
        tar.extractall(tmp_path / "x", filter="data")
    assert replay(tmp_path / "x/refbox") == replay(FIXTURES / "refbox-epyc-2xnvme")
