"""Waiting for a node to reach a state, shared by the scenarios' testinfra checks."""

import time


def wait_for(host, command, predicate=lambda out: True, timeout=180):
    """Run ``command`` on ``host`` until it succeeds and ``predicate(stdout)`` holds; returns its stdout.

    Asserts, naming the command and its last output, when ``timeout`` seconds pass first.
    """
    deadline = time.monotonic() + timeout
    while True:
        result = host.run(command)
        if result.rc == 0 and predicate(result.stdout):
            return result.stdout
        assert time.monotonic() < deadline, f"{command}: rc={result.rc} {result.stdout} {result.stderr}"
        time.sleep(3)
