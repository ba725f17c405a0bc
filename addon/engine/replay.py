"""Replay: the marketplace's stored events run through today's rules, in the order their
deliveries would apply, to say where each customer should stand on each list.

A customer's last applicable action on a list decides: added, or removed (or never touched).
Abandoned carts count from the end of their delay and only when the customer did not buy
since (as the deliveries themselves do); an event whose work is not due yet counts not at all.
Events made to carry a fix (cause ``reconcile``) are not history and are left out.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from sqlalchemy import func, select

from ..store.models import RECONCILE, Event, Integration, Rule
from .context import Context
from .events import is_valid_email
from .rules import marketplace_rules
from .triggers import PROSPECT, TRIGGER_NAMES, triggers_for

#: Events read per round trip while streaming a marketplace's history.
STREAM_CHUNK = 5000


@dataclass
class Implied:
    """What the rules imply for one integration."""

    #: ``{list_id: (list name, {email_key: id of the rule that put them on})}``: only the
    #: customers the rules leave on the list.
    lists: dict[str, tuple[str, dict[str, int]]] = field(default_factory=dict)
    #: Every customer of the marketplace's stored events: ``{email_key: customer}`` (the
    #: customer's details from their latest event).
    customers: dict[str, dict[str, str]] = field(default_factory=dict)
    #: A rule of each list, for a difference no rule caused.
    any_rule: dict[str, int] = field(default_factory=dict)


def integration_rules(ctx: Context, integration: Integration) -> list[Rule]:
    """The rules that act on the integration's lists."""
    return [
        rule
        for rule in marketplace_rules(ctx, integration.marketplace_id)
        if rule.integration_id == integration.id
    ]


def implied_membership(
    ctx: Context, integration: Integration, emails: set[str] | None = None
) -> Implied:
    """Where the integration's rules put each customer of the marketplace.

    Args:
        emails: only these customers (lower-cased); None: every customer.
    """
    rules = integration_rules(ctx, integration)
    implied = Implied()
    for rule in rules:
        implied.lists.setdefault(rule.list_id, (rule.list_name, {}))
        implied.any_rule.setdefault(rule.list_id, rule.id)
    now = ctx.clock.now()
    delay = dt.timedelta(seconds=ctx.settings.prospect_delay)
    bought = _last_purchases(ctx, integration.marketplace_id) if _has_prospects(rules) else {}
    fired = {name: [r for r in rules if r.trigger in triggers_for(name)] for name in TRIGGER_NAMES}
    # (list, customer) -> ((when, event pk), action, rule id) of the last action that applies.
    last: dict[tuple[str, str], tuple[tuple[dt.datetime, int], str, int]] = {}
    query = (
        select(
            Event.id,
            Event.type,
            Event.product_id,
            Event.prospect_id,
            Event.email_key,
            Event.payload,
            Event.created_at,
        )
        .where(Event.marketplace_id == integration.marketplace_id, Event.cause != RECONCILE)
        .order_by(Event.created_at, Event.id)
        .execution_options(yield_per=STREAM_CHUNK)
    )
    for pk, kind, product_id, prospect_id, email_key, payload, created_at in ctx.session.execute(
        query
    ):
        if emails is not None and email_key not in emails:
            continue
        customer = payload.get("customer") or {}
        if not is_valid_email(str(customer.get("email") or "")):
            continue
        implied.customers[email_key] = customer
        for rule in fired.get(kind, ()):
            if rule.product_id not in (None, product_id):
                continue
            when = created_at
            if rule.trigger == PROSPECT:
                when = created_at + delay
                purchase = max(
                    bought.get(("email", email_key), dt.datetime.min),
                    bought.get(("prospect", str(prospect_id)), dt.datetime.min),
                )
                if purchase >= created_at:
                    continue  # they bought: the abandoned cart's work is skipped
            if when > now:
                continue  # not due yet: nothing was applied
            key = (rule.list_id, email_key)
            order = (when, pk)
            if key not in last or last[key][0] < order:
                last[key] = (order, rule.action, rule.id)
    for (list_id, email_key), (_order, action, rule_id) in last.items():
        if action == "add":
            implied.lists[list_id][1][email_key] = rule_id
    return implied


def _has_prospects(rules: list[Rule]) -> bool:
    return any(rule.trigger == PROSPECT for rule in rules)


def _last_purchases(ctx: Context, marketplace_id: str) -> dict[tuple[str, str], dt.datetime]:
    """The time of each customer's (and each prospect id's) latest purchase."""
    purchases = (Event.marketplace_id == marketplace_id, Event.type == "product.purchased")
    last: dict[tuple[str, str], dt.datetime] = {}
    for email_key, when in ctx.session.execute(
        select(Event.email_key, func.max(Event.created_at))
        .where(*purchases)
        .group_by(Event.email_key)
    ):
        last[("email", email_key)] = when
    for prospect_id, when in ctx.session.execute(
        select(Event.prospect_id, func.max(Event.created_at))
        .where(*purchases, Event.prospect_id.is_not(None))
        .group_by(Event.prospect_id)
    ):
        last[("prospect", str(prospect_id))] = when
    return last
