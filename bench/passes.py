"""The measured runs. Each builds a fresh :class:`~bench.stack.Stack`, so no run inherits
another's contacts, cache, queue or rows.

- :func:`naive_run`: the baseline, a sample of the workload through plain RQ jobs.
- :func:`engine_run`: emit the whole workload, then time N ``worker.py`` processes until every
  delivery is finished (or a time cap passes: then the rate is what finished by the cap).
- :func:`throttled_run`: the simulator throttled, the engine limited to the same rate.
"""

from __future__ import annotations

import datetime as dt
import sys
import threading
import time
import traceback
from concurrent.futures import ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rq import Queue
from rq.job import Job
from sqlalchemy import func, select

from addon.store.models import FINISHED, Delivery, Event

from . import naive, workload
from .stack import APP_ID, PASSWORD, USERNAME, CpuReading, Snapshot, Stack

#: How often a timed run looks whether every delivery is finished.
POLL_SECONDS = 1.0


@dataclass
class Throughput:
    """A timed drain of a known amount of work."""

    expected: int
    finished: int = 0
    failed: int = 0
    seconds: float = 0.0
    calls: int = 0
    rss_mb: float = 0.0
    complete: bool = False
    #: Events whose rules were matched by the end (tells a slow expansion from a slow drain).
    expanded: int = 0
    events: int = 0
    emit_s: list[float] = field(default_factory=list)
    enqueue_s: list[float] = field(default_factory=list)
    #: CPU used from the workers' start to the end of the run (None: not measured).
    cpu: CpuReading | None = None
    #: When the first worker registered and the last delivery finished (naive UTC).
    began: dt.datetime | None = None
    ended: dt.datetime | None = None

    @property
    def rate(self) -> float:
        return self.finished / self.seconds if self.seconds > 0 else 0.0

    @property
    def calls_per_delivery(self) -> float:
        return self.calls / self.finished if self.finished else float("nan")


@dataclass
class Throttled:
    expected: int
    finished: int
    failed: int
    seconds: float
    calls: int
    max_per_minute: int
    throttled: int
    limit: int


def say(message: str) -> None:
    print(f"  · {message}", file=sys.stderr, flush=True)


def percentile(values: list[float], pct: float) -> float:
    """Nearest-rank percentile (``pct`` in 0..100); NaN for no values."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    rank = max(0, min(len(ordered) - 1, round(pct / 100 * len(ordered) + 0.5) - 1))
    return ordered[rank]


def fresh_stack(
    options: Any,
    latency: float,
    settings: dict | None = None,
    profile: str | None = None,
    snapshot: Snapshot | None = None,
) -> tuple[Stack, dict]:
    folder = getattr(options, "profile", None)
    stack = Stack(
        settings,
        redis_url=options.redis_url,
        database_uri=options.database_uri,
        profile=Path(folder) / profile if folder and profile else None,
        snapshot=snapshot,
    )
    lists = stack.register_account(workload.LISTS)
    if latency:
        stack.set_faults(latency=latency)
    return stack, lists


# -- the baseline -------------------------------------------------------------------------


def naive_run(options: Any, latency: float, sample: int) -> Throughput:
    """``sample`` deliveries (the workload's first ``sample / 2`` events) as one RQ job each."""
    stack, lists = fresh_stack(options, latency)
    try:
        queue = Queue(naive.QUEUE, connection=stack.redis)
        headers = naive.api_headers(APP_ID, USERNAME, PASSWORD)
        api_url = stack.simulator_url + "/icp"
        jobs = []
        for purchase in workload.purchases(options.customers)[: sample // 2]:
            for name in purchase.list_names():
                args = (
                    api_url,
                    headers,
                    stack.account_path,
                    purchase.email,
                    purchase.first_name,
                    lists[name],
                )
                jobs.append(queue.enqueue(naive.subscribe_customer, *args).id)
        result = Throughput(expected=len(jobs))
        calls_before = stack.stats()["total_calls"]
        command = ["-m", "bench.naive", "--redis-url", stack.redis_url]
        started = stack.start_workers(1, command)
        deadline = time.monotonic() + options.cap
        process = stack.workers[0]
        while process.poll() is None and time.monotonic() < deadline:
            time.sleep(0.1)
        result.rss_mb = stack.peak_rss_mb()
        result.complete = process.poll() is not None
        stopped = _utcnow()
        stack.stop_workers()
        done = [job for job in Job.fetch_many(jobs, connection=stack.redis) if job is not None]
        ended = [job.ended_at for job in done if job.is_finished and job.ended_at]
        result.finished = len(ended)
        result.failed = sum(1 for job in done if job.is_failed)
        result.complete = result.complete and result.finished == result.expected
        end = _naive(max(ended)) if ended and result.complete else stopped
        result.seconds = (end - started).total_seconds()
        result.calls = stack.stats()["total_calls"] - calls_before
        return result
    finally:
        stack.close()


# -- the engine ---------------------------------------------------------------------------


@dataclass
class Emitted:
    """The workload emitted once, kept as a snapshot for the timed runs to start from."""

    snapshot: Snapshot | None
    expected: int
    emit_s: list[float]
    enqueue_s: list[float]


def emit_workload(options: Any, folder: Path) -> Emitted:
    """Emit the whole workload into a fresh stack (timing each emit and, in the same process
    and Redis, bare enqueues) and snapshot the result into ``folder``.

    With ``--database-uri`` there is no snapshot: each timed run then emits again.
    """
    stack, lists = fresh_stack(options, 0.0)
    try:
        workload.set_up_marketplace(stack.app, USERNAME, PASSWORD)
        batch = workload.purchases(options.customers)
        enqueue_s = workload.bare_enqueue(stack.redis_url, options.bare_enqueues)
        say(f"emitting {len(batch)} events")
        emit_s = workload.emit_all(stack.app, batch)
        say(f"emitted in {sum(emit_s):.0f} s")
        snapshot = None if options.database_uri else stack.take_snapshot(folder, lists)
        return Emitted(snapshot, 2 * len(batch), emit_s, enqueue_s)
    finally:
        stack.close()


def engine_run(
    options: Any,
    latency: float,
    workers: int,
    emitted: Emitted,
    ready: threading.Barrier | None = None,
    label: str = "",
) -> Throughput:
    """Time ``workers`` worker processes draining the emitted workload on a fresh stack.

    Args:
        ready: waited on once the stack is up, right before the workers start (runs timed
            side by side start together).
        label: tells this run's profile folder from another's taken at the same time.
    """
    profile = f"{round(latency * 1000)}ms-{workers}w{label}"
    stack, lists = fresh_stack(options, latency, profile=profile, snapshot=emitted.snapshot)
    try:
        result = Throughput(expected=emitted.expected)
        if emitted.snapshot is None:
            workload.set_up_marketplace(stack.app, USERNAME, PASSWORD)
            batch = workload.purchases(options.customers)
            result.enqueue_s = workload.bare_enqueue(stack.redis_url, options.bare_enqueues)
            say(f"emitting {len(batch)} events")
            result.emit_s = workload.emit_all(stack.app, batch)
            stack.analyze()
        else:
            result.emit_s, result.enqueue_s = emitted.emit_s, emitted.enqueue_s
        calls_before = stack.stats()["total_calls"]
        say(f"{workers} worker(s) draining {result.expected} deliveries")
        if ready is not None:
            ready.wait()
        result.began = started = stack.start_workers(workers)
        before = stack.cpu()
        _wait_for_deliveries(stack, result, started, options.cap)
        result.cpu = stack.cpu() - before
        result.rss_mb = stack.peak_rss_mb()
        stack.stop_workers()
        result.calls = stack.stats()["total_calls"] - calls_before
        return result
    finally:
        stack.close()


def side_by_side(options: Any, latency: float, emitted: Emitted) -> list[Throughput]:
    """Two one-worker runs at once, each on a stack of its own (Redis, database, simulator):
    they share nothing but the machine, so together they show the most that two workers can
    get out of it, the ceiling for ``scale_2w``.

    Returns:
        No runs when ``--redis-url`` or ``--database-uri`` names a server: both stacks would
        share (and empty) it.
    """
    if options.redis_url or options.database_uri:
        say("side by side: skipped, --redis-url and --database-uri name one shared server")
        return []
    ready = threading.Barrier(2)

    def one(side: int) -> Throughput:
        try:
            return engine_run(options, latency, 1, emitted, ready, label=f"-side{side}")
        except BaseException:
            ready.abort()  # the other run must not wait at the barrier for this one
            raise

    with ThreadPoolExecutor(2) as pool:
        runs = [pool.submit(one, side) for side in (1, 2)]
        wait(runs)
    errors = [error for run in runs if (error := run.exception()) is not None]
    if not errors:
        return [run.result() for run in runs]
    # A figure missing from the table, not a lost benchmark. The side that failed first tells
    # why; the other only saw the barrier broken.
    cause = next((e for e in errors if not isinstance(e, threading.BrokenBarrierError)), errors[0])
    say(f"side by side: failed ({type(cause).__name__}: {cause}); the ceiling reads n/a")
    traceback.print_exception(cause, file=sys.stderr)
    return []


def _wait_for_deliveries(stack: Stack, result: Throughput, started: dt.datetime, cap: float):
    """Poll the database until every expected delivery is finished or ``cap`` seconds pass."""
    deadline = time.monotonic() + cap
    next_note = time.monotonic() + 15
    while True:
        counts, last = delivery_counts(stack)
        result.finished = sum(counts.get(status, 0) for status in FINISHED)
        result.failed = counts.get("failed", 0)
        if result.finished >= result.expected:
            result.complete = True
            result.ended = last
            result.seconds = (last - started).total_seconds()
            return
        now = time.monotonic()
        if now >= deadline:
            result.ended = _utcnow()
            result.seconds = (result.ended - started).total_seconds()
            result.expanded, result.events = _expanded(stack)
            say(
                f"time cap: {result.finished}/{result.expected} finished in {cap:.0f} s "
                f"({result.expanded}/{result.events} events expanded)"
            )
            return
        if now >= next_note:
            next_note = now + 15
            say(f"{result.finished}/{result.expected} finished")
        # Rarely: each look reads the whole delivery table, on the cores being measured. The
        # end is when the last delivery finished (its finished_at), not when a look saw it.
        time.sleep(POLL_SECONDS)


def _expanded(stack: Stack) -> tuple[int, int]:
    """How many events have been expanded into deliveries, of how many."""
    with stack.app.app_context():
        session = stack.app.extensions["addon"].db.session
        try:
            total = session.scalar(select(func.count()).select_from(Event)) or 0
            waiting = session.scalar(
                select(func.count()).select_from(Event).where(Event.expanded_at.is_(None))
            )
        finally:
            session.remove()
    return total - (waiting or 0), total


def delivery_counts(stack: Stack) -> tuple[dict[str, int], dt.datetime | None]:
    with stack.app.app_context():
        session = stack.app.extensions["addon"].db.session
        try:
            rows = session.execute(select(Delivery.status, func.count()).group_by(Delivery.status))
            counts = {status: n for status, n in rows}
            last = session.scalar(select(func.max(Delivery.finished_at)))
        finally:
            session.remove()
    return counts, last


# -- the throttle -------------------------------------------------------------------------


def throttled_run(options: Any, limit: int) -> Throttled:
    """A smaller workload against a simulator that 503s beyond ``limit`` calls a minute."""
    settings = {"ADDON_ICONTACT_CALLS_PER_MINUTE": limit}
    stack = Stack(settings, redis_url=options.redis_url, database_uri=options.database_uri)
    try:
        stack.register_account(workload.LISTS)
        stack.set_faults(calls_per_minute=limit)
        workload.set_up_marketplace(stack.app, USERNAME, PASSWORD)
        batch = workload.purchases(options.throttle_customers, prefix="t")
        workload.emit_all(stack.app, batch)
        result = Throughput(expected=2 * len(batch))
        calls_before = stack.stats()["total_calls"]
        say(f"2 workers draining {result.expected} deliveries at {limit} calls/min")
        started = stack.start_workers(2)
        _wait_for_deliveries(stack, result, started, options.throttle_cap)
        stack.stop_workers()
        stats = stack.stats()
        return Throttled(
            expected=result.expected,
            finished=result.finished,
            failed=result.failed,
            seconds=result.seconds,
            calls=stats["total_calls"] - calls_before,
            max_per_minute=stats["max_per_minute"],
            throttled=stats["throttled"],
            limit=limit,
        )
    finally:
        stack.close()


def _utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)


def _naive(moment: dt.datetime) -> dt.datetime:
    if moment.tzinfo is None:
        return moment
    return moment.astimezone(dt.UTC).replace(tzinfo=None)
