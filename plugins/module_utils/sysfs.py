# Copyright: Cloud-in-a-Box developers
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0)
"""Root-prefixed reading of sysfs, udev and procfs, the command runner seam and the capture format.

Every path given to :class:`Root` is the absolute path as seen on the node (``/sys/block/sda/size``); the
root prefix (default ``/``) is put in front, so the same discovery code reads a live system or a captured
tree. Nothing here raises for a missing or unreadable attribute: callers get their default back.

Capture format (what :func:`write_capture` writes and :class:`CapturedRunner` reads), one directory per
machine: ``sys/``, ``run/udev/data/``, ``dev/disk/by-id/`` and ``proc/`` hold copies of exactly what
discovery read (regular files as files, symlinks as symlinks; a link target below which nothing was read,
such as a block device node, is an empty placeholder file), and ``ciab-capture/commands/<slug>.txt``
holds the stdout of each command; ``<slug>.rc`` and ``<slug>.err`` are present when the exit code was not
0 or stderr was not empty. The slug is argv joined by ``_`` with ``/`` replaced by ``-``.

Node side: Python standard library only.
"""

from __future__ import annotations

import errno
import io
import json
import os
import re
import shutil
import stat
import subprocess
import tarfile
import time
from collections.abc import Callable
from typing import NamedTuple, Protocol

# sysfs attributes are at most one page; /proc/self/mountinfo on a busy Kubernetes node can be large.
MAX_READ_BYTES = 4 << 20
SECTOR = 512
CAPTURE_DIR = "ciab-capture"
COMMANDS_DIR = CAPTURE_DIR + "/commands"
# Read by every capture whether or not discovery needed them (fallbacks, and for the reader of a capture).
CAPTURE_ALWAYS = ("/proc/self/mountinfo", "/proc/mounts", "/proc/swaps", "/proc/net/route")
# Where binaries live on the node even when PATH is minimal (cron, sudo secure_path, Ansible's become).
SBIN_DIRS = ("/usr/local/sbin", "/usr/local/bin", "/usr/sbin", "/usr/bin", "/sbin", "/bin")
_OCTAL_ESCAPE = re.compile(r"\\([0-7]{3})")
_PCI_ADDRESS = re.compile(r"^[0-9a-f]{4}:[0-9a-f]{2}:[0-9a-f]{2}\.[0-7]$")


class UdevEntry(NamedTuple):
    """One device in the udev database: E: properties and S: symlinks (relative to /dev)."""

    props: dict[str, str]
    links: list[str]


class CommandResult(NamedTuple):
    rc: int
    stdout: str
    stderr: str


class Runner(Protocol):
    """Anything that runs an argv and returns a :class:`CommandResult` (live, captured, recording)."""

    def run(self, argv: list[str]) -> CommandResult: ...


class Journal:
    """What a :class:`Root` read and what a :class:`RecordingRunner` ran, for :func:`write_capture`.

    Paths are canonical (symlinks resolved) node paths, so a replay resolves the same way.
    """

    def __init__(self) -> None:
        self.files: dict[str, bytes] = {}
        self.links: dict[str, str] = {}
        self.dirs: set[str] = set()
        self.commands: dict[str, CommandResult] = {}


class Root:
    """Read-only view of a node's /sys, /run/udev, /dev/disk and /proc under a root prefix."""

    def __init__(self, root: str = "/", journal: Journal | None = None) -> None:
        self.root = os.path.abspath(root)
        self.journal = journal
        self._resolved: dict[str, str] = {}

    def join(self, path: str) -> str:
        """Host path of node path ``path`` (which must be absolute)."""
        return path if self.root == "/" else self.root + path

    # -- plain reads -----------------------------------------------------------------------------
    def read_text(self, path: str) -> str | None:
        """Whole content of a small regular text file, or None (missing, unreadable, EINVAL, binary, huge)."""
        data = _read_regular(self.join(path))
        try:
            text = None if data is None else data.decode("utf-8")
        except UnicodeDecodeError:
            return None
        if text is None or "\0" in text:
            return None
        if self.journal is not None:
            self.journal.files[self.resolve(path)] = data
        return text

    def read_str(self, path: str, default: str | None = None) -> str | None:
        """Stripped content of an attribute; ``default`` when missing, unreadable or empty."""
        text = self.read_text(path)
        if text is None:
            return default
        text = text.strip()
        return text if text else default

    def read_int(self, path: str, default: int | None = None) -> int | None:
        """Integer attribute (decimal, or 0x-prefixed hex); ``default`` when missing or not a number."""
        text = self.read_str(path)
        if text is None:
            return default
        try:
            return int(text)
        except ValueError:
            pass
        try:
            return int(text, 0)
        except ValueError:
            return default

    def read_bool(self, path: str, default: bool | None = None) -> bool | None:
        """Boolean attribute: 0/1 numbers or Y/N (module parameters); ``default`` otherwise."""
        text = self.read_str(path)
        if text is None:
            return default
        if text in ("Y", "y"):
            return True
        if text in ("N", "n"):
            return False
        value = self.read_int(path)
        return default if value is None else value != 0

    # -- links and directories -------------------------------------------------------------------
    def readlink(self, path: str, default: str | None = None) -> str | None:
        """Target of a symlink as stored; ``default`` when not a link (EINVAL) or missing (ENOENT)."""
        try:
            target = os.readlink(self.join(path))
        except OSError:
            return default
        if self.journal is not None:
            parent, name = os.path.split(path)
            self.journal.links[os.path.join(self.resolve(parent), name)] = target
        return target

    def link_name(self, path: str) -> str | None:
        """Name of what a symlink points to (a driver, subsystem or controller), or None when not a link.

        Resolved, not just the last component of the target: ``..`` is a valid target.
        """
        if self.readlink(path) is None:
            return None
        return os.path.basename(self.resolve(path)) or None

    def resolve(self, path: str) -> str:
        """Canonical node path of ``path``, following symlinks inside the root (never escaping it).

        Components that do not exist are kept as they are, like ``os.path.realpath``. Results are cached
        per :class:`Root`: sysfs paths share long prefixes.
        """
        return self._canonical(_normpath(path), 0)

    def _canonical(self, path: str, hops: int) -> str:
        cached = self._resolved.get(path)
        if cached is not None:
            return cached
        if path == "/" or hops > 40:  # hops > 40: ELOOP, keep the literal path
            return path
        parent, name = path.rsplit("/", 1)
        base = self._canonical(parent or "/", hops)
        if name == "..":
            result = base.rsplit("/", 1)[0] or "/"
        elif name == ".":
            result = base
        else:
            current = base.rstrip("/") + "/" + name
            target = None
            # /proc/self is a per-process link: keep it literal so a capture stays readable.
            if current != "/proc/self":
                try:
                    target = os.readlink(self.join(current))
                except OSError:
                    target = None
            if target is None:
                result = current
            else:
                if self.journal is not None:
                    self.journal.links[current] = target
                follow = target if target.startswith("/") else base.rstrip("/") + "/" + target
                result = self._canonical(_normpath(follow), hops + 1)
        self._resolved[path] = result
        return result

    def listdir(self, path: str) -> list[str]:
        """Sorted entries of a directory; [] when missing or unreadable."""
        try:
            names = sorted(os.listdir(self.join(path)))
        except OSError:
            return []
        if self.journal is not None:
            canonical = self.resolve(path)
            self.journal.dirs.add(canonical)
            # Symlinks in a listing are facts (holders, bridge ports, by-id); subdirectories and files are
            # recorded when something below them is read.
            for name in names:
                host = os.path.join(self.join(canonical), name)
                try:
                    if stat.S_ISLNK(os.lstat(host).st_mode):
                        self.journal.links[os.path.join(canonical, name)] = os.readlink(host)
                except OSError:
                    continue
        return names

    def islink(self, path: str) -> bool:
        return self.readlink(path) is not None

    # -- udev and procfs -------------------------------------------------------------------------
    def udev(self, majmin: str | None) -> UdevEntry | None:
        """udev database entry of block device ``maj:min``; None when udev has no record of it."""
        if not majmin:
            return None
        text = self.read_text(f"/run/udev/data/b{majmin}")
        if text is None:
            return None
        props: dict[str, str] = {}
        links: list[str] = []
        for line in text.splitlines():
            if line.startswith("E:"):
                key, _, value = line[2:].partition("=")
                props[key] = value
            elif line.startswith("S:"):
                links.append(line[2:])
        return UdevEntry(props, links)

    def majmin_of(self, source: str) -> str | None:
        """``maj:min`` of a /dev path (symlinks such as /dev/mapper/x or /dev/disk/by-uuid/y resolved)."""
        if not source.startswith("/dev/"):
            return None
        name = os.path.basename(self.resolve(source))
        majmin = self.read_str(f"/sys/class/block/{name}/dev")
        if majmin is None and source.startswith("/dev/mapper/"):
            wanted = source[len("/dev/mapper/") :]
            for dm in self.listdir("/sys/block"):
                if dm.startswith("dm-") and self.read_str(f"/sys/block/{dm}/dm/name") == wanted:
                    return self.read_str(f"/sys/block/{dm}/dev")
        return majmin

    def mounts(self) -> dict[str, list[str]]:
        """Mount points per ``maj:min`` from /proc/self/mountinfo (fallback /proc/mounts), shortest first."""
        table: dict[str, set[str]] = {}
        text = self.read_text("/proc/self/mountinfo")
        if text is not None:
            for line in text.splitlines():
                fields = line.split(" ")
                if len(fields) < 5:
                    continue
                table.setdefault(fields[2], set()).add(unescape(fields[4]))
        else:
            for line in (self.read_text("/proc/mounts") or "").splitlines():
                fields = line.split(" ")
                majmin = self.majmin_of(unescape(fields[0])) if len(fields) > 1 else None
                if majmin:
                    table.setdefault(majmin, set()).add(unescape(fields[1]))
        return {key: sorted(value, key=lambda m: (m.count("/") - (m == "/"), m)) for key, value in table.items()}

    def foreign_mounts(self) -> dict[str, list[str]]:
        """Mount points per ``maj:min`` in mount namespaces other than ours (containers, ``unshare -m``).

        One /proc/<pid>/mountinfo is read per namespace; a process whose namespace cannot be read (it exited,
        or we are not root) is skipped, and the exclusive-open check of discovery still sees such a mount.
        """
        own = self.readlink("/proc/self/ns/mnt")
        seen = {own} if own else set()
        table: dict[str, set[str]] = {}
        try:
            # Not through listdir: its journal would record /proc/self as a symlink, and a capture keeps
            # /proc/self as a directory. A replay lists the pids that were read.
            pids = sorted((p for p in os.listdir(self.join("/proc")) if p.isdigit()), key=int)
        except OSError:
            pids = []
        for pid in pids:
            namespace = self.readlink(f"/proc/{pid}/ns/mnt")
            if namespace is None or namespace in seen:
                continue
            seen.add(namespace)
            for line in (self.read_text(f"/proc/{pid}/mountinfo") or "").splitlines():
                fields = line.split(" ")
                if len(fields) >= 5:
                    where = f"{unescape(fields[4])} in the mount namespace of pid {pid}"
                    table.setdefault(fields[2], set()).add(where)
        return {key: sorted(value) for key, value in table.items()}

    def swaps(self) -> set[str]:
        """``maj:min`` of every active swap partition or device (swap files are ignored)."""
        active = set()
        for line in (self.read_text("/proc/swaps") or "").splitlines()[1:]:
            fields = line.split()
            if len(fields) >= 2 and fields[1] == "partition":
                majmin = self.majmin_of(unescape(fields[0]))
                if majmin:
                    active.add(majmin)
        return active


def _normpath(path: str) -> str:
    """Absolute path without empty components (``..`` and ``.`` are left for resolution)."""
    return "/" + "/".join(p for p in path.split("/") if p)


def _read_regular(host_path: str) -> bytes | None:
    """Bytes of a regular file up to MAX_READ_BYTES; None for anything else or on any error."""
    try:
        fd = os.open(host_path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    except OSError:
        return None
    try:
        # Never read device nodes or FIFOs: sysfs/procfs attributes are regular files.
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            return None
        chunks = []
        size = 0
        chunk = os.read(fd, 65536)
        while chunk:
            chunks.append(chunk)
            size += len(chunk)
            if size > MAX_READ_BYTES:
                return None
            chunk = os.read(fd, 65536)
        return b"".join(chunks)
    except OSError:  # EINVAL (carrier/speed of a down link), EACCES, EIO ...
        return None
    finally:
        os.close(fd)


def unescape(text: str) -> str:
    r"""Undo the octal escapes of /proc mount tables (``\040`` is a space)."""
    return _OCTAL_ESCAPE.sub(lambda m: chr(int(m.group(1), 8)), text)


def pci_parent(path: str) -> str | None:
    """Nearest PCI device directory in a canonical /sys/devices path (its name is the PCI address)."""
    parts = path.split("/")
    for index in range(len(parts) - 1, 0, -1):
        if _PCI_ADDRESS.match(parts[index]):
            return "/".join(parts[: index + 1])
    return None


def as_root(root: str | Root) -> Root:
    return root if isinstance(root, Root) else Root(root)


# -- block device probe seam ---------------------------------------------------------------------
class BlockProbe(Protocol):
    """Opens block devices: exclusively (is anyone else using it?) and to read samples of its content."""

    def exclusive(self, path: str) -> OSError | None:
        """None when ``path`` could be opened exclusively (and was closed again), else the error."""
        ...

    def read(self, path: str, offset: int, length: int) -> bytes | OSError:
        """``length`` bytes at ``offset`` (fewer at the end of the device), or the error."""
        ...


class LiveBlockProbe:
    """Opens this host's device nodes read-only; never writes.

    An exclusive open (``O_EXCL`` on a block device) fails with EBUSY while the kernel has the device claimed:
    mounted in any mount namespace, active swap, held by device-mapper or md, or opened exclusively by a program
    (mkfs, another ceph-volume). It is closed at once.
    """

    def exclusive(self, path: str) -> OSError | None:
        try:
            fd = os.open(path, os.O_RDONLY | os.O_EXCL | os.O_NONBLOCK | os.O_CLOEXEC)
        except OSError as exc:
            return exc
        os.close(fd)
        return None

    def read(self, path: str, offset: int, length: int) -> bytes | OSError:
        try:
            fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
        except OSError as exc:
            return exc
        try:
            if not stat.S_ISBLK(os.fstat(fd).st_mode):
                return OSError(errno.ENOTBLK, os.strerror(errno.ENOTBLK), path)
            return os.pread(fd, length, offset)
        except OSError as exc:
            return exc
        finally:
            os.close(fd)


def default_probe(root: str) -> LiveBlockProbe | None:
    """The live probe for the real root; None (no device is opened) for a captured tree, which holds no contents."""
    return LiveBlockProbe() if os.path.realpath(root) == "/" else None


# -- command runner seam -------------------------------------------------------------------------
def command_slug(argv: list[str]) -> str:
    """File name stem of a captured command: argv joined by '_' with '/' replaced by '-'."""
    return "_".join(argv).replace("/", "-")


class LiveRunner:
    """Runs binaries on this host; a missing binary is rc 127, never an exception.

    ``run_command`` is an optional callable with the signature of ``AnsibleModule.run_command``
    (argv list in, ``(rc, stdout, stderr)`` out); without it ``subprocess`` is used.
    """

    def __init__(self, run_command: Callable | None = None, timeout: int = 120) -> None:
        self._run_command = run_command
        self._timeout = timeout

    def run(self, argv: list[str]) -> CommandResult:
        search = os.pathsep.join([*os.environ.get("PATH", "").split(os.pathsep), *SBIN_DIRS])
        exe = shutil.which(argv[0], path=search)
        if exe is None:
            return CommandResult(127, "", f"{argv[0]}: command not found")
        command = [exe, *argv[1:]]
        if self._run_command is not None:
            rc, out, err = self._run_command(command)
            return CommandResult(rc, out, err)
        try:
            done = subprocess.run(
                command,
                capture_output=True,
                text=True,
                errors="replace",
                env={**os.environ, "LC_ALL": "C"},
                timeout=self._timeout,
                check=False,
            )
        except subprocess.TimeoutExpired:
            return CommandResult(124, "", f"{argv[0]}: timed out after {self._timeout}s")
        except OSError as exc:
            return CommandResult(126, "", f"{argv[0]}: {exc.strerror}")
        return CommandResult(done.returncode, done.stdout, done.stderr)


class CapturedRunner:
    """Replays command outputs stored in a capture tree; a command never captured is rc 127."""

    def __init__(self, root: str) -> None:
        self._dir = os.path.join(os.path.abspath(root), COMMANDS_DIR)

    def run(self, argv: list[str]) -> CommandResult:
        base = os.path.join(self._dir, command_slug(argv))
        stdout = _read_file(base + ".txt")
        if stdout is None:
            return CommandResult(127, "", f"{argv[0]}: not captured ({command_slug(argv)}.txt missing)")
        rc_text = (_read_file(base + ".rc") or "0").strip()
        rc = int(rc_text) if rc_text.lstrip("-").isdigit() else 1
        return CommandResult(rc, stdout, _read_file(base + ".err") or "")


class RecordingRunner:
    """Wraps another runner and notes every result in a :class:`Journal` (for a capture)."""

    def __init__(self, inner: Runner, journal: Journal) -> None:
        self._inner = inner
        self._journal = journal

    def run(self, argv: list[str]) -> CommandResult:
        result = self._inner.run(argv)
        self._journal.commands[command_slug(argv)] = result
        return result


def default_runner(root: str, run_command: Callable | None = None) -> LiveRunner | CapturedRunner:
    """Live commands for the real root, captured outputs for any other root."""
    if os.path.realpath(root) == "/":
        return LiveRunner(run_command)
    return CapturedRunner(root)


def _read_file(path: str) -> str | None:
    try:
        with open(path, encoding="utf-8", errors="replace") as handle:
            return handle.read()
    except OSError:
        return None


# -- capture archive ------------------------------------------------------------------------------
def capture_tree(
    root: str,
    dest: str,
    name: str,
    discoverers: tuple[Callable[[Root, Runner], object], ...],
    *,
    run_command: Callable | None = None,
    meta: dict | None = None,
) -> int:
    """Run ``discoverers`` against ``root`` while journalling every read and command, then write the archive.

    The capture therefore holds exactly what discovery reads, and replaying it (extract, then use
    ``<dir>/<name>`` as root) gives the same facts. Returns the number of archive members.
    """
    journal = Journal()
    src = Root(root, journal)
    runner = RecordingRunner(default_runner(root, run_command), journal)
    for discover in discoverers:
        discover(src, runner)
    for path in CAPTURE_ALWAYS:
        src.read_text(path)
    return write_capture(journal, dest, name, meta)


def _placeholders(journal: Journal) -> set[str]:
    """Targets of recorded symlinks below which nothing was read (device nodes, drivers, skipped devices).

    They become empty files in the capture so that no symlink dangles (git, ansible-galaxy and cp -r all
    dislike dangling links); discovery reads nothing there, so replay is unchanged.
    """
    present: set[str] = set()
    for recorded in (*journal.files, *journal.links, *journal.dirs):
        path = recorded
        while path != "/" and path not in present:
            present.add(path)
            path = path.rsplit("/", 1)[0] or "/"
    missing = {_follow(journal, path) for path in journal.links} - present
    # A target that is the parent of another one becomes a directory instead.
    return {path for path in missing if not any(other.startswith(path + "/") for other in missing)}


def _follow(journal: Journal, path: str) -> str:
    """Canonical path of ``path`` using only the symlinks recorded in ``journal``."""
    pending = path.split("/")
    done: list[str] = []
    hops = 0
    while pending and hops <= 40:
        part = pending.pop(0)
        if part in ("", "."):
            continue
        if part == "..":
            if done:
                done.pop()
            continue
        target = journal.links.get("/" + "/".join([*done, part]))
        if target is None:
            done.append(part)
            continue
        hops += 1
        if target.startswith("/"):
            done = []
        pending[:0] = target.split("/")
    return "/" + "/".join(done)


def write_capture(journal: Journal, dest: str, name: str, meta: dict | None = None) -> int:
    """Write the journal as ``dest`` (.tar.gz) with everything below the directory ``name``.

    Returns the number of archive members. Extract it anywhere and pass ``<dir>/<name>`` as root.
    """
    now = time.time()
    members: list[tuple[tarfile.TarInfo, bytes | None]] = []

    def add(path: str, kind: bytes, data: bytes | None = None, target: str = "") -> None:
        info = tarfile.TarInfo(name + path)
        info.mtime = int(now)
        info.type = kind
        if kind == tarfile.DIRTYPE:
            info.mode = 0o755
        elif kind == tarfile.SYMTYPE:
            info.mode = 0o777
            info.linkname = target
        else:
            info.mode = 0o644
            info.size = len(data or b"")
        members.append((info, data))

    add("", tarfile.DIRTYPE)
    for path in sorted(journal.dirs):
        if path not in journal.links and path != "/":
            add(path, tarfile.DIRTYPE)
    for path, target in sorted(journal.links.items()):
        add(path, tarfile.SYMTYPE, target=target)
    for path, data in sorted(journal.files.items()):
        if path not in journal.links:
            add(path, tarfile.REGTYPE, data)
    for path in sorted(_placeholders(journal)):
        add(path, tarfile.REGTYPE, b"")
    commands = "/" + COMMANDS_DIR
    add("/" + CAPTURE_DIR, tarfile.DIRTYPE)
    add(commands, tarfile.DIRTYPE)
    for slug, result in sorted(journal.commands.items()):
        add(f"{commands}/{slug}.txt", tarfile.REGTYPE, result.stdout.encode())
        if result.rc != 0:
            add(f"{commands}/{slug}.rc", tarfile.REGTYPE, f"{result.rc}\n".encode())
        if result.stderr:
            add(f"{commands}/{slug}.err", tarfile.REGTYPE, result.stderr.encode())
    body = json.dumps({"format": 1, "name": name, **(meta or {})}, indent=2, sort_keys=True) + "\n"
    add(f"/{CAPTURE_DIR}/meta.json", tarfile.REGTYPE, body.encode())
    # Directories first so extraction never meets a file below a symlinked parent.
    members.sort(key=lambda m: (m[0].type != tarfile.DIRTYPE, m[0].name))
    with tarfile.open(dest, "w:gz") as archive:
        for info, data in members:
            archive.addfile(info, io.BytesIO(data) if info.type == tarfile.REGTYPE else None)
    return len(members)
