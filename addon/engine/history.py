"""History: every stored event of a marketplace, found by customer, id or product, each with
what its rules did or why none acted; and one customer's story across integrations.

The log (:mod:`.logs`) holds what each rule did; events no rule acted on have no entry there.
Events are kept (for idempotency) after their entries are pruned, so this reads them from
their own table, a page at a time, and never adds to the log's 1,000 entries.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Unpack

from sqlalchemy import exists, func, or_, select

from ..providers import PROVIDERS
from ..store.models import FINISHED, SKIPPED, Delivery, Event, Integration, Rule
from .context import Context
from .logs import Filters, made_between, search_term
from .reasons import (
    Background,
    GoneRule,
    entry_reason,
    event_title,
    nothing_happened,
    outcome_summary,
)
from .rules import marketplace_rules
from .triggers import TRIGGER_NAMES, triggers_for

#: A customer's story shows at most this many of their events, newest first.
STORY_LIMIT = 200


@dataclass
class EntryStory:
    """One log entry of an event, with why it is as it is."""

    entry: Delivery
    reason: str | None


@dataclass
class EventStory:
    """One stored event: what it was, what each rule did with it, or why no rule acted."""

    event: Event
    title: str
    entries: list[EntryStory]
    #: One sentence: the rules' outcomes, or why nothing happened.
    summary: str

    @property
    def acted(self) -> bool:
        return bool(self.entries)


@dataclass
class ListState:
    """Where the rules say a customer should be on one list now, from their latest entry."""

    integration_label: str
    list_name: str
    on_list: bool
    #: The entry that says so: its status tells whether it was done yet.
    entry: Delivery


@dataclass
class CustomerStory:
    email: str
    events: list[EventStory] = field(default_factory=list)
    lists: list[ListState] = field(default_factory=list)
    #: More events than :data:`STORY_LIMIT` exist; the oldest are not shown.
    truncated: bool = False


def event_query(marketplace_id: str, email: str | None = None, **filters: Unpack[Filters]):
    """The marketplace's events that the filters (:class:`.logs.Filters`) match: ``status``
    and ``integration_id`` select events with an entry of that status or integration;
    ``email`` is exactly this customer (any case)."""
    query = select(Event).where(Event.marketplace_id == marketplace_id)
    if term := search_term(filters):
        query = query.where(
            or_(
                Event.email_key.contains(term, autoescape=True),
                func.lower(Event.event_id).contains(term, autoescape=True),
                func.lower(Event.product_id).contains(term, autoescape=True),
            )
        )
    if email:
        query = query.where(Event.email_key == email.strip().lower())
    if trigger := filters.get("trigger"):
        query = query.where(Event.type.in_(firing(trigger)))
    entry = [Delivery.event_pk == Event.id]
    if status := filters.get("status"):
        entry.append(Delivery.status == status)
    if integration_id := filters.get("integration_id"):
        entry.append(Delivery.integration_id == int(integration_id))
    if len(entry) > 1:
        query = query.where(exists().where(*entry))
    return query.where(*made_between(Event.created_at, filters))


def firing(trigger: str) -> list[str]:
    """The event types that fire ``trigger`` (a Delinquent event also fires Canceled)."""
    return [name for name in TRIGGER_NAMES if trigger in triggers_for(name)]


def search_events(
    ctx: Context,
    marketplace_id: str,
    limit: int = 50,
    offset: int = 0,
    email: str | None = None,
    **filters: Unpack[Filters],
) -> list[Event]:
    """A page of the marketplace's events, newest first (filters: :func:`event_query`)."""
    query = event_query(marketplace_id, email, **filters).order_by(
        Event.created_at.desc(), Event.id.desc()
    )
    return list(ctx.session.scalars(query.limit(limit).offset(offset)))


def count_events(ctx: Context, marketplace_id: str, **filters: Unpack[Filters]) -> int:
    matched = event_query(marketplace_id, **filters).subquery()
    return ctx.session.execute(select(func.count()).select_from(matched)).scalar_one()


def stories(
    ctx: Context,
    marketplace_id: str,
    events: list[Event],
    product_name: Callable[[str | None], str | None],
) -> list[EventStory]:
    """Each event with its entries and the words that explain them: a few queries for the
    whole page (its entries, the rules, what the log remembers of deleted rules).

    Args:
        product_name: the host's name of a product id (None: unknown).
    """
    if not events:
        return []
    by_event: dict[int, list[Delivery]] = {event.id: [] for event in events}
    rows = ctx.session.scalars(
        select(Delivery)
        .where(Delivery.event_pk.in_(list(by_event)))
        .order_by(Delivery.created_at, Delivery.id)
    )
    for row in rows:
        by_event[row.event_pk].append(row)
    background = _background(ctx, marketplace_id)
    names = _provider_names(ctx, [d for entries in by_event.values() for d in entries])
    told = []
    for event in events:
        entries = [
            EntryStory(d, entry_reason(d, names.get(d.integration_id), background.now))
            for d in by_event[event.id]
        ]
        summary = (
            outcome_summary([e.entry for e in entries])
            if entries
            else nothing_happened(event, background, product_name)
        )
        told.append(EventStory(event, event_title(event, product_name), entries, summary))
    return told


def customer_story(
    ctx: Context,
    marketplace_id: str,
    email: str,
    product_name: Callable[[str | None], str | None],
) -> CustomerStory:
    """One customer's events, newest first, what each rule did, and the lists the rules say
    they should be on now."""
    events = search_events(ctx, marketplace_id, limit=STORY_LIMIT + 1, email=email)
    story = CustomerStory(email=email.strip(), truncated=len(events) > STORY_LIMIT)
    story.events = stories(ctx, marketplace_id, events[:STORY_LIMIT], product_name)
    story.lists = list_states([e.entry for s in story.events for e in s.entries])
    return story


def list_states(entries: list[Delivery]) -> list[ListState]:
    """Per integration and list, what the customer's latest entry that was not skipped says:
    on the list after an add, off it after a remove. A skipped entry changed nothing."""
    latest: dict[tuple[str, str], Delivery] = {}
    for entry in entries:
        if entry.status == SKIPPED:
            continue
        key = (entry.integration_label, entry.list_id)
        known = latest.get(key)
        if known is None or (entry.sequence_at, entry.id) > (known.sequence_at, known.id):
            latest[key] = entry
    return [
        ListState(entry.integration_label, entry.list_name, entry.action == "add", entry)
        for _, entry in sorted(latest.items(), key=lambda item: (item[0][0], item[1].list_name))
    ]


def _background(ctx: Context, marketplace_id: str) -> Background:
    db = ctx.session
    finished, oldest = db.execute(
        select(func.count(), func.min(Delivery.created_at)).where(
            Delivery.marketplace_id == marketplace_id, Delivery.status.in_(FINISHED)
        )
    ).one()
    # Entries are only cleared once the log is full: before that, nothing was.
    kept_since = oldest if finished >= ctx.settings.log_limit else None
    # Outer joins, not "rule_id IS NULL": on SQLite without foreign key enforcement a
    # deleted rule's entries keep its id.
    gone = db.execute(
        select(
            Delivery.trigger,
            Delivery.product_id,
            Delivery.rule_scope,
            Delivery.integration_label,
            Integration.id.is_(None),
        )
        .outerjoin(Rule, Rule.id == Delivery.rule_id)
        .outerjoin(Integration, Integration.id == Delivery.integration_id)
        .where(Delivery.marketplace_id == marketplace_id, Rule.id.is_(None))
        .distinct()
    ).all()
    return Background(
        rules=marketplace_rules(ctx, marketplace_id),
        kept_since=kept_since,
        log_limit=ctx.settings.log_limit,
        gone=[
            GoneRule(trigger, None if scope == "global" else product, label, bool(deleted))
            for trigger, product, scope, label, deleted in gone
        ],
        now=ctx.clock.now(),
    )


def _provider_names(ctx: Context, entries: list[Delivery]) -> dict[int | None, str]:
    """The provider's display name of each entry's integration that still exists."""
    ids = {entry.integration_id for entry in entries if entry.integration_id is not None}
    if not ids:
        return {}
    rows = ctx.session.execute(
        select(Integration.id, Integration.provider).where(Integration.id.in_(ids))
    )
    return {
        pk: PROVIDERS[name].display_name if name in PROVIDERS else "The provider"
        for pk, name in rows
    }
