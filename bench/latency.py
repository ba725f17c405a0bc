"""Latency under a steady load: workers running, storefront processes emit at a fixed rate,
and every (list, new customer) is timed from just before its emit to the simulator storing the
subscription (see ``bench/simulator.py`` and ``bench/emitter.py``)."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select

from addon.store.models import Delivery, Event

from . import workload
from .passes import delivery_counts, fresh_stack, say
from .stack import PASSWORD, ROOT, USERNAME, CpuReading, Stack


@dataclass
class Latency:
    """Emit → subscription stored in the simulator, per (list, customer)."""

    pairs: int
    seconds: list[float]
    missing: int
    emit_rate: float
    emit_s: list[float]
    rss_mb: float
    failed: int
    #: Per delivery: event stored → delivery written (rules matched), written → finished.
    to_expand: list[float] = field(default_factory=list)
    to_finish: list[float] = field(default_factory=list)
    #: From the first emit until every subscription was stored (or the wait ended).
    cpu: CpuReading | None = None
    #: CPU seconds of the emitting processes over the same span.
    emitters_cpu_s: float = 0.0


def e2e_run(options: Any, latency: float) -> Latency:
    """Workers running, emit ``e2e_rate`` events/s for ``e2e_seconds`` from ``emitters``
    storefront processes; time every (list, new customer) from just before its emit to the
    simulator storing the subscription."""
    profile = f"e2e-{round(latency * 1000)}ms"
    stack, lists = fresh_stack(options, latency, profile=profile)
    try:
        workload.set_up_marketplace(stack.app, USERNAME, PASSWORD)
        stack.start_workers(options.e2e_workers)
        count = int(options.e2e_rate * options.e2e_seconds)
        batch = workload.unique_purchases(count, "e2e")
        say(f"{options.emitters} emitter(s): {count} events at {options.e2e_rate:g}/s")
        before = stack.cpu()
        events, emitters_cpu_s = _emit_from_processes(stack, options, count)
        emitted = {
            (lists[name], batch[n].email.lower()): stamp
            for n, stamp, _ in events
            for name in batch[n].list_names()
        }
        stored = _wait_for_subscriptions(stack, emitted, options.e2e_wait)
        cpu = stack.cpu() - before
        now = time.time()
        # A subscription not there yet counts with the time waited so far: a lower bound.
        seconds = [stored.get(key, now) - emitted[key] for key in emitted]
        rss = stack.peak_rss_mb()
        counts, _ = delivery_counts(stack)
        stack.stop_workers()
        to_expand, to_finish = _stages(stack)
        stamps = [stamp for _, stamp, _ in events]
        span = max(stamps) - min(stamps) + 1 / options.e2e_rate if stamps else 0.0
        return Latency(
            pairs=len(emitted),
            seconds=seconds,
            missing=len(emitted) - len(stored),
            emit_rate=len(events) / span if span else 0.0,
            emit_s=[duration for _, _, duration in events],
            rss_mb=rss,
            failed=counts.get("failed", 0),
            to_expand=to_expand,
            to_finish=to_finish,
            cpu=cpu,
            emitters_cpu_s=emitters_cpu_s,
        )
    finally:
        stack.close()


def _stages(stack: Stack) -> tuple[list[float], list[float]]:
    """Where the time went, per finished delivery: waiting for its event's rules to be
    matched, then waiting to be claimed and applied."""
    with stack.app.app_context():
        session = stack.app.extensions["addon"].db.session
        try:
            rows = session.execute(
                select(Event.created_at, Delivery.created_at, Delivery.finished_at)
                .join(Event, Event.id == Delivery.event_pk)
                .where(Delivery.finished_at.is_not(None))
            ).all()
        finally:
            session.remove()
    to_expand = [(written - stored).total_seconds() for stored, written, _ in rows]
    to_finish = [(done - written).total_seconds() for _, written, done in rows]
    return to_expand, to_finish


def _emit_from_processes(stack: Stack, options: Any, count: int) -> tuple[list[tuple], float]:
    """Run the emitter processes on one shared schedule; returns ``(n, stamp, seconds)`` of
    every emit, and the emitters' CPU seconds."""
    command = [
        sys.executable,
        "-m",
        "bench.emitter",
        "--until",
        str(options.e2e_seconds + 10),
        "--count",
        str(count),
        "--prefix",
        "e2e",
        "--rate",
        str(options.e2e_rate),
        "--of",
        str(options.emitters),
    ]
    emitters = [
        subprocess.Popen(
            [*command, "--index", str(k)],
            cwd=ROOT,
            env=stack.worker_env(),
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        for k in range(options.emitters)
    ]
    try:
        for process in emitters:
            if process.stdout.readline().strip() != "ready":
                raise RuntimeError("an emitter did not start")
        start = time.time() + 0.2
        for process in emitters:
            process.stdin.write(f"{start}\n")
            process.stdin.flush()
        events, cpu_s = [], 0.0
        for process in emitters:
            answer = json.loads(process.stdout.readline())
            events += answer["events"]
            cpu_s += answer["cpu_s"]
            process.wait(30)
        return sorted(events), cpu_s
    finally:
        for process in emitters:
            if process.poll() is None:
                process.kill()
                process.wait()


def _wait_for_subscriptions(stack: Stack, emitted: dict, wait: float) -> dict:
    """First stored time of each emitted (list, email), read from the simulator's clock."""
    stored: dict[tuple[str, str], float] = {}
    cursor = 0
    deadline = time.monotonic() + wait
    while True:
        entries, cursor = stack.subscriptions(cursor)
        for stamp, list_id, email in entries:
            key = (list_id, email)
            if key in emitted and key not in stored:
                stored[key] = stamp
        if len(stored) == len(emitted) or time.monotonic() >= deadline:
            return stored
        time.sleep(0.5)
