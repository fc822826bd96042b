"""The ``ciab`` command: discover, plan, deploy, verify, status, destroy and the sandbox, on ansible-runner."""

from __future__ import annotations

import argparse
import json
import socket
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, TextIO

import yaml

from ciab import __version__, runner

# Layers in deploy order (each a tag in playbooks/site.yml and playbooks/verify.yml) and the default ones, as
# roles/ciab/vars/main.yml (the contract's constants) defines them. Without --limit, the inventory's ciab_layers
# chooses (default DEFAULT_LAYERS).
_LAYERS_FILE = yaml.safe_load((runner.ROOT / "roles" / "ciab" / "vars" / "main.yml").read_text())
LAYERS = tuple(_LAYERS_FILE["ciab_known_layers"])
DEFAULT_LAYERS = tuple(_LAYERS_FILE["ciab_default_layers"])
SANDBOX = "sandbox"
SANDBOX_TWO = "sandbox-two"  # the sandbox with a second box (`ciab sandbox up --nodes 2`)
# How `ciab conformance` counts its results (accepted: not met, and openstack_conformance_accepted says why)
CONFORMANCE_STATUSES = ("met", "not met", "accepted", "not applicable")
# Tempest's test sets (ciab.box.tempest's tempest_set)
TEMPEST_SETS = ("smoke", "api")
# facts of discovery (ciab.box.disk_facts, nic_facts) and of the plan kept for the discover/plan summary
_KEPT_FACTS = {"disks": "ciab_disks", "nics": "ciab_nics", "plan": "ciab_plan"}
EXIT_CODES = (
    (runner.EXIT_OK, "ok"),
    (runner.EXIT_FAILED, "a task failed on a host"),
    (runner.EXIT_USAGE, "bad arguments or inputs (inventory, variables, policies): the message names what to fix"),
    (runner.EXIT_UNREACHABLE, "a host was unreachable"),
    (runner.EXIT_REFUSED, "a guard refused (destroy without --yes-destroy NAME)"),
)


class Progress:
    """Prints what a person can follow: phase, task, host, elapsed time; or JSON lines for tools."""

    def __init__(self, out: TextIO, as_json: bool):
        self.out = out
        self.as_json = as_json
        self.start = time.monotonic()
        # (step, seconds, changed) of every playbook run so far, for the summary
        self.timings: list[tuple[str, float, int]] = []
        # per host: what discovery and the plan returned (disks, nics, plan, plan_file), for the discover/plan summary
        self.hosts: dict[str, dict[str, Any]] = {}

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

    def _keep(self, data: dict[str, Any]) -> None:
        """Discovery facts, the plan and the plan file a task returned (typed data of the result, not its text)."""
        res = data.get("res") or {}
        facts = res.get("ansible_facts") or {}
        kept = {key: facts[fact] for key, fact in _KEPT_FACTS.items() if fact in facts}
        if data.get("task_action") in ("copy", "ansible.builtin.copy") and res.get("dest"):
            kept["plan_file"] = res["dest"]  # plan.yml's one copy: the plan written on the controller
        if kept:
            self.hosts.setdefault(data.get("host", ""), {}).update(kept)

    def runner_event(self, event: dict[str, Any]) -> None:
        kind = event.get("event", "")
        data = event.get("event_data", {})
        if kind == "runner_on_ok":
            self._keep(data)
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
        if failure.bad_input:  # the message first: it names the variable and the fix
            where = f"host {failure.host}, task '{failure.task}'" if failure.task else "before any task"
            out.write(f"\nbad input: {failure.msg}\n  ({where}; {failure.hint})\n")
            continue
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
    for name, step in steps:
        progress.emit("step", step=name)
        result = step()
        code = _report(progress, result)
        progress.timings.append((name, result.elapsed, result.changed))
        if code:
            return code
    if not progress.as_json:
        progress.out.write("\nPhase timings:\n")
        for name, secs, changed in progress.timings:
            progress.out.write(f"  {name:<10} {secs:7.1f}s  changed={changed}\n")
    return runner.EXIT_OK


def _sandbox_networks() -> dict[str, Any]:
    """The sandbox's networks, as inventories/sandbox/group_vars/all.yml defines them."""
    path = runner.ROOT / "inventories" / SANDBOX / "group_vars" / "all.yml"
    return (yaml.safe_load(path.read_text()) or {}).get("ciab_sandbox_networks", {})


def _summary(progress: Progress, inventory: str, limit: list[str] | None) -> None:
    """What the deploy left for the user: endpoints, clouds.yaml, CA, plan, how to reach the box, timings."""
    inv = runner.inventory_path(inventory)
    hosts = sorted(_inventory_hosts(inv))
    cache = runner.ROOT / ".cache"
    plans = [cache / "plan" / f"{h}.yml" for h in hosts if (cache / "plan" / f"{h}.yml").is_file()]
    boxes = [yaml.safe_load(p.read_text()) or {} for h in hosts if (p := cache / "summary" / f"{h}.yml").is_file()]
    box = boxes[0] if boxes else {}
    endpoints: dict[str, str] = box.get("endpoints") or {}
    reach = ""
    if _is_sandbox(inv):
        nets = _sandbox_networks()
        here = socket.getfqdn()
        here = here if here not in ("localhost", "localhost.localdomain") else socket.gethostname()
        subnets = " ".join(n["subnet"] for n in nets.values())
        reach = (
            f"the sandbox's addresses are reachable from this machine only; from another machine: "
            f"sshuttle -r root@{here} {subnets}   (or ssh -L PORT:ADDRESS:PORT root@{here})"
        )
    again = "".join(f" --limit {layer}" for layer in limit or [])
    data = {
        "inventory": str(inv),
        "plans": [str(p) for p in plans],
        "layers": box.get("layers") or limit,
        "endpoints": endpoints,
        "clouds": box.get("clouds", ""),
        "clouds_names": box.get("clouds_names", []),
        "ca": box.get("ca", ""),
        # {"url", "domain", "user", "password_file"} when Horizon is deployed
        "dashboard": box.get("dashboard") or {},
        # {"deployed": bool, "reason": str, "kubeconfig": str} when the k3s layer ran
        "kubernetes": box.get("kubernetes") or {},
        "secrets": str(cache / "secrets"),
        "reach": reach,
        "phases": [{"step": n, "seconds": round(s, 1), "changed": c} for n, s, c in progress.timings],
    }
    if progress.as_json:
        progress.emit("summary", **data)
        return
    lines = ["", "Summary:"]
    lines += [f"  plan:        {p}" for p in plans]
    lines += [f"  inventory:   {inv}", f"  layers:      {', '.join(data['layers'] or DEFAULT_LAYERS)}"]
    if endpoints:
        lines.append("  endpoints:")
        lines += [f"    {kind:<14} {url}" for kind, url in sorted(endpoints.items())]
    if data["clouds"]:
        lines.append(f"  clouds.yaml: {data['clouds']}  (CA: {data['ca']})")
        for name in data["clouds_names"]:
            lines.append(f"    OS_CLIENT_CONFIG_FILE={data['clouds']} openstack --os-cloud {name} token issue")
        lines.append("    on the box: openstack --os-cloud NAME ... (root, /etc/openstack/clouds.yaml)")
    if dash := data["dashboard"]:
        lines.append(
            f"  dashboard:   {dash.get('url', '')}  (domain {dash.get('domain', '')}, user {dash.get('user', '')},"
            f" password in {dash.get('password_file', '')})"
        )
    kube = data["kubernetes"]
    if kube:
        state = f"kubeconfig {kube.get('kubeconfig', '')}" if kube.get("deployed") else "not deployed: "
        lines.append(f"  kubernetes:  {state}{'' if kube.get('deployed') else kube.get('reason', '')}")
    lines.append(f"  secrets:     {data['secrets']}  (generated passwords, keys, CA: keep them, never commit them)")
    if reach:
        lines.append(f"  reach:       {reach}")
    lines.append(f"  rerun:       ciab -i {inventory} deploy{again}   (idempotent: a re-run changes nothing)")
    lines.append("  took:        " + ", ".join(f"{n} {s:.0f}s" for n, s, _ in progress.timings))
    progress.out.write("\n".join(lines) + "\n")


def _play(args: argparse.Namespace, progress: Progress, playbook: str, **kwargs: Any) -> Callable[[], runner.RunResult]:
    return lambda: runner.run(playbook, inventory=args.inventory, on_event=progress.runner_event, **kwargs)


def _hardware_summary(progress: Progress, command: str) -> None:
    """After discover and plan: per host the hardware found and, for plan, the plan and its file; --json gets
    all of it (disks, nics, plan) in one summary event."""
    hosts = {host: progress.hosts[host] for host in sorted(progress.hosts) if host}
    if progress.as_json:
        progress.emit("summary", command=command, hosts=hosts)
        return
    lines = ["", "Summary:"]
    for host, seen in hosts.items():
        parts = []
        if "disks" in seen:  # discovered in this run (an offline plan takes its facts from the inventory)
            eligible = sum(1 for d in seen["disks"] if d.get("eligible_for_osd"))
            parts.append(
                f"{len(seen['disks'])} disks ({eligible} eligible for OSDs), {len(seen.get('nics') or [])} NICs"
            )
        if seen.get("plan_file"):
            parts.append(f"plan {seen['plan_file']}")
        lines.append(f"  {host}: {'; '.join(parts) or 'nothing reported'}")
    if command == "discover":
        lines.append("  next:        ciab plan   (writes the reviewable plan, changes nothing on the node)")
    else:
        lines.append("  next:        review the plan, then ciab deploy")
    progress.out.write("\n".join(lines) + "\n")


def cmd_discover(args: argparse.Namespace, progress: Progress) -> int:
    code = _run_steps(progress, [("discover", _play(args, progress, "plan", tags=["discover"]))])
    if code == runner.EXIT_OK:
        _hardware_summary(progress, "discover")
    return code


def cmd_plan(args: argparse.Namespace, progress: Progress) -> int:
    code = _run_steps(progress, [("plan", _play(args, progress, "plan"))])
    if code == runner.EXIT_OK:
        _hardware_summary(progress, "plan")
    return code


def _layers(limit: list[str] | None) -> dict[str, Any]:
    """Runner arguments for the chosen layers: tags and ciab_layers, or neither (the inventory's ciab_layers)."""
    return {"tags": limit, "extravars": {"ciab_layers": limit}} if limit else {}


def _state_path(name: str) -> Path:
    """Where what was deployed to the inventory of that name is recorded."""
    return runner.ROOT / ".cache" / "state" / f"{name}.yml"


def _state_file(inventory: str) -> Path:
    return _state_path(runner.inventory_path(inventory).name)


def _state(inventory: str) -> dict[str, Any]:
    path = _state_file(inventory)
    return (yaml.safe_load(path.read_text()) or {}) if path.is_file() else {}


def _deployed_layers(inventory: str) -> list[str] | None:
    """The layers deployed to this inventory so far; None means the inventory's ciab_layers (or unknown)."""
    return _state(inventory).get("layers")


def _remember_layers(inventory: str, limit: list[str] | None, smoke_passed: bool = False) -> None:
    """After a successful deploy: --limit adds its layers to those deployed before; a full deploy records None.
    smoke_passed: the smoke test passed after this deploy (the next `sandbox up` that changes nothing keeps it)."""
    layers = None
    if limit:
        before = _deployed_layers(inventory) if _state_file(inventory).is_file() else []
        layers = None if before is None else [layer for layer in LAYERS if layer in {*before, *limit}]
    path = _state_file(inventory)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump({"layers": layers, "smoke_passed": smoke_passed}))


def _without_smoke(kwargs: dict[str, Any]) -> dict[str, Any]:
    return {**kwargs, "extravars": {**kwargs.get("extravars", {}), "ciab_verify_smoke": False}}


def cmd_deploy(args: argparse.Namespace, progress: Progress) -> int:
    code = _run_steps(progress, [("deploy", _play(args, progress, "site", **_layers(args.limit)))])
    if code == runner.EXIT_OK:
        _remember_layers(args.inventory, args.limit)
        _summary(progress, args.inventory, args.limit)
    return code


def cmd_verify(args: argparse.Namespace, progress: Progress) -> int:
    kwargs = _layers(args.limit)
    tempest = getattr(args, "tempest", None)
    summaries = _cleared(_host_files(args.inventory, "tempest")) if tempest else []
    if tempest:
        kwargs["extravars"] = {**kwargs.get("extravars", {}), "ciab_verify_tempest": tempest}
    if getattr(args, "no_smoke", False):
        kwargs = _without_smoke(kwargs)
    conformance = _cleared(_host_files(args.inventory, "conformance"))
    code = _run_steps(progress, [("verify", _play(args, progress, "verify", **kwargs))])
    if tempest:
        _tempest_summary(progress, summaries)
    _conformance_summary(progress, conformance, quiet=True)
    return code


def cmd_conformance(args: argparse.Namespace, progress: Progress) -> int:
    """The SCS-compatible IaaS standards, checked as the demo member; one line per requirement."""
    files = _cleared(_host_files(args.inventory, "conformance"))
    extravars = {"ciab_conformance_live": not args.read_only}
    code = _run_steps(progress, [("conformance", _play(args, progress, "conformance", extravars=extravars))])
    _conformance_summary(progress, files)
    return code


def _host_files(inventory: str, kind: str) -> list[Path]:
    """What a playbook wrote per host into .cache/<kind>/ on the controller (ciab.box.tempest's summary,
    the conformance results; they run on the first OpenStack controller); none for an
    inventory that does not parse (the run that needs it says why)."""
    try:
        hosts = runner.inventory_hosts(runner.inventory_path(inventory))
    except runner.CiabError:
        return []
    return [runner.ROOT / ".cache" / kind / f"{host}.yml" for host in sorted(hosts)]


def _cleared(files: list[Path]) -> list[Path]:
    """The files, with what an earlier run left there removed: no result of an earlier run is taken for this one."""
    for path in files:
        path.unlink(missing_ok=True)
    return files


def _conformance_summary(progress: Progress, files: list[Path], quiet: bool = False) -> None:
    """One line per SCS requirement: met, not met (or accepted, with the reason), not applicable."""
    paths = [path for path in files if path.is_file()]
    if not paths:
        if not quiet:
            progress.emit("message", text="The conformance checks did not run (the run stopped before them).")
        return
    data = yaml.safe_load(paths[0].read_text()) or {}
    results, accepted = data.get("results", []), data.get("accepted") or {}
    for item in results:
        if item["status"] == "not met" and item["id"] in accepted:
            item["status"], item["reason"] = "accepted", f"{accepted[item['id']]} ({item['reason']})"
    if progress.as_json:
        progress.emit("conformance", results=results)
        return
    counts = {status: sum(1 for r in results if r["status"] == status) for status in CONFORMANCE_STATUSES}
    lines = ["", "SCS conformance (as the demo member): " + ", ".join(f"{n} {s}" for s, n in counts.items())]
    lines += [
        f"  {r['status']:<14} {r['id']:<38} {'' if r['level'] == 'mandatory' else '(recommended) '}{r['reason']}"
        for r in results
    ]
    progress.out.write("\n".join(lines) + "\n")


def _tempest_summary(progress: Progress, summaries: list[Path]) -> None:
    """Tempest's counts, failed tests and log after `verify --tempest` (also when tests failed)."""
    paths = [path for path in summaries if path.is_file()]
    if not paths:
        progress.emit("message", text="Tempest did not run (the verify run stopped before it, or no OpenStack layer).")
        return
    path = paths[0]
    data = yaml.safe_load(path.read_text()) or {}
    if progress.as_json:
        progress.emit("tempest", **data)
        return
    counts = data.get("counts", {})
    lines = [
        "",
        f"Tempest ({data.get('set')}): {counts.get('total', 0)} tests in {data.get('seconds', 0)}s: "
        f"{counts.get('passed', 0)} passed, {counts.get('skipped', 0)} skipped, {counts.get('failed', 0)} failed",
    ]
    lines += [f"  failed: {test}" for test in data.get("failed", [])]
    lines.append(f"  log:    {data.get('log', '')} (on the box)")
    progress.out.write("\n".join(lines) + "\n")


def cmd_status(args: argparse.Namespace, progress: Progress) -> int:
    """Verify the layers deployed to this inventory (as `ciab deploy` recorded them), or the inventory's layers.
    Read-only: without the smoke test, which makes servers."""
    kwargs = _without_smoke(_layers(_deployed_layers(args.inventory)))
    return _run_steps(progress, [("status", _play(args, progress, "verify", **kwargs))])


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
    # The sandbox too: its cloud is removed, the container stays (`ciab sandbox down` removes that).
    extravars = {"ceph_destroy_keep_osd_disks": True} if args.keep_osd_disks else {}
    destroy = _play(args, progress, "destroy", limit=args.confirm, extravars=extravars)
    code = _run_steps(progress, [("destroy", destroy)])
    if code == runner.EXIT_OK:
        _state_file(args.inventory).unlink(missing_ok=True)  # nothing is deployed any more
    return code


def _archive(path: str) -> str:
    """The archive `ciab restore` reads, as an absolute path; none is a usage error."""
    archive = Path(path).expanduser().resolve()
    if not archive.is_file():
        raise runner.CiabError(f"restore: {path} is not a file; name the archive `ciab backup` wrote (its path)")
    return str(archive)


def cmd_backup(args: argparse.Namespace, progress: Progress) -> int:
    """One archive (0600, on this controller) with what rebuilds the control plane: see playbooks/backup.yml."""
    if args.output:
        archive = Path(args.output).expanduser().resolve()
    else:
        stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
        archive = runner.ROOT / ".cache" / "backup" / f"{runner.inventory_path(args.inventory).name}-{stamp}.tar.gz"
    extravars: dict[str, Any] = {"ciab_backup_file": str(archive)}
    if (deployed := _deployed_layers(args.inventory)) is not None:  # what `ciab deploy --limit` deployed
        extravars["ciab_layers"] = deployed
    code = _run_steps(progress, [("backup", _play(args, progress, "backup", extravars=extravars))])
    if code == runner.EXIT_OK:
        progress.emit("message", text=f"backup: {archive} (mode 0600; it holds every secret of the cloud)")
    return code


def cmd_restore(args: argparse.Namespace, progress: Progress) -> int:
    """The archive's cloud back onto its box (new system disk, the OSD disks adopted): see playbooks/restore.yml."""
    restore = _play(args, progress, "restore", extravars={"ciab_restore_archive": _archive(args.archive)})
    code = _run_steps(progress, [("restore", restore)])
    if code == runner.EXIT_OK:
        _remember_layers(args.inventory, None)
        _summary(progress, args.inventory, None)
    return code


def _is_sandbox(inventory: Path) -> bool:
    """Only this checkout's own inventories/sandbox (and sandbox-two) is the local sandbox, not any directory of that
    name."""
    return inventory.resolve() in {(runner.ROOT / "inventories" / name).resolve() for name in (SANDBOX, SANDBOX_TWO)}


def _inventory_hosts(inventory: Path) -> set[str]:
    """The inventory's hosts as Ansible parses it (YAML, INI, directories); a bad inventory is a usage error."""
    return set(runner.inventory_hosts(inventory))


def _sandbox(args: argparse.Namespace, progress: Progress, state: str) -> int:
    nodes = getattr(args, "nodes", 1)
    inventory = SANDBOX_TWO if nodes == 2 else SANDBOX
    up = _play(args, progress, "sandbox", extravars={"ciab_sandbox_state": state, "ciab_sandbox_nodes": nodes})
    # What was deployed to the sandbox is recorded afresh by each `sandbox up` and forgotten by `sandbox down`.
    smoke_passed = bool(_state(inventory).get("smoke_passed"))
    for name in (SANDBOX, SANDBOX_TWO):
        _state_path(name).unlink(missing_ok=True)
    if state == "down":
        return _run_steps(progress, [("sandbox down", up)])
    args.inventory = inventory
    limit = getattr(args, "limit", None)
    smoke = {"run": limit is None or "openstack" in limit, "kept": False}

    def verify() -> runner.RunResult:
        kwargs = _layers(limit)
        if smoke["run"] and smoke_passed and dict((n, c) for n, _, c in progress.timings).get("deploy") == 0:
            # The smoke test makes servers (about 100 s on the sandbox): it passed after the deploy this one
            # repeated without a change, so its result stands. The read-only checks run.
            smoke.update(run=False, kept=True)
            progress.emit(
                "message",
                text="verify: the smoke test is left out: it passed after the last deploy and this deploy changed "
                f"nothing (ciab -i {inventory} verify runs it)",
            )
            kwargs = _without_smoke(kwargs)
        return runner.run("verify", inventory=args.inventory, on_event=progress.runner_event, **kwargs)

    steps = [
        ("sandbox", up),
        ("discover", _play(args, progress, "plan", tags=["discover"])),
        ("plan", _play(args, progress, "plan")),
        ("deploy", _play(args, progress, "site", **_layers(limit))),
        ("verify", verify),
    ]
    conformance = _cleared(_host_files(inventory, "conformance"))
    code = _run_steps(progress, steps)
    _conformance_summary(progress, conformance, quiet=True)
    if code == runner.EXIT_OK:
        _remember_layers(inventory, limit, smoke_passed=smoke["run"] or smoke["kept"])
        _summary(progress, inventory, limit)
    return code


def cmd_sandbox(args: argparse.Namespace, progress: Progress) -> int:
    return _sandbox(args, progress, args.action)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="ciab",
        description="Cloud-in-a-Box: one server to a sovereign cloud.",
        epilog="exit codes:\n" + "\n".join(f"  {code}  {text}" for code, text in EXIT_CODES),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"ciab {__version__}")
    parser.add_argument("-i", "--inventory", default="localhost", help="inventory name under inventories/ or a path")
    parser.add_argument("--json", action="store_true", help="print JSON events, one per line, for tools")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name, func, text in (
        ("discover", cmd_discover, "read disks and NICs of the nodes (changes nothing)"),
        ("plan", cmd_plan, "discover and write the reviewable plan (changes nothing)"),
        ("status", cmd_status, "show whether the deployed layers answer"),
    ):
        sub.add_parser(name, help=text, description=text).set_defaults(func=func)
    for name, func, text in (
        ("deploy", cmd_deploy, "deploy the layers"),
        ("verify", cmd_verify, "check that what is deployed answers"),
    ):
        p = sub.add_parser(name, help=text, description=text)
        p.add_argument("--limit", action="append", choices=LAYERS, metavar="LAYER", help=f"one of {', '.join(LAYERS)}")
        p.set_defaults(func=func)
        if name == "verify":
            p.add_argument(
                "--tempest",
                nargs="?",
                const="smoke",
                choices=TEMPEST_SETS,
                metavar="SET",
                help="also run OpenStack's Tempest tests on the box: smoke (default; minutes) or api (every API "
                "test of the deployed services; about an hour on the 2-core sandbox)",
            )
            p.add_argument(
                "--no-smoke",
                action="store_true",
                help="leave out ciab's smoke test (a server with a volume and a floating IP, made and deleted)",
            )
    text = "check the cloud against the SCS-compatible IaaS standards, as the demo member"
    p = sub.add_parser("conformance", help=text, description=text)
    p.add_argument(
        "--read-only",
        action="store_true",
        help="only read (no volume backup, secret or domain manager round trip)",
    )
    p.set_defaults(func=cmd_conformance)
    text = "remove the cloud from a box (asks for the box's name)"
    p = sub.add_parser("destroy", help=text, description=text)
    p.add_argument("--yes-destroy", dest="confirm", metavar="NAME", default="", help="the box to destroy")
    p.add_argument(
        "--keep-osd-disks",
        action="store_true",
        help="leave the OSD disks as they are (their data stays for ciab restore of a backup)",
    )
    p.set_defaults(func=cmd_destroy)
    text = "write one archive (0600, on this machine) with what rebuilds the cloud's control plane"
    p = sub.add_parser("backup", help=text, description=text)
    p.add_argument("--output", metavar="FILE", help="the archive (default .cache/backup/BOX-TIME.tar.gz)")
    p.set_defaults(func=cmd_backup)
    text = "bring the cloud of a backup back onto its box (new system disk; the OSD disks are adopted)"
    p = sub.add_parser("restore", help=text, description=text)
    p.add_argument("archive", metavar="ARCHIVE", help="the archive ciab backup wrote")
    p.set_defaults(func=cmd_restore)
    text = "the whole cloud in a local systemd container"
    p = sub.add_parser("sandbox", help=text, description=text)
    p.add_argument("action", choices=("up", "down"))
    p.add_argument("--limit", action="append", choices=LAYERS, metavar="LAYER", help=f"one of {', '.join(LAYERS)}")
    p.add_argument(
        "--nodes",
        type=int,
        choices=(1, 2),
        default=1,
        help="boxes (up): 2 adds ciab-sandbox-2, a compute node, chassis and OSD host (inventories/sandbox-two)",
    )
    p.set_defaults(func=cmd_sandbox)
    return parser


def main(argv: Sequence[str] | None = None, out: TextIO | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    progress = Progress(out or sys.stdout, args.json)
    try:
        if args.command != "sandbox":  # (the sandbox's own inventory)
            runner.inventory_hosts(args.inventory)  # parsed as Ansible does, with hosts: else exit 2 before any run
        return args.func(args, progress)
    except runner.CiabError as exc:
        if args.json:
            progress.emit("error", text=str(exc))
        else:
            sys.stderr.write(f"ciab: error: {exc}\n")
        return runner.EXIT_USAGE


if __name__ == "__main__":
    sys.exit(main())
