"""The ``ciab`` command: discover, plan, deploy, verify, status, destroy and the sandbox, on ansible-runner."""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, TextIO

import yaml

from ciab import __version__, runner

# Layers in deploy order; each is a tag in playbooks/site.yml and playbooks/verify.yml.
LAYERS = ("base",)
SANDBOX = "sandbox"


class Progress:
    """Prints what a person can follow: phase, task, host, elapsed time; or JSON lines for tools."""

    def __init__(self, out: TextIO, as_json: bool):
        self.out = out
        self.as_json = as_json
        self.start = time.monotonic()

    def elapsed(self) -> str:
        secs = int(time.monotonic() - self.start)
        return f"{secs // 60:02d}:{secs % 60:02d}"

    def emit(self, kind: str, **data: Any) -> None:
        if self.as_json:
            self.out.write(json.dumps({"event": kind, "elapsed": round(time.monotonic() - self.start, 2), **data}))
            self.out.write("\n")
        elif kind == "step":
            self.out.write(f"[{self.elapsed()}] == {data['step']}\n")
        elif kind == "message":
            self.out.write(f"{data['text']}\n")
        self.out.flush()

    def runner_event(self, event: dict[str, Any]) -> None:
        kind = event.get("event", "")
        data = event.get("event_data", {})
        if self.as_json:
            if kind.startswith(("playbook_on_play_start", "playbook_on_task_start", "runner_on_", "playbook_on_stats")):
                keep = {k: data.get(k) for k in ("play", "task", "host", "changed") if data.get(k) is not None}
                self.emit("ansible", type=kind, **keep)
            return
        if kind == "playbook_on_play_start":
            self.out.write(f"[{self.elapsed()}] -- {data.get('play', '')}\n")
        elif kind == "playbook_on_task_start":
            self.out.write(f"[{self.elapsed()}]    {data.get('task', '')}\n")
        elif kind in ("runner_on_failed", "runner_on_unreachable") and not data.get("ignore_errors"):
            self.out.write(f"[{self.elapsed()}]    FAILED on {data.get('host', '')}\n")
        elif kind == "runner_on_ok" and data.get("task_action") in ("debug", "ansible.builtin.debug"):
            msg = data.get("res", {}).get("msg")
            if isinstance(msg, str) and "\n" in msg:
                self.out.write(msg.rstrip() + "\n")
        self.out.flush()


def _report(progress: Progress, result: runner.RunResult) -> int:
    if progress.as_json:
        progress.emit("result", **result.to_dict())
        return result.exit_code
    out = progress.out
    for failure in result.failures:
        out.write(
            f"\nFAILED: task '{failure.task}' on host {failure.host} (play '{failure.play}')\n"
            f"  {failure.msg}\n  fix: {failure.hint}\n"
        )
    out.write(
        f"{result.playbook}: {'ok' if result.ok else 'FAILED'} in {result.elapsed:.0f}s, "
        f"{result.tasks} tasks, changed={result.changed}\n"
    )
    return result.exit_code


def _run_steps(progress: Progress, steps: Sequence[tuple[str, Callable[[], runner.RunResult]]]) -> int:
    """Run playbooks one after another, stop at the first failure, print per-phase timings at the end."""
    timings: list[tuple[str, float, int]] = []
    for name, step in steps:
        progress.emit("step", step=name)
        result = step()
        code = _report(progress, result)
        timings.append((name, result.elapsed, result.changed))
        if code:
            return code
    if not progress.as_json:
        progress.out.write("\nPhase timings:\n")
        for name, secs, changed in timings:
            progress.out.write(f"  {name:<10} {secs:7.1f}s  changed={changed}\n")
    return runner.EXIT_OK


def _summary(progress: Progress, inventory: str) -> None:
    plans = sorted((runner.ROOT / ".cache" / "plan").glob("*.yml"))
    lines = ["", "Summary:"]
    lines += [f"  plan:        {p}" for p in plans]
    lines += [f"  inventory:   {runner.inventory_path(inventory)}", f"  layers:      {', '.join(LAYERS)}"]
    lines.append(f"  rerun:       ciab -i {inventory} deploy   (idempotent: a re-run changes nothing)")
    if progress.as_json:
        progress.emit("summary", plans=[str(p) for p in plans], layers=list(LAYERS), inventory=inventory)
    else:
        progress.out.write("\n".join(lines) + "\n")


def _play(args: argparse.Namespace, progress: Progress, playbook: str, **kwargs: Any) -> Callable[[], runner.RunResult]:
    return lambda: runner.run(playbook, inventory=args.inventory, on_event=progress.runner_event, **kwargs)


def cmd_discover(args: argparse.Namespace, progress: Progress) -> int:
    return _run_steps(progress, [("discover", _play(args, progress, "plan", tags=["discover"]))])


def cmd_plan(args: argparse.Namespace, progress: Progress) -> int:
    return _run_steps(progress, [("plan", _play(args, progress, "plan"))])


def cmd_deploy(args: argparse.Namespace, progress: Progress) -> int:
    layers = args.limit or list(LAYERS)
    return _run_steps(progress, [("deploy", _play(args, progress, "site", tags=layers))])


def cmd_verify(args: argparse.Namespace, progress: Progress) -> int:
    return _run_steps(progress, [("verify", _play(args, progress, "verify", tags=args.limit or list(LAYERS)))])


def cmd_status(args: argparse.Namespace, progress: Progress) -> int:
    return _run_steps(progress, [("status", _play(args, progress, "verify", tags=list(LAYERS)))])


def cmd_destroy(args: argparse.Namespace, progress: Progress) -> int:
    inventory = runner.inventory_path(args.inventory)
    hosts = _inventory_hosts(inventory)
    if args.confirm not in hosts:
        progress.emit(
            "message",
            text=(
                f"refused: destroy removes the cloud from {', '.join(sorted(hosts)) or 'no host'}. "
                f"Run again with --yes-destroy NAME naming one box of inventory {inventory.name} to confirm."
            ),
        )
        return runner.EXIT_REFUSED
    if inventory.name == SANDBOX:
        return _sandbox(args, progress, "down")
    return _run_steps(progress, [("destroy", _play(args, progress, "destroy", limit=args.confirm))])


def _inventory_hosts(inventory: Path) -> set[str]:
    hosts: set[str] = set()

    def walk(group: dict[str, Any]) -> None:
        hosts.update((group.get("hosts") or {}).keys())
        for child in (group.get("children") or {}).values():
            walk(child or {})

    for path in [inventory] if inventory.is_file() else sorted(inventory.glob("*.yml")):
        walk((yaml.safe_load(path.read_text()) or {}).get("all", {}))
    return hosts


def _sandbox(args: argparse.Namespace, progress: Progress, state: str) -> int:
    up = _play(args, progress, "sandbox", extravars={"ciab_sandbox_state": state})
    if state == "down":
        return _run_steps(progress, [("sandbox down", up)])
    args.inventory = SANDBOX
    steps = [
        ("sandbox", up),
        ("discover", _play(args, progress, "plan", tags=["discover"])),
        ("plan", _play(args, progress, "plan")),
        ("deploy", _play(args, progress, "site", tags=list(LAYERS))),
        ("verify", _play(args, progress, "verify", tags=list(LAYERS))),
    ]
    code = _run_steps(progress, steps)
    if code == runner.EXIT_OK:
        _summary(progress, SANDBOX)
    return code


def cmd_sandbox(args: argparse.Namespace, progress: Progress) -> int:
    return _sandbox(args, progress, args.action)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="ciab", description="Cloud-in-a-Box: one server to a sovereign cloud.")
    parser.add_argument("--version", action="version", version=f"ciab {__version__}")
    parser.add_argument("-i", "--inventory", default="localhost", help="inventory name under inventories/ or a path")
    parser.add_argument("--json", action="store_true", help="print JSON events, one per line, for tools")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name, func, text in (
        ("discover", cmd_discover, "read disks and NICs of the nodes (changes nothing)"),
        ("plan", cmd_plan, "discover and write the reviewable plan (changes nothing)"),
        ("status", cmd_status, "show whether the deployed layers answer"),
    ):
        sub.add_parser(name, help=text).set_defaults(func=func)
    for name, func, text in (
        ("deploy", cmd_deploy, "deploy the layers"),
        ("verify", cmd_verify, "check that what is deployed answers"),
    ):
        p = sub.add_parser(name, help=text)
        p.add_argument("--limit", action="append", choices=LAYERS, metavar="LAYER", help=f"one of {', '.join(LAYERS)}")
        p.set_defaults(func=func)
    p = sub.add_parser("destroy", help="remove the cloud from a box (asks for the box's name)")
    p.add_argument("--yes-destroy", dest="confirm", metavar="NAME", default="", help="the box to destroy")
    p.set_defaults(func=cmd_destroy)
    p = sub.add_parser("sandbox", help="the whole cloud in a local systemd container")
    p.add_argument("action", choices=("up", "down"))
    p.set_defaults(func=cmd_sandbox)
    return parser


def main(argv: Sequence[str] | None = None, out: TextIO | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    progress = Progress(out or sys.stdout, args.json)
    try:
        return args.func(args, progress)
    except runner.CiabError as exc:
        if args.json:
            progress.emit("error", text=str(exc))
        else:
            sys.stderr.write(f"ciab: error: {exc}\n")
        return runner.EXIT_USAGE


if __name__ == "__main__":
    sys.exit(main())
