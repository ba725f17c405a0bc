"""What *Apply to past events* would reach, before it starts: the customers a backfill of a
rule since a date applies it to, and the provider calls and time that takes.

The customers are those whose events since that date fired the rule before it was made (the
events it saw itself were applied when they happened), and whose standing on the rule's list,
replayed through today's rules (:mod:`.replay`), is what the rule does: a customer refunded
since is not put back. The job (:mod:`.backfill`) writes one delivery for each.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import func, select

from ..providers import get_provider
from ..store.bookkeeping import CachedContact
from ..store.models import RECONCILE, Event, Rule
from .context import Context
from .past_events import host_events
from .replay import implied_membership
from .triggers import TRIGGER_NAMES, triggers_for


@dataclass
class Preview:
    """What applying a rule to the past would take."""

    customers: int
    #: Of them, found by the host's hook and not stored yet (an estimate: not deduplicated
    #: against the stored ones until the job stores them).
    from_host: int
    calls: int
    #: At the account's allowance.
    seconds: float


def preview(ctx: Context, rule: Rule, since: dt.datetime, from_host: bool = False) -> Preview:
    """Customers, provider calls and time a backfill of ``rule`` since ``since`` would take."""
    stored = candidates(ctx, rule, since)
    host = 0
    if from_host:
        known = set(stored)
        host = len({key for key, _e in host_events(ctx, rule, since) if key not in known})
    customers = len(stored) + host
    integration = rule.integration
    provider = get_provider(integration.provider)
    known_contacts = (
        ctx.session.scalar(
            select(func.count()).where(
                CachedContact.integration_id == integration.id,
                CachedContact.email_key.in_(list(stored)),
            )
        )
        if stored
        else 0
    )
    batch = ctx.settings.claim_batch
    if provider.estimate_calls is not None:
        calls = provider.estimate_calls(rule.action, customers, known_contacts or 0, batch)
    else:
        calls = customers
    per_minute = provider.calls_per_minute(ctx.settings)
    return Preview(customers, host, calls, calls / per_minute * 60)


def candidates(ctx: Context, rule: Rule, since: dt.datetime) -> dict[str, int]:
    """``{email_key: event pk}``: each customer to apply ``rule`` to, with their latest event
    since ``since`` that fired it before it was made."""
    types = [name for name in TRIGGER_NAMES if rule.trigger in triggers_for(name)]
    fires = [
        Event.marketplace_id == rule.marketplace_id,
        Event.type.in_(types),
        Event.cause != RECONCILE,
    ]
    if rule.product_id is not None:
        fires.append(Event.product_id == rule.product_id)
    latest: dict[str, tuple[dt.datetime, int]] = {}
    seen_live: set[str] = set()
    query = select(Event.email_key, Event.created_at, Event.id).where(
        *fires, Event.created_at >= since
    )
    for email_key, created_at, pk in ctx.session.execute(query):
        if created_at >= rule.created_at:
            seen_live.add(email_key)  # the rule applied it when it happened
        elif email_key not in latest or latest[email_key] < (created_at, pk):
            latest[email_key] = (created_at, pk)
    wanted = set(latest) - seen_live
    if not wanted:
        return {}
    implied = implied_membership(ctx, rule.integration, emails=wanted)
    on_list = implied.lists.get(rule.list_id, ("", {}))[1]
    keep = {key for key in wanted if (key in on_list) == (rule.action == "add")}
    return {key: latest[key][1] for key in keep}
