"""Discovery speed: ciab discovery against ansible.builtin.setup (gather_subset=hardware,network). Prints figures.

    .venv/bin/python bench/discovery.py [--reps 5] [--tree DIR]

Three like-with-like comparisons on this host, medians of --reps runs taken round-robin so that load from
other work on the machine hits every candidate alike:
  * in process: discover_disks + discover_nics (also on a synthetic capture of 24 disks and 8 NICs);
  * module process: each module run as its own Python process with an args file, no controller involved
    (setup vs our disk_facts + nic_facts; both pay interpreter start and AnsibleModule import);
  * ansible CLI: ``ansible localhost -m ...`` for setup, our modules, and ping as the fixed cost of an ad-hoc run.
Target: discovery >= 10x faster than setup. Nothing here asserts it.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / ".collections"))
sys.path.insert(0, str(REPO / "tests" / "unit"))

import treebuilder  # noqa: E402
from ansible_collections.ciab.box.plugins.module_utils.disks import discover_disks  # noqa: E402
from ansible_collections.ciab.box.plugins.module_utils.nics import discover_nics  # noqa: E402

ANSIBLE = str(Path(sys.executable).with_name("ansible"))
MODULES = REPO / "plugins" / "modules"
SETUP_ARGS = {"gather_subset": "hardware,network"}
LABELS = (
    ("setup", "ansible.builtin.setup gather_subset=hardware,network"),
    ("disk_facts", "ciab.box.disk_facts"),
    ("nic_facts", "ciab.box.nic_facts"),
    ("disk_facts_big", "ciab.box.disk_facts root=<synthetic tree>"),
)


def in_process(root: str, reps: int) -> tuple[float, int, int]:
    """Median seconds of one disk + NIC discovery of ``root``; also the counts found."""
    times = []
    disks: list = []
    nics: list = []
    for _ in range(reps):
        start = time.perf_counter()
        disks = discover_disks(root)
        nics, _route = discover_nics(root)
        times.append(time.perf_counter() - start)
    return statistics.median(times), len(disks), len(nics)


def wall(command: list[str], env: dict[str, str]) -> float:
    start = time.perf_counter()
    done = subprocess.run(command, cwd=REPO, env=env, capture_output=True, text=True, check=False)
    elapsed = time.perf_counter() - start
    if done.returncode != 0:
        print(f"  {' '.join(command)} failed (rc={done.returncode}): {done.stdout[-300:]}{done.stderr[-300:]}")
    return elapsed


def round_robin(commands: dict[str, list[str]], env: dict[str, str], reps: int) -> dict[str, float]:
    """Median wall-clock seconds of each command, the commands taking turns."""
    times: dict[str, list[float]] = {name: [] for name in commands}
    for _ in range(reps):
        for name, command in commands.items():
            times[name].append(wall(command, env))
    return {name: statistics.median(values) for name, values in times.items()}


def module_commands(tmp: Path, tree: str) -> dict[str, list[str]]:
    """Each module as a standalone process reading its arguments from a file, as Ansible runs it on a node."""

    def args_file(name: str, args: dict) -> str:
        path = tmp / f"{name}.json"
        path.write_text(json.dumps({"ANSIBLE_MODULE_ARGS": args}))
        return str(path)

    return {
        "ping": [sys.executable, "-m", "ansible.modules.ping", args_file("ping", {})],
        "setup": [sys.executable, "-m", "ansible.modules.setup", args_file("setup", SETUP_ARGS)],
        "disk_facts": [sys.executable, str(MODULES / "disk_facts.py"), args_file("disk", {})],
        "nic_facts": [sys.executable, str(MODULES / "nic_facts.py"), args_file("nic", {})],
        "disk_facts_big": [sys.executable, str(MODULES / "disk_facts.py"), args_file("big", {"root": tree})],
    }


def adhoc_commands(tree: str) -> dict[str, list[str]]:
    def adhoc(module: str, args: str = "") -> list[str]:
        return [ANSIBLE, "localhost", "-m", module, *(["-a", args] if args else [])]

    return {
        "ping": adhoc("ansible.builtin.ping"),
        "setup": adhoc("ansible.builtin.setup", "gather_subset=hardware,network"),
        "disk_facts": adhoc("ciab.box.disk_facts"),
        "nic_facts": adhoc("ciab.box.nic_facts"),
        "disk_facts_big": adhoc("ciab.box.disk_facts", f"root={tree}"),
    }


def row(label: str, seconds: float, note: str = "") -> None:
    print(f"  {label:<58} {seconds * 1000:9.1f} ms  {note}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--reps", type=int, default=5, help="runs per process measurement (default 5)")
    parser.add_argument("--tree", help="use this captured tree instead of building the synthetic one")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        tree = args.tree or str(treebuilder.build(treebuilder.synthetic, Path(tmp) / "synthetic"))
        print(f"discovery bench: medians, {args.reps} runs per process measurement; synthetic tree {tree}")
        print("in process (50 runs)")
        big, n_disks, n_nics = in_process(tree, 50)
        row("discover_disks + discover_nics, synthetic tree", big, f"{n_disks} disks, {n_nics} NICs")
        live, live_disks, live_nics = in_process("/", 50)
        row("discover_disks + discover_nics, this host", live, f"{live_disks} disks, {live_nics} NICs")

        print("module process (no controller)")
        env = {**os.environ, "PYTHONPATH": str(REPO / ".collections")}
        mod = round_robin(module_commands(Path(tmp), tree), env, args.reps)
        row("ansible.builtin.ping (interpreter start + AnsibleModule)", mod["ping"])
        for name, label in LABELS:
            row(label, mod[name], f"net of ping {1000 * (mod[name] - mod['ping']):7.1f} ms")

        print("ansible CLI (ansible localhost -m ...)")
        env = {**os.environ, "ANSIBLE_LOAD_CALLBACK_PLUGINS": "0", "ANSIBLE_STDOUT_CALLBACK": "minimal"}
        cli = round_robin(adhoc_commands(tree), env, args.reps)
        ping = cli["ping"]
        row("ansible.builtin.ping (fixed cost of an ad-hoc run)", ping)
        for name, label in LABELS:
            row(label, cli[name], f"net of ping {1000 * (cli[name] - ping):7.1f} ms")

    print("ratios: setup time / ciab time (target >= 10x)")
    ratio("setup module process / in-process discovery of this host", mod["setup"], live)
    ratio("setup module process / in-process discovery, synthetic tree", mod["setup"], big)
    ratio("module processes net of ping: setup / (disk_facts + nic_facts)", *net(mod))
    ratio("ansible CLI net of ping: setup / (disk_facts + nic_facts)", *net(cli))
    ratio("module processes, wall clock: setup / (disk_facts + nic_facts)", mod["setup"], ours(mod))
    ratio("ansible CLI, wall clock: setup / (disk_facts + nic_facts)", cli["setup"], ours(cli))


def ours(times: dict[str, float]) -> float:
    return times["disk_facts"] + times["nic_facts"]


def net(times: dict[str, float]) -> tuple[float, float]:
    return times["setup"] - times["ping"], ours(times) - 2 * times["ping"]


def ratio(label: str, theirs: float, mine: float) -> None:
    shown = f"{theirs / mine:8.1f}x" if mine > 0 else "     n/a (ours within the noise of ping)"
    print(f"  {label:<66} {shown}")


if __name__ == "__main__":
    main()
