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

import json
import os
import re
import subprocess
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
EXIT_USAGE = 2  # bad arguments or inputs (inventory, variables, policies)
EXIT_UNREACHABLE = 3  # a host could not be reached
EXIT_REFUSED = 4  # a guard refused (destroy without confirmation, ...)

# Every input check of the collection (the plan filters, playbooks/validate.yml, playbooks/layers.yml, the roles'
# preflight input asserts) starts its message with this marker: the runner reports such a failure as a bad input
# (exit 2), with the message from the marker on (without Ansible's "Task failed: ..." prefix). Ansible's own role
# argument validation (the action below) is a bad input too. Nothing else decides that a failure is an input error.
INPUT_MARKER = "[ciab-input]"
_INPUT_ACTIONS = frozenset({"validate_argument_spec", "ansible.builtin.validate_argument_spec"})
INPUT_HINT = "change the variable the message names (inventory, group_vars, host_vars or -e) and run again"
# ansible-playbook's own exit codes for a playbook it could not parse and for bad options: nothing ran.
_PLAYBOOK_USAGE_RCS = (4, 5)
# A host name the plan, the caches, /etc/hosts and Ceph can use (RFC 1123 labels; '_' is tolerated as Ansible does).
_LABEL = r"[A-Za-z0-9_](?:[A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?"
_HOST_NAME = re.compile(rf"^(?=.{{1,253}}$){_LABEL}(?:\.{_LABEL})*$")
_ANSI = re.compile(r"\x1b\[[0-9;]*m")
# Ansible's internal classes (``_AnsibleTaggedStr``, ``<class '..._AnsibleTaggedList'>``, ``_AnsibleLazyTemplateDict``)
# in its own messages, and the plain names a user knows.
_INTERNAL_TYPE = re.compile(
    r"<class '(?:[\w.]+\.)?_Ansible(?:Tagged|LazyTemplate)(\w+)'>|_Ansible(?:Tagged|LazyTemplate)(\w+)"
)

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


def plain_types(text: str) -> str:
    """Ansible's internal type names in a message replaced by the plain ones (str, list, dict)."""
    return _INTERNAL_TYPE.sub(lambda m: (m.group(1) or m.group(2)).lower(), text)


def input_message(msg: str) -> str | None:
    """The message of an input check (from its marker on, marker removed), or None when ``msg`` carries no marker."""
    at = msg.find(INPUT_MARKER)
    if at < 0:
        return None
    pieces = (" ".join(piece.split()) for piece in msg[at:].split(INPUT_MARKER))  # one line per failed check
    return "\n".join(piece for piece in pieces if piece)


@dataclass
class Failure:
    host: str
    task: str
    play: str
    msg: str
    unreachable: bool = False
    # a bad input (an input check failed): the message names the variable and the fix; exit code 2
    bad_input: bool = False

    @property
    def hint(self) -> str:
        if self.bad_input:
            return INPUT_HINT
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
        if any(f.bad_input for f in self.failures):
            return EXIT_USAGE
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
    if not str(inventory).strip():
        raise CiabError("inventory is empty: give -i an inventory name under inventories/ or a path")
    path = Path(inventory)
    if not path.exists() and (ROOT / "inventories" / str(inventory)).exists():
        path = ROOT / "inventories" / str(inventory)
    if not path.exists():
        names = ", ".join(sorted(p.name for p in (ROOT / "inventories").iterdir() if p.is_dir()))
        raise CiabError(f"inventory {inventory} does not exist (known: {names}, or give a path)")
    return path.resolve()


def _ansible_program(name: str) -> str:
    """The Ansible program beside this interpreter (the venv's), else the one on PATH."""
    beside = Path(sys.executable).with_name(name)
    return str(beside) if beside.exists() else name


def inventory_hosts(inventory: str | os.PathLike[str]) -> list[str]:
    """The hosts of an inventory, parsed exactly as Ansible parses it (``ansible-inventory --list``): YAML, INI,
    a directory of them. A file that is no inventory (or one file of a directory), and an inventory without hosts,
    are usage errors."""
    path = inventory_path(inventory)
    env = {
        **os.environ,
        # the checkout's configuration (inventory plugins); parsing needs no collection
        **({"ANSIBLE_CONFIG": str(ROOT / "ansible.cfg")} if (ROOT / "ansible.cfg").is_file() else {}),
        "ANSIBLE_INVENTORY_UNPARSED_FAILED": "true",
        "ANSIBLE_INVENTORY_ANY_UNPARSED_IS_FAILED": "true",
        "ANSIBLE_NOCOLOR": "true",
        # only the inventory is read: no fact cache (a long host name would fail on its cache file's name first)
        "ANSIBLE_CACHE_PLUGIN": "ansible.builtin.memory",
    }
    try:
        done = subprocess.run(
            [_ansible_program("ansible-inventory"), "-i", str(path), "--list"],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
    except OSError as exc:
        raise CiabError(f"cannot run ansible-inventory ({exc}): run scripts/setup to make the venv") from exc
    if done.returncode != 0:
        raise CiabError(_inventory_error(path, done.stderr))
    data = json.loads(done.stdout or "{}")
    hosts = set(data.get("_meta", {}).get("hostvars", {}))
    for name, group in data.items():
        if name != "_meta" and isinstance(group, dict):
            hosts.update(group.get("hosts") or [])
    bad = [host for host in sorted(hosts) if not _HOST_NAME.match(host)]
    if bad:
        name = bad[0][:40] + ("..." if len(bad[0]) > 40 else "")
        raise CiabError(
            f"inventory {path}: host name {name!r} ({len(bad[0])} characters) is not a DNS name: at most 253 "
            "characters, labels of at most 63 letters, digits, '-' or '_' between dots (it names the node's plan "
            "and cache files, its /etc/hosts entry and its Ceph daemons); rename the host in the inventory and give "
            "its address with ansible_host"
        )
    if not hosts:
        raise CiabError(
            f"inventory {path} has no hosts; name at least one, e.g. "
            "all: {hosts: {box1: {ansible_host: ADDRESS}}} (see inventories/localhost/hosts.yml)"
        )
    return sorted(hosts)


def _inventory_error(path: Path, stderr: str) -> str:
    """What ansible-inventory said about a source it could not parse, as one line: which file, why, the fix."""
    text = plain_types(_ANSI.sub("", stderr))
    failed = re.findall(r"\[ERROR\]: Completely failed to parse inventory source (.+)", text)
    if not failed:
        errors = re.findall(r"(?:\[ERROR\]:|ERROR!) (.+)", text) or text.strip().splitlines()[-1:] or ["no output"]
        return f"ansible-inventory cannot read inventory {path}: {errors[0].strip()}"
    source = failed[0].strip() if failed else str(path)
    reasons = dict(re.findall(r"\[WARNING\]: Failed to parse inventory with '(\w+)' plugin: (.+)", text))
    plugin = "yaml" if Path(source).suffix in (".yml", ".yaml", ".json") else "ini"
    reason = reasons.get(plugin) or next(iter(reasons.values()), "") or (text.strip().splitlines() or [""])[-1]
    return (
        f"inventory {source} is not an Ansible inventory ({reason.strip()}); give -i a YAML inventory "
        "(all: hosts: NAME: ...), an INI file ([group] and host lines) or a directory of them, "
        "such as inventories/localhost"
    )


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
        "ANSIBLE_NOCOLOR": "true",
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
            # a loop's failure: the failed items' messages ("One or more items failed" says nothing)
            items = [r for r in res.get("results") or [] if isinstance(r, dict) and r.get("failed")]
            msgs = [r.get("msg") for r in items if r.get("msg")] or [res.get("msg") or res.get("stderr") or ""]
            msg = plain_types("\n".join(str(m).strip() for m in msgs) or str(res.get("reason") or ""))
            checked = input_message(msg)
            action = data.get("resolved_action") or data.get("task_action") or ""
            if checked is None and action in _INPUT_ACTIONS:
                errors = res.get("argument_errors") or [msg]
                role = data.get("role") or "the role"
                checked = f"{role}: {'; '.join(plain_types(str(e)) for e in errors)} (see its meta/argument_specs.yml)"
            self.failures.append(
                Failure(
                    host=data.get("host", ""),
                    task=data.get("task", self.task),
                    play=data.get("play", self.play),
                    msg=checked if checked is not None else msg,
                    unreachable=kind == "runner_on_unreachable",
                    bad_input=checked is not None,
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
    """Run one playbook of the collection and return what happened. An inventory Ansible cannot parse or without
    hosts raises CiabError before anything runs."""
    path = playbook_path(playbook)
    inv = inventory_path(inventory)
    inventory_hosts(inv)
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
    failures = collector.failures
    if outcome.rc != 0 and not failures:
        failures = [_run_error(outcome)]
    return RunResult(
        playbook=path.stem,
        status=outcome.status,
        rc=outcome.rc,
        elapsed=time.monotonic() - start,
        stats=collector.stats,
        failures=failures,
        phases=collector.phases,
        tasks=collector.tasks,
        artifact_dir=outcome.config.artifact_dir,
    )


def _run_error(outcome: Any) -> Failure:
    """A run that failed before any task could (a playbook Ansible cannot parse, bad options): what Ansible printed,
    which only reached the runner's stdout artifact. ansible-playbook's parser and options errors are bad inputs."""
    try:
        text = outcome.stdout.read()
    except (OSError, AttributeError, ValueError):
        text = ""
    lines = [line.rstrip() for line in plain_types(_ANSI.sub("", text or "")).splitlines()]
    start = next((i for i, line in enumerate(lines) if line.startswith(("[ERROR]", "ERROR!"))), None)
    if start is None:
        error = " ".join(line for line in lines[-5:] if line.strip()) or f"ansible-playbook exited with {outcome.rc}"
    else:
        block = []
        for line in lines[start:]:
            if block and (not line.strip() or line.startswith("[WARNING]")):
                break
            block.append(line.strip())
        error = " ".join(block).removeprefix("[ERROR]:").removeprefix("ERROR!").strip()
    checked = input_message(error)
    return Failure(
        host="",
        task="",
        play="",
        msg=checked if checked is not None else error,
        bad_input=checked is not None or outcome.rc in _PLAYBOOK_USAGE_RCS,
    )
