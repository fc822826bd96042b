"""The sandbox's speed in one run, through the same runner API the CLI uses. Prints figures; asserts nothing.

    sudo .venv/bin/python bench/sandbox.py [--keep] [--linear]

Prints: a cold `sandbox up` by phase (sandbox container, discover, plan, deploy, verify) and the deploy by layer
(play), the idempotent re-run by layer with its changed count, the number of tasks, the per-task overhead of a
no-op loop of remote tasks (with the configured strategy, Mitogen, and with Ansible's plain linear one, as a ratio),
where the cold deploy's time went (venv installs, apt, everything else) and its 20 slowest tasks.
--linear also runs the re-run under plain linear, for the before/after of the strategy.

Targets (issue 19): cold <= 12 min on 2 cores, re-run <= 90 s with changed=0, per-task overhead <= 40 ms.
"""

import argparse
import collections
import contextlib
import json
import os
import sys
import tempfile
import time
from pathlib import Path

import yaml

from ciab import cli, runner

NOOP_TASKS = 60


def timed(label, playbook, **kwargs):
    result = runner.run(playbook, **kwargs)
    status = "ok" if result.ok else "FAILED"
    print(f"{label:<26} {result.elapsed:7.1f}s  tasks={result.tasks:<4} changed={result.changed:<4} {status}")
    if not result.ok:
        for failure in result.failures:
            print(f"  {failure.host}: {failure.task}: {failure.msg}", file=sys.stderr)
        sys.exit(1)
    return result


def task_events(result):
    """(seconds, play, task, action) of every finished task of a run, from its runner artifacts."""
    events = []
    for path in Path(result.artifact_dir, "job_events").glob("*.json"):
        event = json.loads(path.read_text())
        if event.get("event") in ("runner_on_ok", "runner_on_skipped", "runner_on_failed"):
            data = event["event_data"]
            seconds = data.get("duration") or 0.0
            events.append((seconds, data.get("play", ""), data.get("task", ""), data.get("task_action", "")))
    return events


def by_play(result):
    totals = collections.defaultdict(float)
    for seconds, play, _task, _action in task_events(result):
        totals[play] += seconds
    return totals


def where_it_went(result):
    kinds = collections.defaultdict(float)
    for seconds, _play, task, action in task_events(result):
        kind = "venv installs" if task.startswith("Venv |") else "apt" if action == "ansible.builtin.apt" else "rest"
        kinds[kind] += seconds
    return kinds


def noop_overhead(label):
    """Wall time per remote no-op task (stat of /), from a play of NOOP_TASKS of them."""
    tasks = [{"name": f"no-op {i}", "ansible.builtin.stat": {"path": "/"}} for i in range(NOOP_TASKS)]
    play = [{"name": "No-op tasks", "hosts": "ciab_nodes", "gather_facts": False, "tasks": tasks}]
    with tempfile.TemporaryDirectory() as tmp:
        playbook = Path(tmp) / "noop.yml"
        playbook.write_text(yaml.safe_dump(play))
        result = timed(f"no-op x{NOOP_TASKS} ({label})", str(playbook), inventory=cli.SANDBOX)
    return 1000 * sum(e[0] for e in task_events(result)) / NOOP_TASKS, 1000 * result.elapsed / NOOP_TASKS


@contextlib.contextmanager
def linear():
    """Ansible's plain linear strategy instead of ansible.cfg's ciab.box.linear (Mitogen), for the runs inside."""
    os.environ["ANSIBLE_STRATEGY"] = "linear"
    try:
        yield
    finally:
        os.environ.pop("ANSIBLE_STRATEGY", None)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--keep", action="store_true", help="leave the sandbox running afterwards")
    parser.add_argument("--linear", action="store_true", help="also re-run under plain linear (before/after)")
    args = parser.parse_args()

    timed("sandbox down", "sandbox", extravars={"ciab_sandbox_state": "down"})
    start = time.monotonic()
    phases = {
        "sandbox": timed("sandbox container", "sandbox", extravars={"ciab_sandbox_state": "up"}),
        "discover+plan": timed("discover + plan", "plan", inventory=cli.SANDBOX),
        "deploy": timed("deploy (cold)", "site", inventory=cli.SANDBOX),
        "verify": timed("verify", "verify", inventory=cli.SANDBOX),
    }
    cold_total = time.monotonic() - start
    cold = phases["deploy"]
    rerun = timed("deploy (re-run)", "site", inventory=cli.SANDBOX)
    rerun_linear = None
    if args.linear:
        with linear():
            rerun_linear = timed("deploy (re-run, linear)", "site", inventory=cli.SANDBOX)
    task_ms, wall_ms = noop_overhead("Mitogen")
    with linear():
        task_ms_linear, wall_ms_linear = noop_overhead("plain linear")

    print("\ncold sandbox up by phase:")
    for name, result in phases.items():
        print(f"  {name:<16} {result.elapsed:7.1f}s")
    print(f"  {'total':<16} {cold_total:7.1f}s   (target <= 720 s)")
    print("cold deploy by play (sum of task times):")
    for play, seconds in by_play(cold).items():
        print(f"  {play[:60]:<60} {seconds:7.1f}s")
    print("re-run by play (sum of task times):")
    for play, seconds in by_play(rerun).items():
        print(f"  {play[:60]:<60} {seconds:7.1f}s")
    print(f"re-run: {rerun.elapsed:.1f}s, {rerun.tasks} tasks, changed={rerun.changed}   (target <= 90 s, changed=0)")
    if rerun_linear:
        ratio = rerun_linear.elapsed / rerun.elapsed
        print(f"re-run under plain linear: {rerun_linear.elapsed:.1f}s (ratio {ratio:.2f})")
    print(f"per-task overhead, no-op stat: Mitogen {task_ms:.0f} ms (wall {wall_ms:.0f} ms), plain linear "
          f"{task_ms_linear:.0f} ms (wall {wall_ms_linear:.0f} ms), ratio {wall_ms_linear / wall_ms:.1f}"
          "   (target <= 40 ms)")  # fmt: skip
    kinds = where_it_went(cold)
    print("cold deploy, where the time went: " + ", ".join(f"{k} {v:.0f}s" for k, v in kinds.items()))
    print("cold deploy, 20 slowest tasks:")
    for seconds, _play, task, action in sorted(task_events(cold), reverse=True)[:20]:
        print(f"  {seconds:6.1f}s  {task[:80]}  ({action})")
    if not args.keep:
        timed("sandbox down", "sandbox", extravars={"ciab_sandbox_state": "down"})


if __name__ == "__main__":
    main()
