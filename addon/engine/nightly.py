"""The nightly run: old events pruned (:mod:`retention`) and every connected integration
checked against its provider (:mod:`reconcile`), once a day at ``ADDON_CHECK_HOUR`` (UTC).

Why the sweeper's timer and not RQ's scheduler: RQ 2's built-in scheduler only moves jobs
enqueued with ``enqueue_at``/``enqueue_in`` onto the queue; it has no recurring or cron jobs
(those are the separate rq-scheduler package, a process of its own to deploy). A chain of
``enqueue_at`` jobs, each scheduling the next, breaks for good the first time one is lost (a
Redis flush, a killed worker). The sweeper's timer already runs in every worker every
``ADDON_SWEEP_INTERVAL`` seconds; each tick asks whether today's slot has passed and, under
a Redis key that only one worker per day can set, enqueues the night's work as ordinary RQ
jobs. Nothing to deploy, nothing that a lost job stops, and a worker that was down at 03:00
still runs the night's work when it comes back.
"""

from __future__ import annotations

import datetime as dt
import logging

from sqlalchemy import select

from ..store.models import CONNECTED, Integration
from .context import Context
from .queue import redis_key
from .retention import prune_alarms, prune_events

log = logging.getLogger("addon.sweeper")

#: How long the day's key lives: past the day it names, so a late tick never runs it twice.
_KEY_SECONDS = 2 * 24 * 3600


def nightly_slot(ctx: Context) -> dt.date | None:
    """The day whose nightly run is due now: today once its hour has passed, else None
    (also None when ``ADDON_CHECK_HOUR`` is None)."""
    hour = ctx.settings.check_hour
    if hour is None:
        return None
    now = ctx.clock.now()
    return now.date() if now.hour >= hour else None


def run_nightly_if_due(ctx: Context) -> str | None:
    """Run the night's work unless it ran (or is running) today on any worker.

    Returns:
        What was done, or None when nothing was due.
    """
    day = nightly_slot(ctx)
    queue = ctx.queue
    if day is None or queue is None:
        return None
    key = redis_key(queue, "nightly", day.isoformat())
    if not queue.connection.set(key, "1", nx=True, ex=_KEY_SECONDS):
        return None
    return run_nightly(ctx)


def run_nightly(ctx: Context) -> str:
    """Prune old events and alarms, and ask for a check of every connected integration."""
    from .reconcile import enqueue_check  # the check needs the provider layer; loaded late

    pruned = prune_events(ctx)
    pruned_alarms = prune_alarms(ctx)
    integrations = list(
        ctx.session.scalars(select(Integration.id).where(Integration.status == CONNECTED))
    )
    ctx.session.commit()
    for integration_id in integrations:
        enqueue_check(ctx, integration_id, started_by="schedule")
    summary = (
        f"pruned {pruned} old event(s) and {pruned_alarms} old alarm(s), "
        f"asked for {len(integrations)} check(s)"
    )
    log.info("nightly: %s", summary)
    return summary
