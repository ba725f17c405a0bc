"""A one-line description of the machine a benchmark ran on."""

from __future__ import annotations

import datetime as dt
import os
import platform
import sqlite3
import time
from pathlib import Path

#: Iterations of the yardstick loop (about 1-4 s of one core on the machines seen so far).
YARDSTICK_LOOPS = 30_000_000


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def yardstick() -> float:
    """Seconds one core takes for a plain Python loop. Shared VMs of the same kind differ by
    a factor of three, and one VM drifts by half within an hour: rates from runs whose
    yardsticks differ are not comparable."""
    started = time.perf_counter()
    total = 0
    for number in range(YARDSTICK_LOOPS):
        total += number
    return time.perf_counter() - started


def describe(yardsticks: tuple[float, ...] = ()) -> str:
    """nproc, CPU model, Python and SQLite versions, the date (UTC), the load average (other
    work on the machine skews every figure, so the reader should know of it) and the
    yardstick loop's seconds when it was timed."""
    now = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
    load = " / ".join(f"{n:.1f}" for n in os.getloadavg())
    speed = ""
    if yardsticks:
        timed = " and ".join(f"{seconds:.2f} s" for seconds in yardsticks)
        speed = f"; a {YARDSTICK_LOOPS:,}-step Python loop took {timed} (start and end)"
    return (
        f"machine: {len(os.sched_getaffinity(0))} cores (nproc), {cpu_model()}; "
        f"Python {platform.python_version()}, SQLite {sqlite3.sqlite_version}; {now}; "
        f"load average {load} (1/5/15 min) at the end{speed}"
    )
