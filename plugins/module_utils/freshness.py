# Copyright: Cloud-in-a-Box developers
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0)
"""Is a running service older than its configuration? A run that writes a config file and dies before its handler
restarts the service leaves exactly that: the file is current (the next run reports no change) but the process
still runs the old one. Comparing the process's start with the newest input file finds it on the next run."""

from __future__ import annotations

import fnmatch
import os

# Configuration-like files under an input directory; key material (Keystone's fernet-keys/0, ...) has no suffix
# and rotates without needing a restart.
PATTERNS = ("*.conf", "*.ini", "*.json", "*.yaml", "*.filters", "*.service", "*.cnf", "*.config", "*.crt", "*.key")


def newest_input(paths: list[str], patterns: tuple[str, ...] = PATTERNS) -> tuple[float, str] | None:
    """(mtime, path) of the newest file among paths: a file counts itself, a directory counts the files below it
    whose name matches a pattern. Missing paths are skipped; None when nothing is found."""
    newest = None
    for path in paths:
        if os.path.isfile(path):
            candidates = [path]
        else:
            candidates = [
                os.path.join(top, name)
                for top, _dirs, names in os.walk(path)
                for name in names
                if any(fnmatch.fnmatch(name, pattern) for pattern in patterns)
            ]
        for candidate in candidates:
            try:
                mtime = os.stat(candidate).st_mtime
            except OSError:
                continue
            if newest is None or mtime > newest[0]:
                newest = (mtime, candidate)
    return newest


def parse_show(text: str) -> dict:
    """`systemctl show -p ...` output (Key=Value lines) as a dict."""
    return dict(line.split("=", 1) for line in text.splitlines() if "=" in line)


def process_started(show: dict, wall_now: float, monotonic_now: float) -> float | None:
    """Wall-clock start of the unit's main process from ExecMainStartTimestampMonotonic (microseconds), or None when
    the unit is not active or has no main process (nothing to restart then: a start reads the current files)."""
    monotonic_us = int(show.get("ExecMainStartTimestampMonotonic") or 0)
    if show.get("ActiveState") != "active" or monotonic_us == 0:
        return None
    return wall_now - (monotonic_now - monotonic_us / 1e6)
