"""Retention of stored events, apart from the log's 1,000 entries: a check against the provider
and a rule applied to the past replay the events, so they are kept for
``ADDON_EVENT_RETENTION_DAYS`` and pruned nightly.

Pruning deletes the oldest events in small chunks through the index on ``created_at``, each
chunk its own short transaction: at a million events a night's pruning touches only what aged
out since the night before, and never holds SQLite's one write lock for long. An event whose
rules were not matched yet, or with work still pending, is kept until its work is done.
The alarm history is kept as long as the events it tells of.
"""

from __future__ import annotations

import datetime as dt
from typing import cast

from sqlalchemy import CursorResult, delete, exists, select

from ..store.bookkeeping import Alarm
from ..store.models import PENDING, Delivery, Event
from .context import Context

#: Events deleted per transaction.
PRUNE_CHUNK = 2000


def retention_cutoff(ctx: Context) -> dt.datetime:
    """Events created before this are old enough to prune."""
    return ctx.clock.now() - dt.timedelta(days=ctx.settings.event_retention_days)


def prune_events(ctx: Context, chunk: int = PRUNE_CHUNK, max_chunks: int | None = None) -> int:
    """Delete events older than the retention, with their finished log entries.

    Args:
        chunk: events deleted per transaction.
        max_chunks: stop after this many chunks (None: until none is left).

    Returns:
        How many events were deleted.
    """
    db = ctx.session
    cutoff = retention_cutoff(ctx)
    pending = exists().where(Delivery.event_pk == Event.id, Delivery.status == PENDING)
    deleted = chunks = 0
    while max_chunks is None or chunks < max_chunks:
        ids = list(
            db.scalars(
                select(Event.id)
                .where(Event.created_at < cutoff, Event.expanded_at.is_not(None), ~pending)
                .order_by(Event.created_at)
                .limit(chunk)
            )
        )
        if not ids:
            break
        # The log entries first: SQLite enforces no cascade unless the host turned it on.
        db.execute(
            delete(Delivery)
            .where(Delivery.event_pk.in_(ids))
            .execution_options(synchronize_session=False)
        )
        result = cast(
            CursorResult,
            db.execute(
                delete(Event).where(Event.id.in_(ids)).execution_options(synchronize_session=False)
            ),
        )
        db.commit()
        deleted += result.rowcount or 0
        chunks += 1
        if len(ids) < chunk:
            break
    db.commit()
    return deleted


def prune_alarms(ctx: Context) -> int:
    """Delete alarms older than the retention (a few a day at most: one statement).

    Returns:
        How many alarms were deleted.
    """
    result = cast(
        CursorResult,
        ctx.session.execute(
            delete(Alarm)
            .where(Alarm.created_at < retention_cutoff(ctx))
            .execution_options(synchronize_session=False)
        ),
    )
    ctx.session.commit()
    return result.rowcount or 0
