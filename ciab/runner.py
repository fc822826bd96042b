"""Run the collection's playbooks through ansible-runner and return structured results.

This is the Python API other tools call::

    from ciab import runner
    result = runner.run("plan", inventory="inventories/sandbox")
    if not result.ok:
        for failure in result.failures:
            print(failure.host, failure.task, failure.msg, failure.hint)

Every run gets its own private data directory under ``<checkout>/.cache/runner/``; events are handed to
``on_event`` as they arrive (the CLI prints progress from them).
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import ansible_runner

ROOT = Path(__file__).resolve().parents[1]

# Exit codes the CLI returns (documented in README): they mean the same for every command.
EXIT_OK = 0
EXIT_FAILED = 1  # a task failed on a host
EXIT_USAGE = 2  # bad arguments or missing inputs
EXIT_UNREACHABLE = 3  # a host could not be reached
EXIT_REFUSED = 4  # a guard refused (destroy without confirmation, ...)

# Substrings of failure messages and the advice that goes with them.
_HINTS = (
    ("Permission denied", "run as root, or set ansible_become: true for the host"),
    ("No package matching", "the node's apt sources lack the package: check base_apt_mirror / base_apt_proxy"),
    ("Could not resolve host", "the node cannot resolve names: check its DNS or set base_apt_proxy"),
    ("Failed to connect to the host via ssh", "check ansible_host/ansible_user in the inventory and ssh access"),
    ("is not a valid", "a variable has the wrong type or value: see the role's meta/argument_specs.yml"),
)


class CiabError(Exception):
    """A problem with the inputs of a run (missing playbook, inventory, collection link)."""


@dataclass
class Failure:
    host: str
    task: str
    play: str
    msg: str
    unreachable: bool = False

    @property
    def hint(self) -> str:
        if self.unreachable:
            return "the host is unreachable: check the inventory (ansible_host, connection) and that it runs"
        for needle, hint in _HINTS:
            if needle in self.msg:
                return hint
        return "read the message above; re-running after the fix is safe (every step is idempotent)"


@dataclass
class RunResult:
    playbook: str
    status: str
    rc: int
    elapsed: float
    stats: dict[str, dict[str, int]] = field(default_factory=dict)
    failures: list[Failure] = field(default_factory=list)
    phases: dict[str, float] = field(default_factory=dict)
    tasks: int = 0
    artifact_dir: str = ""

    @property
    def ok(self) -> bool:
        return self.status == "successful" and self.rc == 0 and not self.failures

    @property
    def changed(self) -> int:
        return sum(h.get("changed", 0) for h in self.stats.values())

    @property
    def exit_code(self) -> int:
        if self.ok:
            return EXIT_OK
        if any(f.unreachable for f in self.failures):
            return EXIT_UNREACHABLE
        return EXIT_FAILED

    def to_dict(self) -> dict[str, Any]:
        return {
            "playbook": self.playbook,
            "status": self.status,
            "rc": self.rc,
            "ok": self.ok,
            "elapsed": round(self.elapsed, 2),
            "changed": self.changed,
            "tasks": self.tasks,
            "stats": self.stats,
            "phases": {k: round(v, 2) for k, v in self.phases.items()},
            "failures": [dict(vars(f), hint=f.hint) for f in self.failures],
            "artifact_dir": self.artifact_dir,
        }


def playbook_path(name: str) -> Path:
    """``plan`` -> <checkout>/playbooks/plan.yml; a path is taken as it is."""
    path = Path(name)
    if path.suffix not in (".yml", ".yaml"):
        path = ROOT / "playbooks" / f"{name}.yml"
    if not path.is_file():
        raise CiabError(f"playbook {path} does not exist")
    return path.resolve()


def inventory_path(inventory: str | os.PathLike[str]) -> Path:
    """An inventory name under inventories/ (``sandbox``) or a path."""
    path = Path(inventory)
    if not path.exists() and (ROOT / "inventories" / str(inventory)).exists():
        path = ROOT / "inventories" / str(inventory)
    if not path.exists():
        names = ", ".join(sorted(p.name for p in (ROOT / "inventories").iterdir() if p.is_dir()))
        raise CiabError(f"inventory {inventory} does not exist (known: {names}, or give a path)")
    return path.resolve()


def _environment() -> dict[str, str]:
    link = ROOT / ".collections" / "ansible_collections" / "ciab" / "box"
    if not link.exists():
        raise CiabError(f"{link} is missing: run scripts/setup to link the collection")
    return {
        # The ansible-playbook beside this interpreter (the venv's) comes first, whatever PATH said.
        "PATH": os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", os.defpath)]),
        "ANSIBLE_CONFIG": str(ROOT / "ansible.cfg"),
        "ANSIBLE_COLLECTIONS_PATH": str(ROOT / ".collections"),
        "ANSIBLE_ROLES_PATH": str(ROOT / "roles"),
        "ANSIBLE_FORCE_COLOR": "0",
    }


class _Collector:
    """Turns runner events into a RunResult and forwards them to the caller."""

    def __init__(self, on_event: Callable[[dict[str, Any]], None] | None):
        self.on_event = on_event
        self.failures: list[Failure] = []
        self.stats: dict[str, dict[str, int]] = {}
        self.phases: dict[str, float] = {}
        self.play = ""
        self.task = ""
        self.tasks = 0
        self._phase_start = time.monotonic()

    def _close_phase(self) -> None:
        if self.play:
            self.phases[self.play] = self.phases.get(self.play, 0.0) + time.monotonic() - self._phase_start
        self._phase_start = time.monotonic()

    def __call__(self, event: dict[str, Any]) -> bool:
        kind = event.get("event", "")
        data = event.get("event_data", {})
        if kind == "playbook_on_play_start":
            self._close_phase()
            self.play = data.get("play", "")
        elif kind == "playbook_on_task_start":
            self.task = data.get("task", "")
            self.tasks += 1
        elif kind in ("runner_on_failed", "runner_on_unreachable") and not data.get("ignore_errors"):
            res = data.get("res", {})
            msg = res.get("msg") or res.get("stderr") or res.get("reason") or ""
            self.failures.append(
                Failure(
                    host=data.get("host", ""),
                    task=data.get("task", self.task),
                    play=data.get("play", self.play),
                    msg=str(msg).strip(),
                    unreachable=kind == "runner_on_unreachable",
                )
            )
        elif kind == "playbook_on_stats":
            self._close_phase()
            for key in ("ok", "changed", "failures", "dark", "skipped", "rescued", "ignored"):
                for host, count in (data.get(key) or {}).items():
                    self.stats.setdefault(host, {})[key] = count
        if self.on_event:
            self.on_event(event)
        return True


def run(
    playbook: str,
    *,
    inventory: str | os.PathLike[str] = "localhost",
    extravars: dict[str, Any] | None = None,
    limit: str | None = None,
    tags: list[str] | None = None,
    check: bool = False,
    on_event: Callable[[dict[str, Any]], None] | None = None,
) -> RunResult:
    """Run one playbook of the collection and return what happened."""
    path = playbook_path(playbook)
    inv = inventory_path(inventory)
    base = ROOT / ".cache" / "runner"
    base.mkdir(parents=True, exist_ok=True)
    private = tempfile.mkdtemp(prefix=f"{path.stem}-", dir=base)
    collector = _Collector(on_event)
    cmdline = "--check --diff" if check else None
    start = time.monotonic()
    outcome = ansible_runner.run(
        private_data_dir=private,
        playbook=str(path),
        inventory=str(inv),
        extravars=extravars or {},
        limit=limit,
        tags=",".join(tags) if tags else None,
        cmdline=cmdline,
        envvars=_environment(),
        event_handler=collector,
        quiet=True,
        rotate_artifacts=20,
    )
    return RunResult(
        playbook=path.stem,
        status=outcome.status,
        rc=outcome.rc,
        elapsed=time.monotonic() - start,
        stats=collector.stats,
        failures=collector.failures,
        phases=collector.phases,
        tasks=collector.tasks,
        artifact_dir=outcome.config.artifact_dir,
    )
