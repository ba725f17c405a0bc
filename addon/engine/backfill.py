"""*Apply to past events*: a rule applied to what happened before it existed, since a date.

Which customers it reaches, and what that would take, is :mod:`.backfill_preview`. Each gets
one delivery with the cause ``backfill``, for their latest such event, applied by the ordinary
drains: in per-customer order, through the shared limiter and past the consent guard.

The deliveries are written a slice at a time, only while the integration's backlog of them is
short, so that the storefront's new events never queue behind a night of old ones. The slice
and the backfill's cursor commit together, and (event, rule) is unique: a killed worker's
successor carries on from the cursor, and nothing is written or applied twice. The sweeper
asks for the next slice (:func:`resume_backfills`); a Redis lock keeps one worker per backfill.
"""

from __future__ import annotations

import datetime as dt
import logging
import math
from dataclasses import dataclass

from sqlalchemy import func, insert, select, update

from ..errors import IntegrationError
from ..providers import get_provider
from ..state import context
from ..store.bookkeeping import Backfill
from ..store.models import (
    BACKFILL,
    PENDING,
    SKIPPED,
    Delivery,
    Event,
    Integration,
    Rule,
    table_of,
)
from .backfill_preview import candidates
from .context import Context
from .expansion import delivery_row
from .past_events import store_host_events
from .queue import enqueue_drain, redis_key, safe_enqueue

log = logging.getLogger("addon.backfill")

#: A backfill is one of these; the last three are final.
QUEUED, WRITING, APPLYING, DONE, CANCELLED, FAILED = (
    "queued",
    "writing",
    "applying",
    "done",
    "cancelled",
    "failed",
)
ACTIVE = (QUEUED, WRITING, APPLYING)
#: Seconds one worker holds a backfill's slice (a killed worker's lock lapses after it).
LOCK_SECONDS = 30


def active_backfill(ctx: Context, rule_id: int) -> Backfill | None:
    """The rule's backfill under way, or its last one."""
    return ctx.session.scalar(
        select(Backfill)
        .where(Backfill.rule_id == rule_id)
        .order_by(Backfill.created_at.desc(), Backfill.id.desc())
        .limit(1)
    )


def start_backfill(
    ctx: Context, rule: Rule, since: dt.datetime, from_host: bool = False
) -> Backfill:
    """Record a backfill of ``rule`` and ask a worker for its first slice.

    Raises:
        IntegrationError: one is under way for the rule already.
    """
    last = active_backfill(ctx, rule.id)
    if last is not None and last.status in ACTIVE:
        raise IntegrationError("This rule is being applied to past events already.")
    backfill = Backfill(
        marketplace_id=rule.marketplace_id,
        rule_id=rule.id,
        integration_id=rule.integration_id,
        since=since,
        from_host=from_host,
        status=QUEUED,
        message="",
        created_at=ctx.clock.now(),
    )
    ctx.session.add(backfill)
    ctx.session.commit()
    _ask(ctx, backfill.id)
    return backfill


def cancel_backfill(ctx: Context, backfill: Backfill) -> int:
    """Stop a backfill: nothing more is written, and what waits is skipped.

    Returns:
        How many waiting deliveries were skipped.
    """
    if backfill.status not in ACTIVE:
        return 0
    backfill.status, backfill.finished_at = CANCELLED, ctx.clock.now()
    skipped = ctx.session.execute(
        update(Delivery)
        .where(*_its_pending(backfill))
        .values(status=SKIPPED, message="skipped: cancelled", finished_at=ctx.clock.now())
        .execution_options(synchronize_session=False)
    )
    ctx.session.commit()
    return int(getattr(skipped, "rowcount", 0) or 0)


@dataclass
class Progress:
    customers: int
    written: int
    applied: int
    status: str

    @property
    def percent(self) -> int:
        if not self.customers:
            # Not counted yet (queued), or stopped before counting: an empty bar, not a full one.
            return 100 if self.status == DONE else 0
        return min(100, self.applied * 100 // self.customers)


def progress(ctx: Context, backfill: Backfill) -> Progress:
    """How far it got; a backfill whose deliveries are all applied is marked done."""
    waiting = waiting_count(ctx, backfill)
    if backfill.status == APPLYING and waiting == 0:
        backfill.status, backfill.finished_at = DONE, ctx.clock.now()
        ctx.session.commit()
    return Progress(
        backfill.customers, backfill.written, backfill.written - waiting, backfill.status
    )


def waiting_count(ctx: Context, backfill: Backfill) -> int:
    """Its deliveries written and not applied yet."""
    return ctx.session.scalar(select(func.count()).where(*_its_pending(backfill))) or 0


def run_backfill(backfill_id: int) -> str:
    """RQ job: write the backfill's next slice (see :func:`write_slice`)."""
    return write_slice(context(), backfill_id)


def write_slice(ctx: Context, backfill_id: int) -> str:
    """Write the next slice of a backfill's deliveries, if its backlog is short enough.

    Returns:
        What was done, in words.
    """
    queue = ctx.queue
    if queue is None:
        return _write_slice(ctx, backfill_id)
    key = redis_key(queue, "backfill", backfill_id)
    if not queue.connection.set(key, "1", nx=True, ex=LOCK_SECONDS):
        return "another worker is on it"
    try:
        return _write_slice(ctx, backfill_id)
    finally:
        queue.connection.delete(key)


def _write_slice(ctx: Context, backfill_id: int) -> str:
    db = ctx.session
    backfill = db.get(Backfill, backfill_id)
    if backfill is None or backfill.status not in (QUEUED, WRITING):
        return "nothing to write"
    rule = db.get(Rule, backfill.rule_id)
    integration = db.get(Integration, backfill.integration_id)
    if rule is None or integration is None:
        backfill.status, backfill.message = FAILED, "its rule or integration was deleted"
        db.commit()
        return backfill.message
    if backfill.status == QUEUED:
        if backfill.from_host:
            try:
                stored = store_host_events(ctx, rule, backfill.since)
            except IntegrationError as exc:
                db.rollback()
                backfill = db.get(Backfill, backfill.id) or backfill
                backfill.status, backfill.message = FAILED, str(exc)
                db.commit()
                return backfill.message
            log.info("backfill %s: %d past event(s) stored from the host", backfill.id, stored)
        backfill.customers = len(candidates(ctx, rule, backfill.since))
        backfill.status = WRITING
        db.commit()
    room = _slice_size(ctx, integration) - waiting_count(ctx, backfill)
    if room <= 0:
        db.commit()
        return "waiting for the last slice to be applied"
    todo = sorted(
        pk for pk in candidates(ctx, rule, backfill.since).values() if pk > backfill.cursor
    )
    chunk = todo[:room]
    # (event, rule) is unique: one applied already (the rule saw it, or a backfill before
    # this one) is not written again. One writer per backfill (the lock): no race here.
    done = set(
        db.scalars(
            select(Delivery.event_pk).where(
                Delivery.rule_id == rule.id, Delivery.event_pk.in_(chunk)
            )
        )
    )
    events = db.scalars(
        select(Event).where(Event.id.in_(set(chunk) - done)).order_by(Event.id)
    ).all()
    rows = [delivery_row(ctx, event, rule, rule.trigger, cause=BACKFILL) for event in events]
    if rows:
        db.execute(insert(table_of(Delivery)), rows)
    written = len(rows)
    # The cursor moves in the same transaction as the slice: a killed worker loses both.
    backfill.cursor = chunk[-1] if chunk else backfill.cursor
    backfill.written += written
    if len(todo) <= room:
        backfill.status = APPLYING
    db.commit()
    if rows:
        enqueue_drain(ctx.queue, integration.id)
    return f"wrote {written} deliveries, {max(len(todo) - room, 0)} to go"


def resume_backfills(ctx: Context) -> int:
    """Ask for the next slice of every backfill being written (the sweeper's tick).

    Returns:
        How many were asked for.
    """
    ids = list(
        ctx.session.scalars(select(Backfill.id).where(Backfill.status.in_((QUEUED, WRITING))))
    )
    ctx.session.commit()
    for backfill_id in ids:
        _ask(ctx, backfill_id)
    return len(ids)


def _its_pending(backfill: Backfill):
    return (
        Delivery.integration_id == backfill.integration_id,
        Delivery.status == PENDING,
        Delivery.rule_id == backfill.rule_id,
        Delivery.cause == BACKFILL,
    )


def _slice_size(ctx: Context, integration: Integration) -> int:
    """Deliveries kept waiting at most: a few claims' worth, or what the account's allowance
    gets through in two sweeps, whichever is more."""
    per_minute = get_provider(integration.provider).calls_per_minute(ctx.settings)
    per_sweep = math.ceil(per_minute * ctx.settings.sweep_interval / 60)
    return max(3 * min(ctx.settings.claim_batch, max(10, per_minute // 2)), 2 * per_sweep)


def _ask(ctx: Context, backfill_id: int) -> None:
    job = safe_enqueue(
        ctx.queue,
        "addon.engine.backfill.run_backfill",
        backfill_id,
        description=f"addon: apply a rule to past events (backfill #{backfill_id})",
    )
    if job is None:
        write_slice(ctx, backfill_id)
