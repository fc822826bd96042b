"""Boot a Debian 13 QEMU guest (TCG) with two emulated NVMe drives and two NICs, and drive it with Ansible.

The guest comes from scripts/build-guest (the systemd test image plus a kernel and sshd, rootfs cached under
/var/cache/ciab/guest, fresh disk image and ssh key per run). Every disk the guest sees is a plain file in the run's
temp dir: no block device of this host is touched.
Run with ``.venv/bin/pytest -q tests/e2e`` (as root; ``scripts/setup`` installs QEMU, Docker and debootstrap).
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
VENV_BIN = REPO / ".venv" / "bin"
GIB = 1024**3
NVME_DRIVES = (("CIABNVME0001", 20 * GIB), ("CIABNVME0002", 30 * GIB))
DATA_NET = "10.0.3.0/24"
GUEST_MEMORY_MIB = 3072
SSH_TIMEOUT_S = int(os.environ.get("CIAB_E2E_SSH_TIMEOUT", "240"))  # boot to ssh: ~35 s idle, ~90 s on a busy host
ANSIBLE_TIMEOUT_S = 600
HOST = "ciab-e2e-guest"
REQUIRED_TOOLS = ("qemu-system-x86_64", "docker", "debootstrap", "mkfs.ext4", "ssh", "ssh-keygen")

# A 3 GiB test guest cannot hold the reference memory budget (2 OSDs need >= 2 x 896 MiB): plan with a small
# policy. The NVMe drives are 20/30 GiB, below the default 100 GiB minimum of an OSD.
PLAN_VARS = {
    "ciab_osd_policy": {"min_size_bytes": "10G"},
    "ciab_memory_policy": {
        "host_os_mib": 512,
        "ceph_mon_mgr_mib": 0,
        "openstack_mib": 0,
        "kubernetes": False,
        "min_guest_mib": 0,
    },
}

TIMINGS: dict[str, float] = {}


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "e2e: end-to-end test that boots a QEMU guest (minutes; needs scripts/setup)")


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if TIMINGS:
        terminalreporter.section("e2e timings")
        for name, seconds in TIMINGS.items():
            terminalreporter.write_line(f"{name}: {seconds:.1f} s")


@dataclass
class Guest:
    workdir: Path
    port: int
    key: Path
    serial_log: Path
    inventory: Path
    env: dict[str, str] = field(default_factory=dict)
    nvme_drives: tuple[tuple[str, int], ...] = NVME_DRIVES
    data_net: str = DATA_NET

    def serial_tail(self, lines: int = 60) -> str:
        try:
            text = self.serial_log.read_text(errors="replace")
        except OSError:
            return "(no serial log)"
        return "\n".join(text.splitlines()[-lines:])

    def ansible_playbook(self, playbook: Path, *args: str) -> subprocess.CompletedProcess[str]:
        """Run a playbook against the guest; fail the test with its output and the console tail on error."""
        cmd = [str(VENV_BIN / "ansible-playbook"), "-i", str(self.inventory), str(playbook), *args]
        start = time.monotonic()
        proc = subprocess.run(
            cmd, cwd=REPO, env=self.env, capture_output=True, text=True, timeout=ANSIBLE_TIMEOUT_S, check=False
        )
        TIMINGS[f"ansible-playbook {playbook.name}"] = time.monotonic() - start
        if proc.returncode != 0:
            pytest.fail(
                f"{' '.join(cmd)} failed (rc={proc.returncode})\n--- stdout\n{proc.stdout[-8000:]}\n"
                f"--- stderr\n{proc.stderr[-4000:]}\n--- guest console (tail)\n{self.serial_tail(30)}",
                pytrace=False,
            )
        return proc


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _build_guest(workdir: Path) -> dict[str, str]:
    start = time.monotonic()
    proc = subprocess.run(
        [str(REPO / "scripts" / "build-guest"), str(workdir)], capture_output=True, text=True, check=False
    )
    TIMINGS["scripts/build-guest"] = time.monotonic() - start
    if proc.returncode != 0:
        pytest.fail(f"scripts/build-guest failed (rc={proc.returncode}):\n{proc.stderr[-6000:]}", pytrace=False)
    return dict(line.split("=", 1) for line in proc.stdout.splitlines() if "=" in line)


def _qemu_argv(paths: dict[str, str], nvme: list[Path], port: int, serial_log: Path) -> list[str]:
    argv = [
        "qemu-system-x86_64",
        "-nodefaults",  # no VGA, CD-ROM or floppy drive: less for the emulated CPU to probe
        "-accel", "tcg",
        "-m", str(GUEST_MEMORY_MIB),
        "-smp", "2",
        "-nographic", "-monitor", "none", "-serial", f"file:{serial_log}",
        "-no-reboot",
        "-kernel", paths["GUEST_KERNEL"],
        "-initrd", paths["GUEST_INITRD"],
        "-append", "root=/dev/vda rw console=ttyS0 net.ifnames=1 panic=-1",
        "-drive", f"file={paths['GUEST_ROOT_DISK']},format=raw,if=virtio",
    ]  # fmt: skip
    for index, ((serial, _size), image) in enumerate(zip(NVME_DRIVES, nvme, strict=True)):
        argv += [
            "-drive", f"file={image},format=raw,if=none,id=nvme{index}",
            "-device", f"nvme,drive=nvme{index},serial={serial}",
        ]  # fmt: skip
    # restrict=on: the guest reaches nothing outside QEMU (DHCP still answers, the ssh forward still works).
    # The management NIC comes first, so it gets the lower PCI slot; the guest gives it the default route.
    argv += [
        "-netdev", f"user,id=mgmt,restrict=on,hostfwd=tcp:127.0.0.1:{port}-:22",
        "-device", "virtio-net-pci,netdev=mgmt",
        "-netdev", f"user,id=data,restrict=on,net={DATA_NET}",
        "-device", "e1000,netdev=data",
    ]  # fmt: skip
    return argv


def _ssh_ready(key: Path, port: int) -> bool:
    cmd = [
        "ssh", "-i", str(key), "-p", str(port), "-o", "BatchMode=yes", "-o", "ConnectTimeout=10",
        "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null", "-o", "LogLevel=ERROR",
        "root@127.0.0.1", "true",
    ]  # fmt: skip
    try:
        return subprocess.run(cmd, capture_output=True, timeout=30, check=False).returncode == 0
    except subprocess.TimeoutExpired:
        return False


def _stop(proc: subprocess.Popen[bytes]) -> None:
    """Kill QEMU's whole process group: TERM, then KILL after 10 s."""
    if proc.poll() is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)


def _write_inventory(workdir: Path, port: int, key: Path) -> Path:
    inventory = workdir / "hosts.yml"
    host = {
        "ansible_host": "127.0.0.1",
        "ansible_port": port,
        "ansible_user": "root",
        "ansible_ssh_private_key_file": str(key),
        "ansible_ssh_common_args": "-o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null",
        "ansible_python_interpreter": "/usr/bin/python3",
    }
    inventory.write_text(yaml.safe_dump({"all": {"hosts": {HOST: host}}}))
    return inventory


@pytest.fixture(scope="session")
def guest(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Guest]:
    """A booted guest reachable over ssh; QEMU is killed at the end, whatever happened."""
    missing = [tool for tool in REQUIRED_TOOLS if shutil.which(tool) is None]
    if missing:
        pytest.fail(f"{', '.join(missing)} not found: run scripts/setup (as root) first", pytrace=False)
    if not (VENV_BIN / "ansible-playbook").exists():
        pytest.fail(f"{VENV_BIN}/ansible-playbook not found: run scripts/setup first", pytrace=False)

    workdir = tmp_path_factory.mktemp("qemu-guest")
    paths = _build_guest(workdir)
    nvme = []
    for index, (_serial, size) in enumerate(NVME_DRIVES):
        image = workdir / f"nvme{index}.img"
        with image.open("wb") as handle:
            handle.truncate(size)  # sparse: no data is written
        nvme.append(image)
    port = _free_port()
    serial_log = workdir / "serial.log"
    key = Path(paths["GUEST_SSH_KEY"])
    env = {
        **os.environ,
        "ANSIBLE_CONFIG": str(REPO / "ansible.cfg"),
        # Facts of an earlier guest on another port must never be reused (ansible.cfg caches facts in .cache).
        "ANSIBLE_CACHE_PLUGIN": "memory",
        "ANSIBLE_NOCOLOR": "1",
    }
    with (workdir / "qemu.log").open("wb") as qemu_log:
        start = time.monotonic()
        proc = subprocess.Popen(
            _qemu_argv(paths, nvme, port, serial_log),
            stdin=subprocess.DEVNULL,
            stdout=qemu_log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group, killed as a whole
        )
    try:
        guest_obj = Guest(workdir, port, key, serial_log, _write_inventory(workdir, port, key), env)
        deadline = start + SSH_TIMEOUT_S
        while not _ssh_ready(key, port):
            if proc.poll() is not None:
                pytest.fail(
                    f"qemu exited with rc={proc.returncode} before ssh answered:\n"
                    f"{(workdir / 'qemu.log').read_text(errors='replace')[-3000:]}\n"
                    f"--- guest console (tail)\n{guest_obj.serial_tail()}",
                    pytrace=False,
                )
            if time.monotonic() > deadline:
                pytest.fail(
                    f"no ssh on 127.0.0.1:{port} within {SSH_TIMEOUT_S} s\n--- guest console (tail)\n"
                    f"{guest_obj.serial_tail()}",
                    pytrace=False,
                )
            time.sleep(3)
        TIMINGS["qemu start to ssh"] = time.monotonic() - start
        yield guest_obj
    finally:
        _stop(proc)
        # Keep the logs for a post-mortem; drop the images (the root image alone is ~1 GiB) and the private key.
        for name in ("GUEST_ROOT_DISK", "GUEST_KERNEL", "GUEST_INITRD", "GUEST_SSH_KEY"):
            Path(paths[name]).unlink(missing_ok=True)
        for image in nvme:
            image.unlink(missing_ok=True)


@pytest.fixture(scope="session")
def discovered(guest: Guest) -> dict:
    """Registered results of ciab.box.disk_facts and ciab.box.nic_facts, read back from a JSON file."""
    out = guest.workdir / "discovered.json"
    playbook = guest.workdir / "discover.yml"
    playbook.write_text(
        yaml.safe_dump(
            [
                {
                    "name": "Discover the guest",
                    "hosts": HOST,
                    "gather_facts": False,
                    "tasks": [
                        {"name": "Discover disks", "ciab.box.disk_facts": {}, "register": "disks"},
                        {"name": "Discover NICs", "ciab.box.nic_facts": {}, "register": "nics"},
                        {
                            "name": "Save the results on the controller",
                            "ansible.builtin.copy": {
                                "content": "{{ {'disks': disks, 'nics': nics} | to_json }}",
                                "dest": str(out),
                                "mode": "0600",
                            },
                            "delegate_to": "localhost",
                        },
                    ],
                }
            ],
            sort_keys=False,
        )
    )
    guest.ansible_playbook(playbook)
    return json.loads(out.read_text())


@pytest.fixture(scope="session")
def plan(guest: Guest) -> dict:
    """The plan playbooks/plan.yml wrote for the guest."""
    plan_dir = guest.workdir / "plan"
    extra = {"ciab_plan_dir": str(plan_dir), **PLAN_VARS}
    guest.ansible_playbook(REPO / "playbooks" / "plan.yml", "-e", json.dumps(extra))
    path = plan_dir / f"{HOST}.yml"
    assert path.is_file(), f"playbooks/plan.yml wrote no plan at {path}"
    return yaml.safe_load(path.read_text())
