"""Storing storefront events and handing them to the workers once they are committed.

An event row is written in the caller's transaction when the caller has one open, so an event
exists exactly when the order that caused it committed; the RQ job follows the commit.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from sqlalchemy import event as sa_event
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from .events import validate_event
from .logsetup import bind_event
from .models import Event, table_of, utcnow
from .queue import enqueue_expand
from .state import session as db_session
from .state import state

log = logging.getLogger("addon.outbox")

_INSERT_EVENT = table_of(Event).insert()
_PENDING_KEY = "addon_outbox"
_WROTE_KEY = "addon_wrote"


def emit(
    event_type: Any,
    marketplace_id: Any,
    customer: Any,
    event_id: Any = None,
    fields: Mapping[str, Any] | None = None,
) -> str:
    """Validate and store one event, then enqueue its processing after commit.

    Returns:
        The event id; a repeated id is acknowledged and not stored again.

    Raises:
        InvalidEvent: naming the offending field.
    """
    return record(event_type, marketplace_id, customer, event_id, fields)[0]


def record(
    event_type: Any,
    marketplace_id: Any,
    customer: Any,
    event_id: Any = None,
    fields: Mapping[str, Any] | None = None,
) -> tuple[str, bool]:
    """Like :func:`emit`, also telling whether the event is new (False for a repeated id)."""
    data = validate_event(event_type, marketplace_id, customer, event_id, fields)
    with bind_event(data["id"], data["marketplace_id"]):
        return _store(data)


def _store(data: dict[str, Any]) -> tuple[str, bool]:
    session = db_session()
    joined = _caller_has_work(session)
    # In the caller's transaction a duplicate must be found before the insert (a failed
    # insert would spoil the caller's transaction); alone, the unique constraint finds it.
    if joined and _known(session, data["marketplace_id"], data["id"]):
        return data["id"], False
    values = {
        "marketplace_id": data["marketplace_id"],
        "event_id": data["id"],
        "type": data["type"],
        "product_id": data["fields"].get("product_id"),
        "prospect_id": data["fields"].get("prospect_id"),
        "email_key": data["customer"]["email"].lower(),
        "payload": {"customer": data["customer"], **data["fields"]},
        "created_at": utcnow(),
    }
    if joined:
        # Join the caller's transaction: the job is enqueued only if it commits.
        session.add(Event(**values))
        session.flush()
        session.info.setdefault(_PENDING_KEY, set()).add(data["marketplace_id"])
        return data["id"], True
    try:
        # A Core insert: the ORM's unit of work was half the CPU of an emit, for one row
        # that nothing in this session reads back.
        session.connection().execute(_INSERT_EVENT, values)
        session.commit()
    except IntegrityError:
        # Another request stored the same event id first: acknowledge, don't double.
        session.rollback()
        return data["id"], False
    enqueue_expand(state().queue, data["marketplace_id"])
    return data["id"], True


def _known(session: Session, marketplace_id: str, event_id: str) -> bool:
    found = session.execute(
        select(Event.id).where(Event.marketplace_id == marketplace_id, Event.event_id == event_id)
    ).first()
    return found is not None


def _caller_has_work(session: Session) -> bool:
    """Whether the caller has an open transaction with writes (pending or already flushed)."""
    return bool(session.new or session.dirty or session.deleted or session.info.get(_WROTE_KEY))


@sa_event.listens_for(Session, "after_flush")
def _note_write(session: Session, _flush_context) -> None:
    session.info[_WROTE_KEY] = True


@sa_event.listens_for(Session, "after_commit")
def _enqueue_committed(session: Session) -> None:
    session.info.pop(_WROTE_KEY, None)
    pending = session.info.pop(_PENDING_KEY, None)
    for marketplace_id in sorted(pending or ()):
        enqueue_expand(state().queue, marketplace_id)


@sa_event.listens_for(Session, "after_rollback")
def _forget_rolled_back(session: Session) -> None:
    session.info.pop(_WROTE_KEY, None)
    session.info.pop(_PENDING_KEY, None)
