"""The allowance pass (``bench-allowance``): the standard burst drained at a real merchant's
iContact allowance, 60 calls a minute, in the engine (``ADDON_ICONTACT_CALLS_PER_MINUTE``) and
in the simulator (503 beyond it), from a cold contact cache.

For a real merchant the binding limit is the allowance, not CPU: what this pass measures is how
many calls the burst needs and so how many minutes of the merchant's allowance it takes.

It runs in real time (k = 1): the engine's token bucket holds a tenth of the allowance as a
burst, so an allowance scaled up k times would let k times that burst into a simulator minute
scaled down k times, and the busiest minute would read more than the merchant's.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from typing import Any

from . import workload
from .passes import Emitted, Throughput, _wait_for_deliveries, fresh_stack, say
from .stack import PASSWORD, USERNAME


@dataclass
class Allowance:
    limit: int
    expected: int
    finished: int = 0
    failed: int = 0
    seconds: float = 0.0
    calls: int = 0
    max_per_minute: int = 0
    throttled: int = 0
    #: Calls by kind (``GET contacts?email``...), from the simulator.
    kinds: dict[str, int] = field(default_factory=dict)

    @property
    def minutes(self) -> float:
        return self.seconds / 60

    @property
    def calls_per_delivery(self) -> float:
        return self.calls / self.finished if self.finished else float("nan")

    @property
    def all_failed(self) -> int:
        """Failed deliveries, and those the time cap left unfinished."""
        return self.failed + (self.expected - self.finished)


def allowance_run(options: Any, emitted: Emitted, limit: int = 60) -> Allowance:
    """Two workers drain the emitted workload at ``limit`` calls a minute.

    The calls counted are the workers' (the connect's contact sync among them), not the
    merchant's connect itself.
    """
    settings = {"ADDON_ICONTACT_CALLS_PER_MINUTE": limit}
    stack, _lists = fresh_stack(
        options, 0.0, settings=settings, profile="allowance", snapshot=emitted.snapshot
    )
    try:
        stack.set_faults(calls_per_minute=limit)
        if emitted.snapshot is None:
            workload.set_up_marketplace(stack.app, USERNAME, PASSWORD)
            workload.emit_all(stack.app, workload.purchases(options.customers))
            stack.analyze()
        before = stack.stats()
        result = Allowance(limit=limit, expected=emitted.expected)
        say(f"2 workers draining {result.expected} deliveries at {limit} calls/min")
        timed = Throughput(expected=emitted.expected)
        started = stack.start_workers(2)
        _wait_for_deliveries(stack, timed, started, options.allowance_cap)
        stack.stop_workers()
        after = stack.stats()
        result.finished, result.failed, result.seconds = timed.finished, timed.failed, timed.seconds
        result.calls = after["total_calls"] - before["total_calls"]
        result.max_per_minute = after["max_per_minute"]
        result.throttled = after["throttled"] - before["throttled"]
        kinds_before = before.get("kinds", {})
        result.kinds = {
            kind: count - kinds_before.get(kind, 0)
            for kind, count in sorted(after.get("kinds", {}).items(), key=lambda kv: -kv[1])
            if count - kinds_before.get(kind, 0)
        }
        return result
    finally:
        stack.close()


def describe(run: Allowance) -> str:
    """The pass in words, for the table's foot."""
    kinds = ", ".join(f"{kind} {count}" for kind, count in run.kinds.items())
    return (
        f"allowance pass ({run.limit} calls/min in the simulator and the engine, real time, "
        f"cold cache, 2 workers): {run.finished:,}/{run.expected:,} deliveries in "
        f"{run.minutes:.1f} min, {run.calls} calls ({kinds}), busiest minute "
        f"{run.max_per_minute}, {run.throttled} throttled, {run.all_failed} failed "
        "(targets: ≤ 7 min, ≤ 0.02 calls/delivery, busiest minute ≤ 60, 0 failed)"
    )


def summary(run: Allowance) -> str:
    """The ``bench-allowance:`` line."""
    return (
        f"bench-allowance: minutes_at_60cpm={run.minutes:.2f} calls={run.calls} "
        f"calls_per_delivery={run.calls_per_delivery:.4f} "
        f"max_calls_per_min={run.max_per_minute} failed={run.all_failed}"
    )


if __name__ == "__main__":  # pragma: no cover - run through bench/run.py
    sys.exit("run: python bench/run.py --passes allowance [--quick]")
