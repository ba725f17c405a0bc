"""A one-line description of the machine a benchmark ran on."""

from __future__ import annotations

import datetime as dt
import os
import platform
import sqlite3
from pathlib import Path


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def describe() -> str:
    """nproc, CPU model, Python and SQLite versions, the date (UTC) and the load average:
    other work on the machine skews every figure, so the reader should know of it."""
    now = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
    load = " / ".join(f"{n:.1f}" for n in os.getloadavg())
    return (
        f"machine: {len(os.sched_getaffinity(0))} cores (nproc), {cpu_model()}; "
        f"Python {platform.python_version()}, SQLite {sqlite3.sqlite_version}; {now}; "
        f"load average {load} (1/5/15 min) at the end"
    )
