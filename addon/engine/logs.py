"""The log: finished and pending deliveries of a marketplace, searchable, pruned to a limit."""

from __future__ import annotations

import datetime as dt
from typing import Any, TypedDict, Unpack, cast

from sqlalchemy import CursorResult, case, delete, func, or_, select, update
from sqlalchemy.orm import defer

from ..errors import IntegrationError
from ..results import LogEntry
from ..store.models import (
    FAILED,
    FINISHED,
    PENDING,
    SKIPPED,
    Delivery,
    Event,
    marketplace_row,
)
from .context import Context


class Filters(TypedDict, total=False):
    """What the Logs' filters narrow a search to, its entries (here) or its events
    (:mod:`.history`); a filter left out, or None, matches anything."""

    #: Part of the customer's email, the event (order) id, the product id; entries also
    #: match their list, integration label and message.
    q: str | None
    #: ``pending``, ``success``, ``failed`` or ``skipped``: entries of that status (events
    #: with one).
    status: str | None
    #: A trigger name: the rule's trigger for entries, events that fire it.
    trigger: str | None
    integration_id: int | None
    #: Naive UTC: made at or after ``date_from``, before ``date_to``.
    date_from: dt.datetime | None
    date_to: dt.datetime | None


def filtered_query(marketplace_id: str, **filters: Unpack[Filters]):
    """The marketplace's entries that the filters match."""
    query = select(Delivery).where(Delivery.marketplace_id == marketplace_id)
    if term := search_term(filters):
        # autoescape: the merchant's % and _ are characters to find, not LIKE wildcards (and a
        # backslash is not PostgreSQL's default LIKE escape either).
        query = query.where(
            or_(
                Delivery.email_key.contains(term, autoescape=True),
                *(
                    func.lower(column).contains(term, autoescape=True)
                    for column in (
                        Delivery.list_name,
                        Delivery.product_id,
                        Delivery.event_id,
                        Delivery.message,
                        Delivery.integration_label,
                    )
                ),
            )
        )
    if status := filters.get("status"):
        query = query.where(Delivery.status == status)
    if trigger := filters.get("trigger"):
        query = query.where(Delivery.trigger == trigger)
    if integration_id := filters.get("integration_id"):
        query = query.where(Delivery.integration_id == int(integration_id))
    return query.where(*made_between(Delivery.created_at, filters))


def search_term(filters: Filters) -> str:
    """The searched-for text as stored keys are matched (lower case), "" for none."""
    return (filters.get("q") or "").strip().lower()


def made_between(created_at: Any, filters: Filters) -> list[Any]:
    """The conditions on ``created_at`` that keep rows made in the filters' dates."""
    conditions = []
    if date_from := filters.get("date_from"):
        conditions.append(created_at >= date_from)
    if date_to := filters.get("date_to"):
        conditions.append(created_at < date_to)
    return conditions


def search_logs(
    ctx: Context, marketplace_id: str, limit: int = 50, offset: int = 0, **filters: Unpack[Filters]
) -> list[Delivery]:
    """A page of the marketplace's log entries that ``filters`` (:class:`Filters`) match,
    newest first."""
    query = filtered_query(marketplace_id, **filters)
    # The list never shows what was sent; an entry's details load it when opened.
    query = query.options(defer(Delivery.detail))
    query = query.order_by(Delivery.created_at.desc(), Delivery.id.desc())
    return list(ctx.session.scalars(query.limit(limit).offset(offset)))


def skip_pending(ctx: Context, condition, reason: str) -> None:
    """Close the pending entries that ``condition`` selects as skipped, saying why (their rule
    or integration is going away); in the caller's transaction."""
    ctx.session.execute(
        update(Delivery)
        .where(condition, Delivery.status == PENDING)
        .values(status=SKIPPED, message=f"skipped: {reason}", finished_at=ctx.clock.now())
        .execution_options(synchronize_session=False)
    )


def get_log_entry(ctx: Context, marketplace_id: str, entry_id) -> Delivery:
    """The marketplace's log entry.

    Raises:
        IntegrationError: unknown entry, another marketplace's included.
    """
    entry = marketplace_row(ctx.session(), Delivery, marketplace_id, entry_id)
    if entry is None:
        raise IntegrationError("Unknown log entry")
    return entry


def count_logs_and_failed(
    ctx: Context, marketplace_id: str, **filters: Unpack[Filters]
) -> tuple[int, int]:
    """How many entries the filters match, and how many of those failed (one pass)."""
    matched = filtered_query(marketplace_id, **filters).subquery()
    failed = func.count(case((matched.c.status == FAILED, 1)))
    total, failures = ctx.session.execute(select(func.count(), failed).select_from(matched)).one()
    return total or 0, failures or 0


def prune_logs(ctx: Context, marketplace_id: str, keep: int | None = None) -> int:
    """Delete finished entries beyond the newest ``keep`` (``ADDON_LOG_LIMIT``); never pending.

    Returns:
        How many entries were deleted.
    """
    keep = ctx.settings.log_limit if keep is None else keep
    db = ctx.session
    finished = (Delivery.marketplace_id == marketplace_id, Delivery.status.in_(FINISHED))
    cutoff = db.execute(
        select(Delivery.created_at, Delivery.id)
        .where(*finished)
        .order_by(Delivery.created_at.desc(), Delivery.id.desc())
        .offset(keep)
        .limit(1)
    ).first()
    if cutoff is None:
        return 0
    created_at, pk = cutoff
    result = cast(
        CursorResult,
        db.execute(
            delete(Delivery)
            .where(
                *finished,
                or_(
                    Delivery.created_at < created_at,
                    (Delivery.created_at == created_at) & (Delivery.id <= pk),
                ),
            )
            .execution_options(synchronize_session=False)
        ),
    )
    db.commit()
    return result.rowcount or 0


def with_detail(ctx: Context, rows: list[Delivery]) -> list[LogEntry]:
    """The records of a page of entries, each with its ``detail`` and its event's time.

    The page's query leaves each entry's detail and its event out (a page is read often and
    shown without them); one query brings both for the page.
    """
    extra: dict[int, tuple[dict[str, Any] | None, dt.datetime]] = {}
    if rows:
        query = (
            select(Delivery.id, Delivery.detail, Event.created_at)
            .join(Event, Event.id == Delivery.event_pk)
            .where(Delivery.id.in_([row.id for row in rows]))
        )
        extra.update((pk, (detail, at)) for pk, detail, at in ctx.session.execute(query))
    return [LogEntry.from_row(row, *extra[row.id]) for row in rows]


def daily_counts(
    ctx: Context, marketplace_id: str, days: int = 30
) -> list[tuple[dt.date, dict[str, int]]]:
    """Entries per day by status for the last ``days`` days (UTC), oldest first, every day
    present (a day without entries has none); one grouped query on the log's index."""
    today = ctx.clock.now().date()
    first = today - dt.timedelta(days=days - 1)
    day = func.date(Delivery.created_at)
    rows = ctx.session.execute(
        select(day, Delivery.status, func.count())
        .where(
            Delivery.marketplace_id == marketplace_id,
            Delivery.created_at >= dt.datetime.combine(first, dt.time()),
        )
        .group_by(day, Delivery.status)
    )
    counts: dict[dt.date, dict[str, int]] = {first + dt.timedelta(n): {} for n in range(days)}
    for when, status, count in rows:
        # SQLite's date() is text, PostgreSQL's a date.
        on = when if isinstance(when, dt.date) else dt.date.fromisoformat(str(when))
        if on in counts:
            counts[on][status] = count
    return list(counts.items())
