# Copyright: Cloud-in-a-Box developers
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0)
"""Tempest's results: the CSV of ``stestr last --subunit | subunit2csv`` counted for the summary."""

from __future__ import annotations

import csv
import io
from datetime import datetime

# subunit2csv's status column (testtools' TestByTestResult) -> the summary's count
OUTCOMES = {"success": "passed", "xfail": "passed", "skip": "skipped", "failure": "failed", "error": "failed"}


def summarize(text: str) -> dict:
    """Counts (total, passed, skipped, failed), the failed tests' ids, sorted, and the run's wall-clock seconds.
    A status outside OUTCOMES counts as failed: nothing unknown passes."""
    counts = {"total": 0, "passed": 0, "skipped": 0, "failed": 0}
    failed, times = [], []
    for row in csv.DictReader(io.StringIO(text)):
        outcome = OUTCOMES.get(row["status"], "failed")
        counts["total"] += 1
        counts[outcome] += 1
        if outcome == "failed":
            failed.append(row["test"])
        for key in ("start_time", "stop_time"):
            if row.get(key) and row[key] != "None":
                times.append(datetime.fromisoformat(row[key]))
    seconds = round((max(times) - min(times)).total_seconds()) if times else 0
    return {"counts": counts, "failed_tests": sorted(failed), "seconds": seconds}
