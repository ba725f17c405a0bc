"""The sweep, which re-enqueues work that waited too long, and the worker-side timer that runs
it (and the alarm check, :mod:`.alarms`) every ``ADDON_SWEEP_INTERVAL`` seconds.

Every worker runs one, but a Redis key lets only one sweep happen per interval across all of
them; a sweep only re-enqueues idempotent jobs, so an extra one would do no harm anyway. A job
that a database outage broke sweeps too, as soon as the database answers again
(:func:`resume_after_outage`), rather than leaving the work to the next timed sweep.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading

from flask import Flask
from redis.exceptions import RedisError
from sqlalchemy import select

from ..state import context
from ..store.models import Event
from . import outages
from .alarms import check_alarms_once
from .backfill import resume_backfills
from .contact_sync import due_syncs, enqueue_sync
from .context import Context
from .leases import integration_ids_with_due_work
from .nightly import run_nightly_if_due
from .queue import enqueue_drain, enqueue_expand, redis_key

log = logging.getLogger("addon.sweeper")


def sweep() -> str:
    """Re-enqueue what waited too long: unexpanded events and due, unleased deliveries; and
    give back the leases of drains that lost the database (see :func:`outages.abandon`).

    The safety net for jobs lost to a Redis outage or a killed worker.

    Returns:
        What was re-enqueued, in words.
    """
    ctx = context()
    return _sweep(ctx, ctx.settings.sweep_interval, coalesce=False)


def resume_after_outage(ctx: Context) -> str | None:
    """Once the database answers again, ask for the work an outage may have left without a
    job: every waiting event and every integration with due, unleased deliveries. A job that
    is queued already carries on, so nothing is asked for twice.

    Returns:
        What was asked for, or None when the database did not answer within
        :data:`outages.PATIENCE_SECONDS` (the timed sweep resumes the work later).
    """
    if not outages.wait_for_database(ctx):
        log.warning("the database is still away: the sweeper resumes the work once it answers")
        return None
    try:
        summary = _sweep(ctx, 0, coalesce=True)
    except Exception:  # away again: the timed sweep carries on
        outages.rollback(ctx)
        log.warning("could not resume the work after a database outage", exc_info=True)
        return None
    log.info("database back: %s", summary)
    return summary


def _sweep(ctx: Context, stale_seconds: int, coalesce: bool) -> str:
    """Ask for the events older than ``stale_seconds`` still waiting to be matched, and for
    every integration with due, unleased deliveries (a job per flag when ``coalesce``)."""
    queue = ctx.queue
    released = outages.release_abandoned(ctx)
    stale = ctx.clock.now() - dt.timedelta(seconds=stale_seconds)
    db = ctx.session
    marketplaces = list(
        db.scalars(
            select(Event.marketplace_id)
            .where(Event.expanded_at.is_(None), Event.created_at <= stale)
            .distinct()
        )
    )
    for marketplace_id in marketplaces:
        enqueue_expand(queue, marketplace_id, coalesce=coalesce)
    integrations = integration_ids_with_due_work(ctx)
    for integration_id in integrations:
        enqueue_drain(queue, integration_id, coalesce=coalesce)
    if stale_seconds:  # the timed sweep, not the resumption after an outage
        for integration_id in due_syncs(ctx):
            enqueue_sync(ctx, integration_id)
    db.commit()
    # The next slice of each rule being applied to past events (paced, see backfill.py).
    resume_backfills(ctx)
    summary = (
        f"re-enqueued {len(marketplaces)} marketplace(s) and {len(integrations)} integration(s)"
    )
    if released:
        summary += f", after giving back the leases of {released} stopped drain(s)"
    return summary


def sweep_once(app: Flask) -> str | None:
    """Sweep unless another worker swept within the interval; returns the summary or None."""
    with app.app_context():
        app_state = app.extensions["addon"].state(app)
        queue, interval = app_state.queue, app_state.settings.sweep_interval
        try:
            if queue is not None and not queue.connection.set(
                redis_key(queue, "sweep", "lock"), "1", nx=True, ex=interval
            ):
                return None
        except RedisError as exc:
            log.warning("sweep skipped, Redis unavailable: %s", exc)
            return None
        summary = sweep()
        # The nightly checks and pruning ride on this timer (see nightly.py for why).
        nightly = run_nightly_if_due(app_state.context)
        return summary if nightly is None else f"{summary}; nightly: {nightly}"


def start_sweeper(app: Flask) -> threading.Event:
    """Start the timer thread; set the returned event to stop it."""
    stop = threading.Event()
    interval = app.extensions["addon"].state(app).settings.sweep_interval

    def loop() -> None:
        while not stop.wait(interval):
            try:
                summary = sweep_once(app)
                if summary:
                    log.info("sweep: %s", summary)
            except Exception:  # a failed sweep must not kill the worker; the next one retries
                log.exception("sweep failed")
            try:  # after the sweep, on its own: an alarm that cannot go out stops no sweep
                check_alarms_once(app)
            except Exception:
                log.exception("alarm check failed")

    threading.Thread(target=loop, name="addon-sweeper", daemon=True).start()
    return stop
