"""Deliveries: each (event, rule) pair, written when an event is expanded, claimed by workers
in per-customer order and applied through the provider. A delivery is also its log entry."""

from __future__ import annotations

import datetime as dt
import logging
import random
import threading
import uuid
from typing import cast

from sqlalchemy import Engine, and_, func, insert, or_, select, update
from sqlalchemy.orm import joinedload

from ..state import config, session
from ..store.models import (
    FAILED,
    PENDING,
    SKIPPED,
    SUCCESS,
    Delivery,
    Event,
    Integration,
    Rule,
    table_of,
    utcnow,
)
from ..store.prepared import prepare
from .events import is_valid_email
from .rules import marketplace_rules, match_rules

log = logging.getLogger("addon.deliveries")

PROSPECT = "prospect.created"
# Retry backoff: first wait, cap; jitter spreads a burst of retries.
RETRY_BASE_SECONDS = 30
RETRY_CAP_SECONDS = 3600


def expand_events(
    marketplace_id: str, limit: int = 500
) -> tuple[int, dict[int, tuple[dt.datetime, int]]]:
    """Match rules for the marketplace's unexpanded events, oldest first, and write deliveries.

    The events are claimed in one conditional update, so two workers never expand one twice;
    the rules are read once, and the deliveries written in one bulk insert.

    Returns:
        How many events were looked at, and ``{integration_id: (earliest due time, count)}``
        of the deliveries written.
    """
    db = session()
    events = db.scalars(
        select(Event)
        .where(Event.marketplace_id == marketplace_id, Event.expanded_at.is_(None))
        .order_by(Event.created_at, Event.id)
        .limit(limit)
    ).all()
    if not events:
        db.commit()
        return 0, {}
    # Everything is worked out, down to the driver's parameters, before the first write:
    # SQLite holds its one write lock from the first write to the commit, and storefront
    # requests and other workers wait for it.
    rules = marketplace_rules(marketplace_id)
    rows = [
        delivery_row(event, rule, trigger)
        for event in events
        for rule, trigger in match_rules(event, rules)
    ]
    inserts = prepare(insert(table_of(Delivery)), rows, db.get_bind().dialect)
    claimed = set(
        db.scalars(
            update(Event)
            .where(Event.id.in_([event.id for event in events]), Event.expanded_at.is_(None))
            .values(expanded_at=utcnow())
            .returning(Event.id)
            .execution_options(synchronize_session=False)
        )
    )
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


def _core(statement):
    """Run a statement that returns plain rows (or none) in the session's transaction,
    without the ORM's per-statement machinery: about half the CPU of ``Session.execute`` for
    the small reads and writes a worker makes for every batch."""
    return session().connection().execute(statement)


def has_waiting_events(marketplace_id: str) -> bool:
    """Whether the marketplace has events whose rules were not matched yet."""
    waiting = select(Event.id).where(
        Event.marketplace_id == marketplace_id, Event.expanded_at.is_(None)
    )
    return _core(waiting.limit(1)).first() is not None


def delivery_row(event: Event, rule: Rule, trigger: str) -> dict:
    """The pending delivery of ``rule`` for ``event``; an abandoned cart waits for its delay."""
    when = event.created_at
    if trigger == PROSPECT:
        when = event.created_at + dt.timedelta(seconds=int(config()["ADDON_PROSPECT_DELAY"]))
    email = event.payload["customer"]["email"]
    return {
        "marketplace_id": event.marketplace_id,
        "event_pk": event.id,
        "rule_id": rule.id,
        "integration_id": rule.integration_id,
        "event_id": event.event_id,
        "event_type": event.type,
        "trigger": trigger,
        "product_id": event.product_id,
        "email": email,
        "email_key": email.lower(),
        "rule_scope": rule.scope,
        "integration_label": rule.integration.label,
        "action": rule.action,
        "list_id": rule.list_id,
        "list_name": rule.list_name,
        "status": PENDING,
        "message": "waiting for the abandonment delay" if trigger == PROSPECT else "queued",
        "attempts": 0,
        "sequence_at": when,
        "next_attempt_at": when,
        "created_at": utcnow(),
    }


#: How many times a claim looks again when every delivery it picked was leased by another
#: worker between its read and its lease (two workers read the same oldest deliveries).
CLAIM_ATTEMPTS = 3


def claim(
    integration_id: int, owner: str, limit: int, marketplace_id: str | None = None
) -> list[Delivery]:
    """Lease up to ``limit`` deliveries of an integration that may run now.

    A delivery may run when it is due, not leased by a live worker, no earlier delivery for
    the same customer and list is unfinished, and every earlier event of its marketplace has
    been expanded (so a refund never overtakes the purchase before it).

    Args:
        marketplace_id: the integration's, when the caller knows it (saves reading the row).
    """
    db = session()
    if marketplace_id is None:
        integration = db.get(Integration, integration_id)
        if integration is None:
            return []
        marketplace_id = integration.marketplace_id
    for _attempt in range(CLAIM_ATTEMPTS):
        now = utcnow()
        eligible = _eligible(integration_id, marketplace_id, limit, now)
        ids = _lease(eligible, owner, limit, now) if eligible else []
        db.commit()
        if ids:
            return list(
                db.scalars(
                    select(Delivery)
                    .where(
                        Delivery.id.in_(ids),
                        Delivery.lease_owner == owner,
                        Delivery.status == PENDING,
                    )
                    .options(joinedload(Delivery.event))
                    .order_by(Delivery.sequence_at, Delivery.id)
                )
            )
        if not eligible:
            break
        # Every one was taken meanwhile; the next look starts past them. Ending the drain
        # here instead left a worker idle beside a backlog.
    return []


def _free(now: dt.datetime):
    return or_(Delivery.lease_until.is_(None), Delivery.lease_until < now)


def _eligible(integration_id: int, marketplace_id: str, limit: int, now: dt.datetime) -> list[int]:
    """Ids of deliveries that may run now, oldest first: at least ``limit`` if there are so
    many (a page more at most)."""
    # Computed once, not per candidate row: as a correlated subquery PostgreSQL ran it for
    # every pending delivery, which made a claim over a big backlog take seconds.
    unexpanded = _core(
        select(func.min(Event.created_at)).where(
            Event.marketplace_id == marketplace_id, Event.expanded_at.is_(None)
        )
    ).scalar()
    conditions = [
        Delivery.integration_id == integration_id,
        Delivery.status == PENDING,
        Delivery.next_attempt_at <= now,
        _free(now),
    ]
    if unexpanded is not None:
        conditions.append(Delivery.sequence_at < unexpanded)
    eligible: list[int] = []
    window = 2 * limit  # some candidates wait behind an earlier delivery of their own
    after = None
    for _page in range(50):
        page = select(Delivery.id, Delivery.list_id, Delivery.email_key, Delivery.sequence_at)
        if after is not None:
            # Past a page of waiting deliveries, so they cannot hold up everyone behind them.
            page = page.where(
                or_(
                    Delivery.sequence_at > after[0],
                    and_(Delivery.sequence_at == after[0], Delivery.id > after[1]),
                )
            )
        rows = _core(
            page.where(*conditions).order_by(Delivery.sequence_at, Delivery.id).limit(window)
        ).all()
        firsts = _first_pending(integration_id, {(r.list_id, r.email_key) for r in rows})
        eligible += [
            r.id for r in rows if firsts.get((r.list_id, r.email_key)) == (r.sequence_at, r.id)
        ]
        if len(eligible) >= limit or len(rows) < window:
            break
        after = (rows[-1].sequence_at, rows[-1].id)
    return eligible


def _lease(eligible: list[int], owner: str, limit: int, now: dt.datetime) -> list[int]:
    """Lease the oldest ``limit`` of the ``eligible`` deliveries still free; returns their ids.

    All of ``eligible`` are candidates, not just the first ``limit``: another worker that read
    the same deliveries a moment earlier leases the oldest, and this one takes the next.
    """
    candidates = (
        select(Delivery.id)
        .where(Delivery.id.in_(eligible), Delivery.status == PENDING, _free(now))
        .order_by(Delivery.sequence_at, Delivery.id)
        .limit(limit)
    )
    if session().get_bind().dialect.name == "postgresql":
        candidates = candidates.with_for_update(skip_locked=True, of=Delivery)
    ids = list(_core(candidates).scalars())
    if not ids:
        return []
    lease = now + dt.timedelta(seconds=int(config()["ADDON_LEASE_SECONDS"]))
    leased = _core(
        update(Delivery)
        .where(Delivery.id.in_(ids), Delivery.status == PENDING, _free(now))
        .values(lease_owner=owner, lease_until=lease)
        .returning(Delivery.id)
    )
    # Without row locks (SQLite) another worker may lease some between the two statements.
    return [pk for (pk,) in leased]


def _first_pending(
    integration_id: int, keys: set[tuple[str, str]]
) -> dict[tuple[str, str], tuple[dt.datetime, int]]:
    """The earliest pending delivery, as ``(sequence_at, id)``, of each (list, customer).

    Only that one may run: a later delivery for the same customer and list waits for it
    (leased, or waiting for a retry, included). Done as one plain read rather than a
    correlated subquery per candidate, whose plan PostgreSQL picked badly on fresh statistics.
    """
    first: dict[tuple[str, str], tuple[dt.datetime, int]] = {}
    emails = sorted({email for _, email in keys})
    lists = sorted({list_id for list_id, _ in keys})
    for start in range(0, len(emails), 400):
        rows = _core(
            select(Delivery.list_id, Delivery.email_key, Delivery.sequence_at, Delivery.id).where(
                Delivery.integration_id == integration_id,
                Delivery.list_id.in_(lists),
                Delivery.email_key.in_(emails[start : start + 400]),
                Delivery.status == PENDING,
            )
        )
        for list_id, email_key, sequence_at, pk in rows:
            key = (list_id, email_key)
            if key in keys and (key not in first or (sequence_at, pk) < first[key]):
                first[key] = (sequence_at, pk)
    return first


def new_owner() -> str:
    return uuid.uuid4().hex


def _renewal(owner: str, seconds: int):
    until = utcnow() + dt.timedelta(seconds=seconds)
    return (
        update(Delivery)
        .where(Delivery.lease_owner == owner, Delivery.status == PENDING)
        .values(lease_until=until)
        .execution_options(synchronize_session=False)
    )


def renew(owner: str) -> set[int]:
    """Extend the leases ``owner`` still holds and return their ids, in the caller's transaction.

    Called right before the provider is called and right before outcomes are written: a
    delivery whose lease another worker took over is neither called for nor written again.
    """
    seconds = int(config()["ADDON_LEASE_SECONDS"])
    rows = _core(_renewal(owner, seconds).returning(Delivery.id))
    return {pk for (pk,) in rows}


class LeaseKeeper:
    """Renews a worker's leases in the background while a slow batch talks to the provider
    (a throttled account can keep one batch busy for longer than a lease)."""

    def __init__(self, owner: str):
        self.owner = owner
        self.seconds = int(config()["ADDON_LEASE_SECONDS"])
        self.bind = cast(Engine, session().get_bind())
        self.interval = max(0.5, self.seconds / 3)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="addon-lease", daemon=True)

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                with self.bind.begin() as connection:
                    connection.execute(_renewal(self.owner, self.seconds))
            except Exception:  # the lease may lapse; renew() before writing still fences it
                log.warning("could not renew leases", exc_info=True)

    def __enter__(self) -> LeaseKeeper:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()


def finish(delivery: Delivery, status: str, message: str, detail: dict | None = None) -> None:
    delivery.status = status
    delivery.message = message
    if detail is not None:
        delivery.detail = detail
    delivery.attempts += 1
    delivery.finished_at = utcnow()
    delivery.lease_owner = delivery.lease_until = None


def release(ids: list[int], message: str) -> None:
    """Give deliveries back unfinished (held for their integration), saying why; they keep
    their place."""
    _core(
        update(Delivery)
        .where(Delivery.id.in_(ids))
        .values(message=message, lease_owner=None, lease_until=None)
    )


def release_all(owner: str) -> None:
    """Give back every delivery still leased by ``owner`` (a drain that stops early)."""
    session().execute(
        update(Delivery)
        .where(Delivery.lease_owner == owner, Delivery.status == PENDING)
        .values(lease_owner=None, lease_until=None)
        .execution_options(synchronize_session=False)
    )


def retry_later(
    delivery: Delivery, reason: str, retry_after: float | None, detail: dict | None
) -> dt.datetime | None:
    """Schedule another attempt with exponential backoff and jitter, or fail past the window.

    Returns:
        When the next attempt is due, or None when the delivery failed for good.
    """
    delivery.attempts += 1
    if detail is not None:
        delivery.detail = detail
    now = utcnow()
    window = dt.timedelta(seconds=int(config()["ADDON_RETRY_WINDOW"]))
    backoff = min(RETRY_CAP_SECONDS, RETRY_BASE_SECONDS * 2 ** (delivery.attempts - 1))
    wait = max(retry_after or 0, backoff * random.uniform(0.5, 1.0))
    next_at = now + dt.timedelta(seconds=wait)
    if next_at - delivery.created_at > window:
        finish(
            delivery,
            FAILED,
            f"Gave up after {delivery.attempts} attempts over "
            f"{window.total_seconds() / 3600:g} h: {reason}",
        )
        delivery.attempts -= 1  # finish() counted this attempt already
        return None
    delivery.next_attempt_at = next_at
    delivery.lease_owner = delivery.lease_until = None
    delivery.message = (
        f"Temporary failure on attempt {delivery.attempts}: {reason}. "
        f"Next try at {next_at:%Y-%m-%d %H:%M:%S} UTC."
    )
    return next_at


def precheck(delivery: Delivery) -> tuple[str, str] | None:
    """Why a delivery must not call the provider at all, as ``(status, message)``, or None."""
    if not is_valid_email(delivery.email):
        return FAILED, f"invalid email address {delivery.email!r}: nothing was sent to iContact"
    if delivery.trigger == PROSPECT and purchased_since(delivery.event):
        return SKIPPED, "skipped: purchased before the abandonment delay"
    # Only a retried entry can be overtaken: claims keep fresh work in order.
    if delivery.attempts and superseded(delivery):
        return SKIPPED, "skipped: a later event already changed this customer on this list"
    return None


def superseded(delivery: Delivery) -> bool:
    """Whether a later delivery for the same customer and list already ran (a late retry)."""
    later = select(Delivery.id).where(
        Delivery.integration_id == delivery.integration_id,
        Delivery.list_id == delivery.list_id,
        Delivery.email_key == delivery.email_key,
        Delivery.status == SUCCESS,
        Delivery.sequence_at > delivery.sequence_at,
    )
    return session().execute(later.limit(1)).first() is not None


def purchased_since(prospect: Event) -> bool:
    """Whether the prospect bought (same prospect id or email) after the prospect event."""
    match = [Event.email_key == prospect.email_key]
    if prospect.prospect_id:
        match.append(Event.prospect_id == prospect.prospect_id)
    query = select(Event.id).where(
        Event.marketplace_id == prospect.marketplace_id,
        Event.type == "product.purchased",
        Event.created_at >= prospect.created_at,
        Event.id != prospect.id,
        or_(*match),
    )
    return session().execute(query.limit(1)).first() is not None


def integration_ids_with_due_work(now: dt.datetime | None = None) -> list[int]:
    """Integrations that have due, unleased pending deliveries (for the sweeper)."""
    now = now or utcnow()
    query = (
        select(Delivery.integration_id)
        .join(Integration, Integration.id == Delivery.integration_id)
        .where(
            Delivery.status == PENDING,
            Delivery.next_attempt_at <= now,
            or_(Delivery.lease_until.is_(None), Delivery.lease_until < now),
        )
        .distinct()
    )
    return [i for i in session().scalars(query) if i is not None]
