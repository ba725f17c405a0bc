"""A claimed batch's deliveries as plain records: read in one statement with their events,
changed in memory while the batch is applied, and their outcomes written back in one.

A batch touches each delivery a handful of times; as ORM instances, loading, changing and
detaching them cost the worker more than the rest of its work on them. Nothing here goes
through the session's unit of work: :func:`outcome_writes` is the only write of an outcome.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass, fields
from typing import Any

from sqlalchemy import bindparam, select, update

from ..store.among import among
from ..store.models import PENDING, Delivery, Event, table_of
from ..store.prepared import Prepared, prepare
from .context import Context

#: What applying a delivery changes: its outcome, its next attempt and its lease.
OUTCOME = (
    "status",
    "message",
    "detail",
    "attempts",
    "next_attempt_at",
    "finished_at",
    "lease_owner",
    "lease_until",
)


@dataclass(slots=True)
class ClaimedEvent:
    """The event a claimed delivery came from (shared by the event's deliveries): the
    customer, and what an abandoned cart's check reads."""

    id: int
    marketplace_id: str
    event_id: str
    type: str
    product_id: str | None
    prospect_id: str | None
    email_key: str
    payload: dict[str, Any]
    created_at: dt.datetime


@dataclass(slots=True)
class Claimed:
    """A claimed delivery: the columns of :class:`~addon.store.models.Delivery` that a batch
    reads and sets (not its log entry's snapshots of the rule), and its event."""

    event: ClaimedEvent
    id: int
    marketplace_id: str
    event_pk: int
    rule_id: int | None
    integration_id: int | None
    event_id: str
    event_type: str
    trigger: str
    product_id: str | None
    email: str
    email_key: str
    action: str
    list_id: str
    list_name: str
    status: str
    message: str
    detail: dict | None
    attempts: int
    sequence_at: dt.datetime
    next_attempt_at: dt.datetime
    lease_owner: str | None
    lease_until: dt.datetime | None
    created_at: dt.datetime
    finished_at: dt.datetime | None


#: Read in the order of the records' fields, so that a row's values are their arguments.
COLUMNS = tuple(f.name for f in fields(Claimed) if f.name != "event")
EVENT_COLUMNS = tuple(f.name for f in fields(ClaimedEvent))

_table = table_of(Delivery)
_events = table_of(Event)
_CLAIMED = select(
    *(_table.c[name] for name in COLUMNS), *(_events.c[name] for name in EVENT_COLUMNS)
).join(_events, _events.c.id == _table.c.event_pk)


def load_claimed(ctx: Context, ids: list[int], owner: str) -> list[Claimed]:
    """The deliveries ``ids`` still leased by ``owner`` and pending, in claim order."""
    dialect = ctx.session.get_bind().dialect.name
    rows = (
        ctx.session.connection()
        .execute(
            _CLAIMED.where(
                among(_table.c.id, ids, dialect),
                _table.c.lease_owner == owner,
                _table.c.status == PENDING,
            ).order_by(_table.c.sequence_at, _table.c.id)
        )
        .all()
    )  # one fetch, not one per row
    events: dict[int, ClaimedEvent] = {}
    claimed: list[Claimed] = []
    split = len(COLUMNS)
    for row in rows:
        event = events.get(row[split])
        if event is None:
            event = events[row[split]] = ClaimedEvent(*row[split:])
        claimed.append(Claimed(event, *row[:split]))
    return claimed


def outcome_writes(ctx: Context, deliveries: Iterable[Claimed]) -> Prepared:
    """The statement that writes the deliveries' outcomes, ready for the driver (converted
    before the transaction writes anything: see :mod:`addon.store.prepared`)."""
    return prepare(
        update(_table).where(_table.c.id == bindparam("delivery_id")),
        [
            {"delivery_id": d.id, **{column: getattr(d, column) for column in OUTCOME}}
            for d in deliveries
        ],
        ctx.session.get_bind().dialect,
    )
