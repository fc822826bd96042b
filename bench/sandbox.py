"""The sandbox's speed in one run, through the same runner API the CLI uses. Prints figures; asserts nothing.

    sudo .venv/bin/python bench/sandbox.py [--keep] [--linear]

Prints: a cold `sandbox up` by phase (sandbox container, discover, plan, deploy, verify) and the deploy by layer
(play), the idempotent re-run by layer with its changed count, the number of tasks, the per-task overhead of a
no-op loop of remote tasks (with the configured strategy, Mitogen, and with Ansible's plain linear one, as a ratio),
where the cold deploy's time went (venv installs, apt, everything else), its 20 slowest tasks and the re-run's 10, and
the floor: the time of the unavoidable work alone, and the cold deploy / floor ratio. The floor is
- apt: `apt-get update` and ONE `apt-get install` of every package the deploy installed (the deployed box's manual
  packages less the fresh box's), run in a fresh sandbox container with the deployed box's /etc/apt (proxy,
  sources) and CA store;
- venvs: uv itself with pip, then every OpenStack venv the deploy built from the same locks with the same uv flags
  and the same (warm) caches, one after another, and once more all at once (what concurrent venv builds would give);
- db syncs and service starts: these need the deploy's configuration, so they are the deploy's own tasks: its
  changed `Migrate | step` tasks, its changed systemd tasks and the waits until each started API answers.
Work takes no longer than it took inside the deploy: the floor of apt and of the venvs is the least of their times
alone (venvs: in turn or all at once) and inside the cold deploy.
The fresh container replaces the deployed sandbox (so --keep leaves out the floor); `sandbox down` ends the run.
--linear also runs the re-run under plain linear, for the before/after of the strategy.

Targets (issue 19): cold <= 12 min on 2 cores, re-run <= 90 s with changed=0, per-task overhead <= 40 ms,
deploy / floor <= 1.5.
"""

import argparse
import collections
import contextlib
import json
import os
import shlex
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

from ciab import cli, runner

NOOP_TASKS = 60
BOX = "ciab-sandbox"
VENVS = "/opt/ciab/openstack/2026.2"  # openstack_venv_root of the deployed release
SYSTEMD = {"ansible.builtin.systemd_service", "ansible.builtin.systemd", "ansible.builtin.service"}
Event = collections.namedtuple("Event", "seconds play task action changed")


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
    """An Event of every finished task of a run, from its runner artifacts."""
    events = []
    for path in Path(result.artifact_dir, "job_events").glob("*.json"):
        event = json.loads(path.read_text())
        if event.get("event") in ("runner_on_ok", "runner_on_skipped", "runner_on_failed"):
            data = event["event_data"]
            changed = bool((data.get("res") or {}).get("changed"))
            events.append(Event(data.get("duration") or 0.0, data.get("play", ""), data.get("task", ""),
                                data.get("task_action", ""), changed))  # fmt: skip
    return events


def by_play(result):
    totals = collections.defaultdict(float)
    for event in task_events(result):
        totals[event.play] += event.seconds
    return totals


def where_it_went(result):
    kinds = collections.defaultdict(float)
    for event in task_events(result):
        venv, apt = event.task.startswith("Venv |"), event.action == "ansible.builtin.apt"
        kinds["venv installs" if venv else "apt" if apt else "rest"] += event.seconds
    return kinds


def box(command, stdin=""):
    """Run a shell command in the sandbox container; its stdout (bytes when stdin is bytes)."""
    text = not isinstance(stdin, bytes)
    argv = ["docker", "exec", "-i", BOX, "sh", "-c", command]
    done = subprocess.run(argv, input=stdin, capture_output=True, text=text, check=False)
    if done.returncode != 0:
        sys.exit(f"{BOX}: `{command[:200]}` failed (rc={done.returncode}): {done.stderr[-2000:]}")
    return done.stdout


def box_timed(label, command):
    start = time.monotonic()
    box(command)
    seconds = time.monotonic() - start
    print(f"{label:<26} {seconds:7.1f}s")
    return seconds


def deployed_work():
    """What the deploy installed on the box: its manual packages, its venvs, and a tar of /etc/apt, the CA store (a
    TLS-inspecting proxy's CA, base_ca_certificates) and the locks."""
    packages = set(box("apt-mark showmanual").split())
    venvs = sorted({Path(stamp).parent.name for stamp in box(f"ls {VENVS}/*/ciab-lock.txt").split()} - {"uv"})
    files = box(
        f"tar -C / -c etc/apt etc/ssl/certs usr/local/share/ca-certificates {VENVS.lstrip('/')}/locks", stdin=b""
    )
    return packages, venvs, files


def deploy_steps(cold):
    """Seconds of the cold deploy's db syncs and of its service starts (start + until an API answers)."""
    events = task_events(cold)
    db = sum(e.seconds for e in events if e.changed and e.task.startswith("Migrate | step"))
    starts = sum(e.seconds for e in events
                 if (e.changed and e.action in SYSTEMD) or e.task.startswith("API | answers over TLS"))  # fmt: skip
    return db, starts


def floor(packages, venvs, files):
    """The unavoidable work of apt and venvs, timed in the fresh sandbox container (see the module's doc)."""
    timed("sandbox container (floor)", "sandbox", extravars={"ciab_sandbox_state": "up"})
    box("tar -C / -x", stdin=files)
    new = sorted(packages - set(box("apt-mark showmanual").split()))
    apt = box_timed("floor: apt-get update", "apt-get update -q")
    apt += box_timed(f"floor: apt install ({len(new)})", "DEBIAN_FRONTEND=noninteractive apt-get install -q -y "
                     "--no-install-recommends " + shlex.join(new))  # fmt: skip
    locks, uv = f"{VENVS}/locks", "/var/tmp/floor/uv/bin/uv --no-config --no-python-downloads --system-certs"
    pip = box_timed("floor: uv with pip", f"python3 -m venv /var/tmp/floor/uv && /var/tmp/floor/uv/bin/pip install -q "
                    f"--require-hashes --no-deps --disable-pip-version-check -r {locks}/uv.txt")  # fmt: skip

    def one(name, root):
        venv = f"{root}/{name}"
        install = f"{uv} pip install --python {venv}/bin/python --require-hashes --no-deps --compile-bytecode -q"
        return (
            f"{uv} venv -q --python /usr/bin/python3 {venv} && {install} -r {locks}/build.txt && "
            f"{install} --no-build-isolation -r {locks}/{name}.txt"
        )

    one_by_one = box_timed(f"floor: {len(venvs)} venvs in turn", " && ".join(one(n, "/var/tmp/floor/a") for n in venvs))
    jobs = [f"({one(name, '/var/tmp/floor/b')}) & p{i}=$!" for i, name in enumerate(venvs)]
    waits = " && ".join(f"wait $p{i}" for i in range(len(venvs)))  # the status of each, not only of the last
    at_once = box_timed(f"floor: {len(venvs)} venvs at once", "; ".join(jobs) + "; " + waits)
    return apt, pip + one_by_one, at_once


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


def report(phases, cold_total, rerun, rerun_linear, overhead):
    """Print the figures of the cold up, the re-runs and the no-op overhead (before the floor replaces the box)."""
    cold = phases["deploy"]
    task_ms, wall_ms, task_ms_linear, wall_ms_linear = overhead
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
    for event in sorted(task_events(cold), reverse=True)[:20]:
        print(f"  {event.seconds:6.1f}s  {event.task[:80]}  ({event.action})")
    print("re-run, 10 slowest tasks:")
    for event in sorted(task_events(rerun), reverse=True)[:10]:
        print(f"  {event.seconds:6.1f}s  {event.task[:80]}  ({event.action})")


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
    report(phases, cold_total, rerun, rerun_linear, (task_ms, wall_ms, task_ms_linear, wall_ms_linear))
    if args.keep:
        print("floor: left out (--keep keeps the deployed sandbox; the floor needs a fresh one)")
        return
    work = deployed_work()
    timed("sandbox down", "sandbox", extravars={"ciab_sandbox_state": "down"})
    apt_alone, venvs_in_turn, venvs_at_once = floor(*work)
    kinds = where_it_went(cold)
    # a kind of work takes no longer than it took inside the deploy: the lesser of the two is its floor
    apt = min(apt_alone, kinds["apt"])
    venvs = min(venvs_in_turn, venvs_at_once, kinds["venv installs"])
    db, starts = deploy_steps(cold)
    total = apt + venvs + db + starts
    print(
        f"\nfloor: apt {apt:.0f}s (alone {apt_alone:.0f}s, in the deploy {kinds['apt']:.0f}s)"
        f" + venvs {venvs:.0f}s (alone in turn {venvs_in_turn:.0f}s, all at once {venvs_at_once:.0f}s, in the deploy"
        f" {kinds['venv installs']:.0f}s) + db syncs {db:.0f}s + service starts {starts:.0f}s = {total:.0f}s"
    )
    print(f"cold deploy / floor = {cold.elapsed:.0f}s / {total:.0f}s = {cold.elapsed / total:.2f}   (target <= 1.5)")
    timed("sandbox down", "sandbox", extravars={"ciab_sandbox_state": "down"})


if __name__ == "__main__":
    main()
