"""Cold sandbox deploy and an idempotent re-run, through the same runner API the CLI uses. Prints figures.

    sudo .venv/bin/python bench/sandbox.py [--keep]

Targets (issue 7): re-run <= 60 s with changed=0; per-task overhead <= 40 ms. Nothing here asserts them.
"""

import argparse
import sys
import time

from ciab import cli, runner


def timed(label, playbook, **kwargs):
    result = runner.run(playbook, **kwargs)
    status = "ok" if result.ok else "FAILED"
    print(f"{label:<22} {result.elapsed:7.1f}s  tasks={result.tasks:<4} changed={result.changed:<4} {status}")
    if not result.ok:
        for failure in result.failures:
            print(f"  {failure.host}: {failure.task}: {failure.msg}", file=sys.stderr)
        sys.exit(1)
    return result


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--keep", action="store_true", help="leave the sandbox running afterwards")
    args = parser.parse_args()

    timed("sandbox down", "sandbox", extravars={"ciab_sandbox_state": "down"})
    start = time.monotonic()
    timed("sandbox container", "sandbox", extravars={"ciab_sandbox_state": "up"})
    timed("plan", "plan", inventory=cli.SANDBOX)
    cold = timed("deploy (cold)", "site", inventory=cli.SANDBOX)
    cold_total = time.monotonic() - start
    rerun = timed("deploy (re-run)", "site", inventory=cli.SANDBOX)
    noop = timed("no-op play (overhead)", "verify", inventory=cli.SANDBOX)

    print()
    print(f"cold sandbox to deployed:  {cold_total:.1f}s ({cold.tasks} deploy tasks)")
    print(f"idempotent re-run:         {rerun.elapsed:.1f}s, changed={rerun.changed} (target <= 60 s, changed=0)")
    print(f"per-task wall time re-run: {1000 * rerun.elapsed / max(rerun.tasks, 1):.0f} ms (target <= 40 ms)")
    print(f"per-task wall time verify: {1000 * noop.elapsed / max(noop.tasks, 1):.0f} ms (3 read-only commands)")
    if not args.keep:
        timed("sandbox down", "sandbox", extravars={"ciab_sandbox_state": "down"})


if __name__ == "__main__":
    main()
