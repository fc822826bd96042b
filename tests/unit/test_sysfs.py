"""The root-prefixed reading layer and the command runner seam."""

from __future__ import annotations

import errno
import os
import tarfile

from ansible_collections.ciab.box.plugins.module_utils import sysfs
from ansible_collections.ciab.box.plugins.module_utils.sysfs import (
    CapturedRunner,
    CommandResult,
    Journal,
    LiveRunner,
    RecordingRunner,
    Root,
    command_slug,
    default_runner,
    write_capture,
)


def put(root, path, text):
    host = root / path.lstrip("/")
    host.parent.mkdir(parents=True, exist_ok=True)
    host.write_text(text)
    return host


def test_read_str_strips_and_falls_back_to_default(tmp_path):
    put(tmp_path, "/sys/a", "  value \n")
    put(tmp_path, "/sys/empty", "\n")
    src = Root(str(tmp_path))
    assert src.read_str("/sys/a") == "value"
    assert src.read_str("/sys/empty", "dflt") == "dflt"
    assert src.read_str("/sys/missing", "dflt") == "dflt"
    assert src.read_str("/sys") is None  # a directory is not an attribute


def test_read_int_decimal_hex_negative_and_garbage(tmp_path):
    for name, text in {"dec": "512\n", "hex": "0x1af4\n", "neg": "-1\n", "bad": "unknown\n"}.items():
        put(tmp_path, f"/sys/{name}", text)
    src = Root(str(tmp_path))
    assert src.read_int("/sys/dec") == 512
    assert src.read_int("/sys/hex") == 0x1AF4
    assert src.read_int("/sys/neg") == -1
    assert src.read_int("/sys/bad", 7) == 7
    assert src.read_int("/sys/missing") is None


def test_read_bool_numbers_and_module_parameters(tmp_path):
    for name, text in {"one": "1\n", "zero": "0\n", "yes": "Y\n", "no": "N\n", "bad": "maybe\n"}.items():
        put(tmp_path, f"/sys/{name}", text)
    src = Root(str(tmp_path))
    assert [src.read_bool(f"/sys/{n}") for n in ("one", "zero", "yes", "no")] == [True, False, True, False]
    assert src.read_bool("/sys/bad", False) is False
    assert src.read_bool("/sys/missing") is None


def test_read_error_einval_gives_the_default(tmp_path, monkeypatch):
    """carrier/speed of a down link fail with EINVAL on read, after a successful open."""
    put(tmp_path, "/sys/class/net/eth1/carrier", "1\n")

    def einval(_fd, _size):
        raise OSError(errno.EINVAL, "Invalid argument")

    monkeypatch.setattr(sysfs.os, "read", einval)
    assert Root(str(tmp_path)).read_bool("/sys/class/net/eth1/carrier") is None


def test_binary_and_non_utf8_attributes_are_skipped(tmp_path):
    (tmp_path / "vpd_pg80").write_bytes(b"\x00\x80\x00\x08SERIAL01")
    (tmp_path / "latin1").write_bytes(b"caf\xe9\n")
    src = Root(str(tmp_path))
    assert src.read_str("/vpd_pg80") is None
    assert src.read_str("/latin1", "d") == "d"


def test_never_reads_non_regular_files(tmp_path):
    """A FIFO (like a device node) is neither opened for reading in blocking mode nor read."""
    os.mkfifo(tmp_path / "fifo")
    assert Root(str(tmp_path)).read_text("/fifo") is None


def test_huge_files_are_skipped(tmp_path, monkeypatch):
    monkeypatch.setattr(sysfs, "MAX_READ_BYTES", 10)
    put(tmp_path, "/proc/big", "x" * 11)
    put(tmp_path, "/proc/small", "x" * 10)
    src = Root(str(tmp_path))
    assert src.read_text("/proc/big") is None
    assert src.read_text("/proc/small") == "x" * 10


def test_readlink_einval_and_enoent(tmp_path):
    put(tmp_path, "/sys/block/sda/size", "8\n")
    (tmp_path / "sys/block/sda/device").symlink_to("../../devices/host0")
    src = Root(str(tmp_path))
    assert src.readlink("/sys/block/sda/device") == "../../devices/host0"
    assert src.link_name("/sys/block/sda/device") == "host0"
    assert src.readlink("/sys/block/sda/size", "d") == "d"  # EINVAL: not a link
    assert src.readlink("/sys/block/sda/missing") is None  # ENOENT
    assert src.islink("/sys/block/sda/size") is False


def test_resolve_stays_inside_the_root(tmp_path):
    put(tmp_path, "/sys/devices/pci0000:00/0000:00:02.0/virtio1/block/vda/size", "1\n")
    (tmp_path / "sys/block").mkdir()
    (tmp_path / "sys/block/vda").symlink_to("../devices/pci0000:00/0000:00:02.0/virtio1/block/vda")
    (tmp_path / "sys/abs").symlink_to("/sys/block")  # absolute: must resolve under the root, not the host
    (tmp_path / "sys/loop_a").symlink_to("loop_b")
    (tmp_path / "sys/loop_b").symlink_to("loop_a")
    src = Root(str(tmp_path))
    assert src.resolve("/sys/block/vda") == "/sys/devices/pci0000:00/0000:00:02.0/virtio1/block/vda"
    assert src.resolve("/sys/abs/vda/size") == "/sys/devices/pci0000:00/0000:00:02.0/virtio1/block/vda/size"
    assert src.resolve("/sys/block/vda/../../missing/x") == "/sys/devices/pci0000:00/0000:00:02.0/virtio1/missing/x"
    assert src.resolve("/sys/loop_a/x") in ("/sys/loop_a/x", "/sys/loop_b/x")  # ELOOP: a path, no exception
    assert src.resolve("/proc/self/mountinfo") == "/proc/self/mountinfo"


def test_listdir_sorted_and_missing(tmp_path):
    for name in ("b", "a", "c"):
        put(tmp_path, f"/sys/class/net/{name}", "")
    src = Root(str(tmp_path))
    assert src.listdir("/sys/class/net") == ["a", "b", "c"]
    assert src.listdir("/sys/class/nvme") == []


def test_udev_database_entry(tmp_path):
    put(
        tmp_path,
        "/run/udev/data/b259:0",
        "S:disk/by-id/nvme-eui.0025\nS:disk/by-path/pci-0000:41:00.0-nvme-1\nW:1\nI:123\n"
        "E:ID_MODEL=SAMSUNG MZQL2960HCJR-00A07\nE:ID_EMPTY=\nE:ID_WWN=eui.0025\nG:systemd\n",
    )
    src = Root(str(tmp_path))
    entry = src.udev("259:0")
    assert entry.links == ["disk/by-id/nvme-eui.0025", "disk/by-path/pci-0000:41:00.0-nvme-1"]
    assert entry.props == {"ID_MODEL": "SAMSUNG MZQL2960HCJR-00A07", "ID_EMPTY": "", "ID_WWN": "eui.0025"}
    assert src.udev("8:0") is None
    assert src.udev(None) is None


def test_mounts_from_mountinfo_with_escapes_and_bind_mounts(tmp_path):
    put(
        tmp_path,
        "/proc/self/mountinfo",
        "22 1 0:21 / /proc rw - proc proc rw\n"
        "27 1 254:0 / / rw,relatime - ext4 /dev/vda rw\n"
        "42 27 254:0 /var/lib/docker /var/lib/docker rw,relatime shared:1 - ext4 /dev/vda rw\n"
        "43 27 8:1 / /media/alex/STICK\\04032 rw - vfat /dev/sda1 rw\n",
    )
    mounts = Root(str(tmp_path)).mounts()
    assert mounts["254:0"] == ["/", "/var/lib/docker"]
    assert mounts["8:1"] == ["/media/alex/STICK 32"]


def test_mounts_fallback_to_proc_mounts(tmp_path):
    put(
        tmp_path,
        "/proc/mounts",
        "/dev/sda2 / ext4 rw 0 0\n/dev/mapper/vg0-home /home xfs rw 0 0\nproc /proc proc rw 0 0\n",
    )
    put(tmp_path, "/sys/class/block/sda2/dev", "8:2\n")
    put(tmp_path, "/sys/block/dm-3/dm/name", "vg0-home\n")
    put(tmp_path, "/sys/block/dm-3/dev", "253:3\n")
    assert Root(str(tmp_path)).mounts() == {"8:2": ["/"], "253:3": ["/home"]}


def test_swaps_partitions_only(tmp_path):
    put(
        tmp_path,
        "/proc/swaps",
        "Filename\tType\tSize\tUsed\tPriority\n/dev/dm-1  partition\t8388604\t0\t-2\n/swapfile file\t1024\t0\t-3\n",
    )
    put(tmp_path, "/sys/class/block/dm-1/dev", "253:1\n")
    assert Root(str(tmp_path)).swaps() == {"253:1"}


def test_missing_proc_files_give_empty_tables(tmp_path):
    src = Root(str(tmp_path))
    assert src.mounts() == {}
    assert src.swaps() == set()


def test_command_slug():
    assert command_slug(["blkid", "-p", "-o", "export", "/dev/nvme0n1"]) == "blkid_-p_-o_export_-dev-nvme0n1"
    assert command_slug(["ip", "-j", "addr", "show"]) == "ip_-j_addr_show"


def test_live_runner_missing_binary_is_rc_127():
    result = LiveRunner().run(["ciab-no-such-binary", "--help"])
    assert result == CommandResult(127, "", "ciab-no-such-binary: command not found")


def test_live_runner_failing_and_succeeding_commands():
    assert LiveRunner().run(["false"]).rc == 1
    result = LiveRunner().run(["sh", "-c", "echo out; echo err >&2; exit 3"])
    assert result == CommandResult(3, "out\n", "err\n")


def test_live_runner_uses_the_given_run_command():
    calls = []

    def run_command(argv):
        calls.append(argv)
        return 0, "DEVNAME=/dev/sda\n", ""

    result = LiveRunner(run_command).run(["sh", "-c", "true"])
    assert result.rc == 0
    assert calls[0][0].endswith("/sh")  # resolved to an absolute path before the call
    assert LiveRunner(run_command).run(["ciab-no-such-binary"]).rc == 127
    assert len(calls) == 1  # a missing binary never reaches run_command


def test_captured_runner_replays_stdout_rc_and_stderr(tmp_path):
    commands = tmp_path / "ciab-capture/commands"
    commands.mkdir(parents=True)
    (commands / "ip_-j_addr_show.txt").write_text("[]\n")
    (commands / "blkid_-p_-o_export_-dev-vda.txt").write_text("")
    (commands / "blkid_-p_-o_export_-dev-vda.rc").write_text("2\n")
    (commands / "blkid_-p_-o_export_-dev-vda.err").write_text("blkid: error: /dev/vda: Operation not permitted\n")
    runner = CapturedRunner(str(tmp_path))
    assert runner.run(["ip", "-j", "addr", "show"]) == CommandResult(0, "[]\n", "")
    failed = runner.run(["blkid", "-p", "-o", "export", "/dev/vda"])
    assert (failed.rc, failed.stderr) == (2, "blkid: error: /dev/vda: Operation not permitted\n")
    missing = runner.run(["blkid", "-p", "-o", "export", "/dev/vdb"])
    assert missing.rc == 127
    assert "blkid_-p_-o_export_-dev-vdb.txt" in missing.stderr


def test_default_runner_is_live_only_for_the_real_root(tmp_path):
    assert isinstance(default_runner("/"), LiveRunner)
    assert isinstance(default_runner(str(tmp_path)), CapturedRunner)


def test_journal_and_archive_keep_links_as_links(tmp_path):
    put(tmp_path, "/sys/devices/virtual/net/lo/mtu", "65536\n")
    (tmp_path / "sys/class/net").mkdir(parents=True)
    (tmp_path / "sys/class/net/lo").symlink_to("../../devices/virtual/net/lo")
    journal = Journal()
    src = Root(str(tmp_path), journal)
    assert src.read_int("/sys/class/net/lo/mtu") == 65536
    runner = RecordingRunner(CapturedRunner(str(tmp_path)), journal)
    assert runner.run(["ip", "-j", "addr", "show"]).rc == 127
    assert journal.files == {"/sys/devices/virtual/net/lo/mtu": b"65536\n"}
    assert journal.links == {"/sys/class/net/lo": "../../devices/virtual/net/lo"}
    archive = tmp_path / "out.tar.gz"
    write_capture(journal, str(archive), "box")
    with tarfile.open(archive) as tar:
        members = {m.name: m for m in tar.getmembers()}
    assert members["box/sys/class/net/lo"].issym()
    assert members["box/sys/class/net/lo"].linkname == "../../devices/virtual/net/lo"
    assert members["box/sys/devices/virtual/net/lo/mtu"].isfile()
    assert members["box/ciab-capture/commands/ip_-j_addr_show.rc"].isfile()
    assert "box/ciab-capture/meta.json" in members
