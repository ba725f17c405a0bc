"""Expansion: a marketplace's stored events matched against its rules and written as
deliveries (one per event and rule), and the drains of what they made due scheduled."""

from __future__ import annotations

import datetime as dt
import logging
import math
from typing import Any

from sqlalchemy import Row, bindparam, insert, select, update

from ..store.among import among
from ..store.models import EVENT, PENDING, Delivery, Event, Rule, table_of
from ..store.prepared import prepare
from .context import Context
from .queue import enqueue_drain, enqueue_expand, expand_flag, expanding
from .rules import marketplace_rules, match_rules
from .triggers import PROSPECT

log = logging.getLogger("addon.deliveries")

#: Events one job expands before it starts applying their deliveries.
EXPAND_CHUNK = 500

#: The events' columns :func:`delivery_row` reads.
EVENT_COLUMNS = ("id", "marketplace_id", "event_id", "type", "product_id", "payload", "created_at")
_events = table_of(Event)
_WAITING = (
    select(*(_events.c[name] for name in EVENT_COLUMNS))
    .where(_events.c.marketplace_id == bindparam("marketplace_id"), _events.c.expanded_at.is_(None))
    .order_by(_events.c.created_at, _events.c.id)
    .limit(bindparam("limit"))
)


def expand_waiting(
    ctx: Context, marketplace_id: str, draining: int | None = None, wait: float = 0.0
) -> dict[int, tuple[dt.datetime, int]]:
    """Match rules for a chunk of the marketplace's waiting events and schedule the work.

    Jobs are enqueued for what is due later, and for a big backlog helper drains (several
    workers share it; claims keep the order). The integration ``draining`` is being drained
    by the caller, which picks its deliveries up itself. When another worker is matching the
    marketplace's events, this one leaves them to it, after waiting up to ``wait`` seconds
    for it to finish (then it matches the next chunk, if any).

    Returns:
        ``{integration_id: (earliest due time, count)}`` of the deliveries written.
    """
    queue = ctx.queue
    if queue is not None:
        # Cleared before reading, so an event committed from now on enqueues a fresh job.
        queue.connection.delete(expand_flag(queue, marketplace_id))
    with expanding(queue, marketplace_id, wait) as ours:
        if not ours:
            # Another worker is matching them, and looks again once it is done (below).
            return {}
        if wait and not has_waiting_events(ctx, marketplace_id):
            return {}  # the worker it waited for matched them all
        expanded, due = expand_events(ctx, marketplace_id, limit=EXPAND_CHUNK)
    if expanded == EXPAND_CHUNK:
        # More may be waiting: expand them in a job of their own, so that under a steady
        # stream of events this one gets on with applying what it has (latency).
        enqueue_expand(queue, marketplace_id, coalesce=False)
    elif queue is not None and has_waiting_events(ctx, marketplace_id):
        # Stored while this worker matched a chunk: their job may have found it busy here
        # and left them to it.
        enqueue_expand(queue, marketplace_id)
    now = ctx.clock.now()
    batch = ctx.settings.claim_batch
    for integration_id, (when, count) in due.items():
        if when > now:
            enqueue_drain(queue, integration_id, at=when)
            continue
        if integration_id != draining and draining is not None:
            enqueue_drain(queue, integration_id)
        helpers = min(ctx.settings.parallel_drains, math.ceil(count / batch)) - 1
        for helper in range(1, helpers + 1):
            enqueue_drain(queue, integration_id, helper=helper)
    return due


def expand_events(
    ctx: Context, marketplace_id: str, limit: int = 500
) -> tuple[int, dict[int, tuple[dt.datetime, int]]]:
    """Match rules for the marketplace's unexpanded events, oldest first, and write deliveries.

    The events are claimed in one conditional update, so two workers never expand one twice;
    the rules are read once, and the deliveries written in one bulk insert.

    Returns:
        How many events were looked at, and ``{integration_id: (earliest due time, count)}``
        of the deliveries written.
    """
    db = ctx.session
    # Plain rows, not ORM instances: the events are read once and never changed through the
    # session, and loading them as instances cost more than matching them.
    events = (
        db.connection().execute(_WAITING, {"marketplace_id": marketplace_id, "limit": limit}).all()
    )
    if not events:
        db.commit()
        return 0, {}
    # Everything is worked out, down to the driver's parameters, before the first write:
    # SQLite holds its one write lock from the first write to the commit, and storefront
    # requests and other workers wait for it.
    rules = marketplace_rules(ctx, marketplace_id)
    snapshots = {rule.id: rule_snapshot(rule) for rule in rules}
    # Which rules an event fires depends on its type and product alone: a chunk has a few
    # such pairs, and matching each event anew was a good share of the chunk's time.
    fired: dict[tuple[str, str | None], list[tuple[Rule, str]]] = {}
    for event in events:
        if (event.type, event.product_id) not in fired:
            fired[event.type, event.product_id] = match_rules(event, rules)
    now = ctx.clock.now()
    rows = [
        delivery_row(ctx, event, rule, trigger, snapshot=snapshots[rule.id], now=now)
        for event in events
        for rule, trigger in fired[event.type, event.product_id]
    ]
    inserts = prepare(insert(table_of(Delivery)), rows, db.get_bind().dialect)
    ids = among(_events.c.id, [event.id for event in events], db.get_bind().dialect.name)
    claimed = {
        pk
        for (pk,) in db.connection().execute(
            update(_events)
            .where(ids, _events.c.expanded_at.is_(None))
            .values(expanded_at=now)
            .returning(_events.c.id)
        )
    }
    # Another worker may have expanded some of them meanwhile: those rows are its to write.
    ours = [row["event_pk"] in claimed for row in rows]
    rows = [row for row, mine in zip(rows, ours, strict=True) if mine]
    due: dict[int, tuple[dt.datetime, int]] = {}
    for row in rows:
        first, count = due.get(row["integration_id"], (row["next_attempt_at"], 0))
        due[row["integration_id"]] = (min(first, row["next_attempt_at"]), count + 1)
    inserts.only(ours).execute(db.connection())
    db.commit()
    return len(events), due


def has_waiting_events(ctx: Context, marketplace_id: str) -> bool:
    """Whether the marketplace has events whose rules were not matched yet."""
    waiting = select(Event.id).where(
        Event.marketplace_id == marketplace_id, Event.expanded_at.is_(None)
    )
    return ctx.session.connection().execute(waiting.limit(1)).first() is not None


def rule_snapshot(rule: Rule) -> dict[str, Any]:
    """What a delivery copies of its rule (read once per rule, not once per event)."""
    return {
        "rule_id": rule.id,
        "integration_id": rule.integration_id,
        "rule_scope": rule.scope,
        "integration_label": rule.integration.label,
        "action": rule.action,
        "list_id": rule.list_id,
        "list_name": rule.list_name,
    }


def delivery_row(
    ctx: Context,
    event: Event | Row,
    rule: Rule,
    trigger: str,
    cause: str = EVENT,
    *,
    snapshot: dict[str, Any] | None = None,
    now: dt.datetime | None = None,
) -> dict:
    """The pending delivery of ``rule`` for ``event``; an abandoned cart waits for its delay.

    Args:
        event: an event, or a row of its :data:`EVENT_COLUMNS`.
        cause: why it is made (``event``, ``reconcile``, ``backfill``), shown in its log entry.
        snapshot: the rule's :func:`rule_snapshot`, when the caller has it.
        now: when the delivery is made (default: the clock's now).
    """
    when = event.created_at
    if trigger == PROSPECT:
        when = event.created_at + dt.timedelta(seconds=ctx.settings.prospect_delay)
    email = event.payload["customer"]["email"]
    return {
        **(snapshot or rule_snapshot(rule)),
        "marketplace_id": event.marketplace_id,
        "event_pk": event.id,
        "event_id": event.event_id,
        "event_type": event.type,
        "trigger": trigger,
        "product_id": event.product_id,
        "email": email,
        "email_key": email.lower(),
        "status": PENDING,
        "message": "waiting for the abandonment delay" if trigger == PROSPECT else "queued",
        "attempts": 0,
        "sequence_at": when,
        "next_attempt_at": when,
        "created_at": now or ctx.clock.now(),
        "cause": cause,
    }
