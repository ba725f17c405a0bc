"""Leases: which deliveries of an integration may run now, claimed in per-customer order
under a lease that a live worker renews, and given back when a drain stops early."""

from __future__ import annotations

import datetime as dt
import logging
import threading
import uuid
from collections.abc import Sequence
from typing import cast

from sqlalchemy import Engine, Row, and_, func, or_, select, update

from ..store.among import among
from ..store.models import PENDING, Delivery, Event, Integration
from .claimed import CLAIMED_COLUMNS, Claimed, claimed_records
from .context import Context

log = logging.getLogger("addon.deliveries")


def _core(ctx: Context, statement):
    """Run a statement that returns plain rows (or none) in the session's transaction,
    without the ORM's per-statement machinery, which costs more than the small reads and
    writes a worker makes for every batch do themselves."""
    return ctx.session.connection().execute(statement)


#: How many times a claim looks again when every delivery it picked was leased by another
#: worker between its read and its lease (two workers read the same oldest deliveries).
CLAIM_ATTEMPTS = 3


def claim(
    ctx: Context, integration_id: int, owner: str, limit: int, marketplace_id: str | None = None
) -> list[Claimed]:
    """Lease up to ``limit`` deliveries of an integration that may run now.

    A delivery may run when it is due, not leased by a live worker, no earlier delivery for
    the same customer and list is unfinished, and every earlier event of its marketplace has
    been expanded (so a refund never overtakes the purchase before it).

    Args:
        marketplace_id: the integration's, when the caller knows it (saves reading the row).
    """
    db = ctx.session
    if marketplace_id is None:
        integration = db.get(Integration, integration_id)
        if integration is None:
            return []
        marketplace_id = integration.marketplace_id
    for _attempt in range(CLAIM_ATTEMPTS):
        now = ctx.clock.now()
        eligible = _eligible(ctx, integration_id, marketplace_id, limit, now)
        leased = _lease(ctx, eligible, owner, limit, now) if eligible else []
        # Committed before the events are read: on SQLite the lease holds the one write lock
        # until the commit, and the other workers wait for it.
        db.commit()
        if leased:
            return claimed_records(ctx, leased)
        if not eligible:
            break
        # Every one was taken meanwhile; the next look starts past them rather than ending
        # the drain, which would leave this worker idle beside a backlog.
    return []


def lease_is_free(now: dt.datetime):
    """A delivery nobody holds: never leased, or its lease lapsed before ``now``."""
    return or_(Delivery.lease_until.is_(None), Delivery.lease_until < now)


def _eligible(
    ctx: Context, integration_id: int, marketplace_id: str, limit: int, now: dt.datetime
) -> list[int]:
    """Ids of deliveries that may run now, oldest first: at least ``limit`` if there are so
    many (a page more at most)."""
    # Computed once, not per candidate row: as a correlated subquery PostgreSQL runs it for
    # every pending delivery, and a claim would slow down as the backlog grows.
    unexpanded = _core(
        ctx,
        select(func.min(Event.created_at)).where(
            Event.marketplace_id == marketplace_id, Event.expanded_at.is_(None)
        ),
    ).scalar()
    conditions = [
        Delivery.integration_id == integration_id,
        Delivery.status == PENDING,
        Delivery.next_attempt_at <= now,
        # Implied by the line above (a delivery is never due before its sequence time), and
        # said so that the database walks the index in claim order and stops at a page:
        # without it SQLite took the due-time index and sorted the whole backlog per claim.
        Delivery.sequence_at <= now,
        lease_is_free(now),
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
            ctx, page.where(*conditions).order_by(Delivery.sequence_at, Delivery.id).limit(window)
        ).all()
        candidates: dict[tuple[str, str], tuple[dt.datetime, int]] = {}
        # Unpacked, not read by name: a page holds twice a batch in rows.
        for pk, list_id, email_key, sequence_at in rows:  # oldest first: the oldest stays
            candidates.setdefault((list_id, email_key), (sequence_at, pk))
        firsts = _first_pending(ctx, integration_id, candidates)
        eligible += [
            pk
            for pk, list_id, email_key, sequence_at in rows
            if firsts.get((list_id, email_key)) == (sequence_at, pk)
        ]
        if len(eligible) >= limit or len(rows) < window:
            break
        after = (rows[-1].sequence_at, rows[-1].id)
    return eligible


def _lease(
    ctx: Context, eligible: list[int], owner: str, limit: int, now: dt.datetime
) -> Sequence[Row]:
    """Lease the oldest ``limit`` of the ``eligible`` deliveries still free; returns them as
    :data:`~.claimed.CLAIMED_COLUMNS` rows.

    All of ``eligible`` are candidates, not just the first ``limit``: another worker that read
    the same deliveries a moment earlier leases the oldest, and this one takes the next. One
    statement picks, leases and reads them (``UPDATE … RETURNING``), so none is taken between
    the pick and the lease, and the deliveries are not read again.
    """
    dialect = ctx.session.get_bind().dialect.name
    picked = (
        select(Delivery.id)
        .where(among(Delivery.id, eligible, dialect), Delivery.status == PENDING)
        .where(lease_is_free(now))
        .order_by(Delivery.sequence_at, Delivery.id)
        .limit(limit)
    )
    if dialect == "postgresql":
        # Picked once, up front: as a plain ``IN (subquery)`` PostgreSQL may run the pick
        # again for each row it updates, each run skipping the rows the runs before locked,
        # and lease far more than ``limit``.
        locked = picked.with_for_update(skip_locked=True, of=Delivery).cte("picked")
        picked = select(locked.prefix_with("MATERIALIZED").c.id)
    lease = now + dt.timedelta(seconds=ctx.settings.lease_seconds)
    leased = _core(
        ctx,
        update(Delivery)
        .where(Delivery.id.in_(picked.scalar_subquery()), Delivery.status == PENDING)
        .where(lease_is_free(now))
        .values(lease_owner=owner, lease_until=lease)
        .returning(*CLAIMED_COLUMNS),
    ).all()  # one fetch, not one per row
    return leased


def _first_pending(
    ctx: Context, integration_id: int, keys: dict[tuple[str, str], tuple[dt.datetime, int]]
) -> dict[tuple[str, str], tuple[dt.datetime, int]]:
    """The earliest pending delivery, as ``(sequence_at, id)``, of each (list, customer) of
    ``keys``, which maps each to its oldest candidate's ``(sequence_at, id)``.

    Only that one may run: a later delivery for the same customer and list waits for it
    (leased, or waiting for a retry, included). Done as one plain read rather than a
    correlated subquery per candidate, whose plan PostgreSQL picked badly on fresh statistics.
    A delivery later than every candidate cannot come before any of them: it is not read.
    """
    first: dict[tuple[str, str], tuple[dt.datetime, int]] = {}
    if not keys:
        return first
    dialect = ctx.session.get_bind().dialect.name
    rows = _core(
        ctx,
        select(Delivery.list_id, Delivery.email_key, Delivery.sequence_at, Delivery.id).where(
            Delivery.integration_id == integration_id,
            among(Delivery.list_id, {list_id for list_id, _ in keys}, dialect),
            among(Delivery.email_key, {email for _, email in keys}, dialect),
            Delivery.status == PENDING,
            Delivery.sequence_at <= max(when for when, _ in keys.values()),
        ),
    ).all()  # one fetch, not one per row
    for list_id, email_key, sequence_at, pk in rows:
        key = (list_id, email_key)
        if key in keys and (key not in first or (sequence_at, pk) < first[key]):
            first[key] = (sequence_at, pk)
    return first


def new_owner() -> str:
    return uuid.uuid4().hex


def _renewal(owner: str, until: dt.datetime):
    return (
        update(Delivery)
        .where(Delivery.lease_owner == owner, Delivery.status == PENDING)
        .values(lease_until=until)
        .execution_options(synchronize_session=False)
    )


def renew(ctx: Context, owner: str) -> set[int]:
    """Extend the leases ``owner`` still holds and return their ids, in the caller's transaction.

    Called right before the provider is called and right before outcomes are written: a
    delivery whose lease another worker took over is neither called for nor written again.
    """
    until = ctx.clock.now() + dt.timedelta(seconds=ctx.settings.lease_seconds)
    rows = _core(ctx, _renewal(owner, until).returning(Delivery.id))
    return {pk for (pk,) in rows}


class LeaseKeeper:
    """Renews a worker's leases in the background while a slow batch talks to the provider
    (a throttled account can keep one batch busy for longer than a lease)."""

    def __init__(self, ctx: Context, owner: str):
        self.owner = owner
        self.clock = ctx.clock
        self.seconds = ctx.settings.lease_seconds
        self.bind = cast(Engine, ctx.session.get_bind())
        self.interval = max(0.5, self.seconds / 3)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="addon-lease", daemon=True)

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                with self.bind.begin() as connection:
                    until = self.clock.now() + dt.timedelta(seconds=self.seconds)
                    connection.execute(_renewal(self.owner, until))
            except Exception:  # the lease may lapse; renew() before writing still fences it
                log.warning("could not renew leases", exc_info=True)

    def __enter__(self) -> LeaseKeeper:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()


def release(ctx: Context, ids: list[int], message: str) -> None:
    """Give deliveries back unfinished (held for their integration), saying why; they keep
    their place."""
    _core(
        ctx,
        update(Delivery)
        .where(Delivery.id.in_(ids))
        .values(message=message, lease_owner=None, lease_until=None),
    )


def release_all(ctx: Context, owner: str) -> None:
    """Give back every delivery still leased by ``owner`` (a drain that stops early)."""
    ctx.session.execute(
        update(Delivery)
        .where(Delivery.lease_owner == owner, Delivery.status == PENDING)
        .values(lease_owner=None, lease_until=None)
        .execution_options(synchronize_session=False)
    )


def integration_ids_with_due_work(ctx: Context) -> list[int]:
    """Integrations that have due, unleased pending deliveries (for the sweeper)."""
    now = ctx.clock.now()
    query = (
        select(Delivery.integration_id)
        .join(Integration, Integration.id == Delivery.integration_id)
        .where(
            Delivery.status == PENDING,
            Delivery.next_attempt_at <= now,
            lease_is_free(now),
        )
        .distinct()
    )
    return [i for i in ctx.session.scalars(query) if i is not None]
