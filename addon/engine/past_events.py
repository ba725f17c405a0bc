"""Past events from the host's ``@engine.past_events`` hook: what happened before the add-on
was installed, stored as events with the cause ``backfill`` so that *Apply to past events*
(:mod:`backfill`) and *Check against the provider* (:mod:`replay`) see them like the others.

They are stored as already matched: only a backfill applies a rule to them, never every rule
at once. Their ids are the ones the storefront gives ``emit``, so an event sent both ways is
stored once.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Iterable
from typing import Any

from sqlalchemy import select

from ..errors import IntegrationError, InvalidEvent
from ..state import engine as host
from ..store.models import BACKFILL, Event, Rule
from .context import Context
from .events import validate_event

log = logging.getLogger("addon.backfill")


def store_host_events(ctx: Context, rule: Rule, since: dt.datetime) -> int:
    """Store what the host's past-events hook yields for the rule's trigger, as events with
    the cause ``backfill`` (already matched: only the backfill applies a rule to them).

    Returns:
        How many were new.
    """
    db = ctx.session
    stored = 0
    batch: list[dict[str, Any]] = []
    for _key, event in host_events(ctx, rule, since):
        batch.append(event)
        if len(batch) >= 500:
            stored += _store(ctx, batch)
            batch = []
    stored += _store(ctx, batch)
    db.commit()
    return stored


def _store(ctx: Context, events: list[dict[str, Any]]) -> int:
    if not events:
        return 0
    db = ctx.session
    ids = [event["event_id"] for event in events]
    known = set(
        db.scalars(
            select(Event.event_id).where(
                Event.marketplace_id == events[0]["marketplace_id"], Event.event_id.in_(ids)
            )
        )
    )
    new = [event for event in events if event["event_id"] not in known]
    db.add_all(Event(**event) for event in new)
    db.flush()
    return len(new)


def host_events(
    ctx: Context, rule: Rule, since: dt.datetime
) -> Iterable[tuple[str, dict[str, Any]]]:
    """``(email_key, event row)`` for each valid past event the host's hook yields."""
    hook = host().past_events_callback
    if hook is None:
        return
    now = ctx.clock.now()
    for raw in _read(hook, rule.marketplace_id, rule.trigger, since):
        try:
            item = dict(raw)
            when = item.pop("occurred_at")
            if when.tzinfo is not None:
                when = when.astimezone(dt.UTC).replace(tzinfo=None)
            event_type = item.pop("type", rule.trigger)
            customer = item.pop("customer")
            event_id = item.pop("event_id")
            clean = validate_event(event_type, rule.marketplace_id, customer, event_id, item)
        except (InvalidEvent, KeyError, AttributeError, TypeError) as exc:
            log.warning("past event skipped: %s", exc)
            continue
        if when < since or when > now:
            continue
        fields = clean["fields"]
        row = {
            "marketplace_id": clean["marketplace_id"],
            "event_id": clean["id"],
            "type": clean["type"],
            "product_id": fields.get("product_id"),
            "prospect_id": fields.get("prospect_id"),
            "email_key": clean["customer"]["email"].lower(),
            "payload": {"customer": clean["customer"], **fields},
            "created_at": when,
            "expanded_at": now,
            "cause": BACKFILL,
        }
        yield row["email_key"], row


#: What the merchant reads when the host's hook fails: the store's code, not theirs to fix.
UNREADABLE = (
    "Your store could not read its orders from before the add-on (its past-events hook "
    "failed), so nothing was applied from them. Try again later, or ask your store's support."
)


def _read(hook: Any, marketplace_id: str, trigger: str, since: dt.datetime) -> Iterable[Any]:
    """The hook's past events; whatever the host's code raises becomes one clear error."""
    try:
        yield from hook(marketplace_id, trigger, since)
    except Exception as exc:  # the host's code: any failure of it is the same to the merchant
        log.exception("the host's past-events hook failed for %s", marketplace_id)
        raise IntegrationError(UNREADABLE) from exc
