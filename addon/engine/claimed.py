"""A claimed batch's deliveries as plain records: read as they are leased, with their events,
changed in memory while the batch is applied, and their outcomes written back in one.

A batch touches each delivery a handful of times; as ORM instances, loading, changing and
detaching them cost the worker more than the rest of its work on them. Nothing here goes
through the session's unit of work: :func:`outcome_writes` is the only write of an outcome.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, fields
from operator import attrgetter
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
#: A claimed delivery's columns, in the order of :class:`Claimed`'s fields (what a lease's
#: ``UPDATE … RETURNING`` hands back).
CLAIMED_COLUMNS = tuple(_table.c[name] for name in COLUMNS)
_EVENT_ROWS = select(*(_events.c[name] for name in EVENT_COLUMNS))
_EVENT_PK, _SEQUENCE_AT, _ID = (COLUMNS.index(name) for name in ("event_pk", "sequence_at", "id"))


def claimed_records(ctx: Context, rows: Iterable[Sequence[Any]]) -> list[Claimed]:
    """Records of deliveries read as :data:`CLAIMED_COLUMNS` rows, with their events (read
    in one statement, shared by an event's deliveries), in claim order."""
    rows = sorted(rows, key=_claim_order)
    if not rows:
        return []
    dialect = ctx.session.get_bind().dialect.name
    events = {
        row[0]: ClaimedEvent(*row)
        for row in ctx.session.connection()
        .execute(_EVENT_ROWS.where(among(_events.c.id, {row[_EVENT_PK] for row in rows}, dialect)))
        .all()  # one fetch, not one per row
    }
    # An event deleted between the lease's commit and this read took its deliveries with it
    # (ON DELETE CASCADE): they are nobody's batch any more.
    return [Claimed(events[row[_EVENT_PK]], *row) for row in rows if row[_EVENT_PK] in events]


def _claim_order(row: Sequence[Any]) -> tuple[dt.datetime, int]:
    return row[_SEQUENCE_AT], row[_ID]


def outcome_writes(ctx: Context, deliveries: Iterable[Claimed], owner: str) -> Prepared:
    """The statement that writes the deliveries' outcomes, ready for the driver (converted
    before the transaction writes anything: see :mod:`addon.store.prepared`).

    It writes a delivery only while ``owner`` still holds its lease: one that another worker
    took over after the lease lapsed is that worker's to record. The count of rows it wrote
    says whether any was.
    """
    outcome = attrgetter(*OUTCOME)
    return prepare(
        update(_table).where(
            _table.c.id == bindparam("delivery_id"),
            _table.c.lease_owner == bindparam("owner"),
            _table.c.status == bindparam("unfinished"),
        ),
        # Every parameter a key of the rows: they are then read as they are (see prepare).
        [
            {
                "delivery_id": d.id,
                "owner": owner,
                "unfinished": PENDING,
                **dict(zip(OUTCOME, outcome(d), strict=True)),
            }
            for d in deliveries
        ],
        ctx.session.get_bind().dialect,
    )
