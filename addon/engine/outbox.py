"""Storing storefront events and handing them to the workers once they are committed.

The add-on is a guest in the host's transaction. When the engine's session (the ``db.session``
given to ``init_app``) has a transaction open — begun by any statement, ORM or Core, a read or
a write, or by ``session.begin()`` — the event is written into it and nothing is committed
here: the event exists exactly when the host's order commits, its RQ job is enqueued after the
outermost commit, and both are forgotten on rollback. With no transaction open, the event is
stored and committed alone, and enqueued at once.

The listeners that follow those transactions are registered on the engine's session factory
(:func:`follow_transactions`), never on every ``Session`` of the host's process.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any, NamedTuple

from sqlalchemy import event as sa_event
from sqlalchemy import select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, SessionTransaction

from ..errors import TransactionError
from ..logsetup import bind_event
from ..store.models import Event, table_of
from .context import Context
from .queue import enqueue_expand

if TYPE_CHECKING:
    from flask_sqlalchemy import SQLAlchemy
    from rq import Queue

log = logging.getLogger("addon.outbox")

_EVENTS = table_of(Event)
_INSERT_EVENT = _EVENTS.insert()
# Inside the caller's transaction a repeated event id must not fail the insert: a failed
# statement spoils the caller's transaction (on PostgreSQL every later statement fails).
# One statement that skips a known id, where the database has one; it also settles a race
# with a concurrent request for the same id, which a look before the insert does not.
_INSERT_NEW = {
    name: dialect.insert(_EVENTS)
    .on_conflict_do_nothing(index_elements=[_EVENTS.c.marketplace_id, _EVENTS.c.event_id])
    .returning(_EVENTS.c.id)  # a row when inserted, none when skipped (rowcount says -1)
    for name, dialect in (("postgresql", postgresql), ("sqlite", sqlite))
}
_PENDING_KEY = "addon_outbox"


class _Pending(NamedTuple):
    """An event written into an open transaction, waiting for that transaction's fate."""

    transaction: SessionTransaction  # the root or savepoint the row was written in
    queue: Queue | None
    marketplace_id: str
    event_id: str


def emit(ctx: Context, event: dict[str, Any], *, join: bool | None = None) -> str:
    """Store one event; its processing is enqueued once it is committed.

    Args:
        event: the event as :func:`~addon.engine.events.validate_event` returns it.
        join: ``None`` (the default) writes the event into the engine's session's open
            transaction if there is one, and never commits it: the host's commit stores the
            event and enqueues its job, a rollback forgets both. With no transaction open,
            the event is stored and committed alone and enqueued at once. ``True`` insists
            on joining, ``False`` on committing alone; each refuses the other case.

    Returns:
        The event id; a repeated id is acknowledged and not stored again.

    Raises:
        TransactionError: ``join=True`` with no transaction open, or ``join=False`` while
            one is open. Nothing was written.
        TypeError: ``join`` is not True, False or None.
    """
    with bind_event(event["id"], event["marketplace_id"]):
        return _store(ctx, event, join)[0]


def record(ctx: Context, event: dict[str, Any]) -> tuple[str, bool]:
    """Store one event received by the add-on's own webhook, and commit it.

    The webhook's request is the add-on's, not a checkout's: a transaction open in it was
    begun by a host hook the webhook asked (``@engine.known_marketplace``), and is committed
    here with the event, so a 202 always means stored.

    Args:
        event: the event as :func:`~addon.engine.events.validate_event` returns it.

    Returns:
        ``(event id, whether it is new)``: False for a repeated id.
    """
    with bind_event(event["id"], event["marketplace_id"]):
        stored = _store(ctx, event, None)
        session = ctx.session()
        if session.in_transaction():
            session.commit()
        return stored


def _store(ctx: Context, data: dict[str, Any], join: bool | None) -> tuple[str, bool]:
    session = ctx.session()  # the scoped session's own: it has in_transaction()
    joined = session.in_transaction()
    _check_join(join, joined)
    values = {
        "marketplace_id": data["marketplace_id"],
        "event_id": data["id"],
        "type": data["type"],
        "product_id": data["fields"].get("product_id"),
        "prospect_id": data["fields"].get("prospect_id"),
        "email_key": data["customer"]["email"].lower(),
        "payload": {"customer": data["customer"], **data["fields"]},
        "created_at": ctx.clock.now(),
    }
    if joined:
        new = _insert_joined(session, values)
        if new:
            _await_commit(session, ctx.queue, data["marketplace_id"], data["id"])
        return data["id"], new
    try:
        # A Core insert: the ORM's unit of work would cost more than the insert itself, for
        # one row that nothing in this session reads back.
        session.connection().execute(_INSERT_EVENT, values)
        session.commit()
    except IntegrityError:
        # Another request stored the same event id first: acknowledge, don't double.
        session.rollback()
        return data["id"], False
    enqueue_expand(ctx.queue, data["marketplace_id"])
    return data["id"], True


def _check_join(join: bool | None, in_transaction: bool) -> None:
    if join is None:
        return
    if not isinstance(join, bool):
        raise TypeError(f"join must be True, False or None, not {join!r}")
    if join and not in_transaction:
        raise TransactionError(
            "emit(join=True) writes the event into the open transaction of db.session, but "
            "no transaction is open (already committed, or nothing begun yet). Call emit "
            "before you commit, or leave join out to store the event on its own."
        )
    if not join and in_transaction:
        raise TransactionError(
            "emit(join=False) stores the event and commits it on its own, but db.session has "
            "a transaction open (any statement since the last commit opens one, even a "
            "read): that commit would commit your work too. Leave join out (or pass "
            "join=True) to make the event part of your transaction, then commit it yourself; "
            "or commit or roll back before you emit."
        )


def _insert_joined(session: Session, values: dict[str, Any]) -> bool:
    """Write the event into the caller's open transaction; whether it was new."""
    connection = session.connection()
    insert_new = _INSERT_NEW.get(connection.dialect.name)
    if insert_new is not None:
        return connection.execute(insert_new, values).first() is not None
    # No portable "skip a known id": look first (a concurrent insert of the same id can
    # still fail the caller's transaction on such a database).
    if _known(session, values["marketplace_id"], values["event_id"]):
        return False
    connection.execute(_INSERT_EVENT, values)
    return True


def _known(session: Session, marketplace_id: str, event_id: str) -> bool:
    found = session.execute(
        select(Event.id).where(Event.marketplace_id == marketplace_id, Event.event_id == event_id)
    ).first()
    return found is not None


def _await_commit(session: Session, queue: Queue | None, marketplace_id: str, event_id: str):
    """Enqueue the event's processing when the outermost transaction commits."""
    transaction = session.get_nested_transaction() or session.get_transaction()
    assert transaction is not None  # the caller checked in_transaction()
    pending = session.info.setdefault(_PENDING_KEY, [])
    pending.append(_Pending(transaction, queue, marketplace_id, event_id))


# -- following the engine's session's transactions -------------------------------------------


def follow_transactions(db: SQLAlchemy) -> None:
    """Listen to the transactions of ``db.session``, the engine's session; once per ``db``.

    The listeners go on its session factory (Flask-SQLAlchemy's ``sessionmaker`` makes a
    ``Session`` subclass of its own), so a commit in any other session of the process — the
    host's second database, a plain ``Session`` — never runs the add-on's code.
    """
    for name, listener in _LISTENERS:
        if not sa_event.contains(db.session, name, listener):
            sa_event.listen(db.session, name, listener)


def _after_commit(session: Session) -> None:
    if not session.info.get(_PENDING_KEY) or session.in_nested_transaction():
        return  # nothing emitted, or a savepoint released: wait for the outermost commit
    pending: list[_Pending] = session.info.pop(_PENDING_KEY)
    # One expand job per marketplace (and queue), however many events it committed.
    for queue, marketplace_id in {
        (id(p.queue), p.marketplace_id): (p.queue, p.marketplace_id) for p in pending
    }.values():
        enqueue_expand(queue, marketplace_id)


def _after_rollback(session: Session) -> None:
    """A real rollback: forget the events the undone transaction (root or savepoint) held."""
    pending: list[_Pending] | None = session.info.get(_PENDING_KEY)
    if not pending:
        return
    # The subtransactions inside the undone one were closed first, their events handed up
    # to it (_after_transaction_end): the innermost open one is the undone one.
    undone = session.get_nested_transaction() or session.get_transaction()
    kept = [p for p in pending if p.transaction is not undone]
    log.debug("Rolled back: forgetting events %s", [p.event_id for p in pending if p not in kept])
    if kept:
        session.info[_PENDING_KEY] = kept
    else:
        del session.info[_PENDING_KEY]


def _after_transaction_end(session: Session, transaction: SessionTransaction) -> None:
    pending: list[_Pending] | None = session.info.get(_PENDING_KEY)
    if not pending:
        return
    if transaction.nested:
        # A savepoint released (or closed with its parent): its events now share the
        # parent's fate. A rolled-back savepoint's events were forgotten already.
        assert transaction.parent is not None  # a savepoint always has one
        parent = _real(transaction.parent)
        session.info[_PENDING_KEY] = [
            p._replace(transaction=parent) if p.transaction is transaction else p for p in pending
        ]
    elif transaction.parent is None:
        # The outermost transaction ended with neither commit nor rollback: closed, as
        # Flask-SQLAlchemy does at the end of a request. The rows went with it.
        del session.info[_PENDING_KEY]
        log.warning(
            "Events %s were written into a transaction of db.session that ended without a "
            "commit, and are dropped: commit the session after emit (or emit with "
            "join=False when no transaction is open).",
            ", ".join(p.event_id for p in pending),
        )


def _real(transaction: SessionTransaction) -> SessionTransaction:
    """The nearest root or savepoint at or above ``transaction`` (skipping the ORM's
    internal subtransactions, such as a flush's)."""
    while not transaction.nested and transaction.parent is not None:
        transaction = transaction.parent
    return transaction


_LISTENERS = (
    ("after_commit", _after_commit),
    ("after_rollback", _after_rollback),
    ("after_transaction_end", _after_transaction_end),
)
