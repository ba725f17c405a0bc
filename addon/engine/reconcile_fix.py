"""*Fix*: a check's missing and extra customers (:mod:`.reconcile`) turned into ordinary
deliveries with the cause ``reconcile``.

One stored event each (so a second click, or a second worker, writes nothing twice), applied by
the drains in per-customer order through the shared limiter, and past the consent guard like
any other delivery.
"""

from __future__ import annotations

import hashlib

from sqlalchemy import func, insert, select
from sqlalchemy.exc import IntegrityError

from ..store.bookkeeping import Check
from ..store.models import PENDING, RECONCILE, Delivery, Event, Integration, table_of
from .context import Context
from .expansion import delivery_row
from .queue import enqueue_drain
from .reconcile import EXTRA, MISSING
from .replay import integration_rules

#: Trigger and event type of a fix's delivery and event.
FIX = "reconcile"


def fixable(check: Check) -> list[dict]:
    """The differences *Fix* applies: missing and extra, never opted out."""
    return [d for d in check.differences or [] if d["kind"] in (MISSING, EXTRA)]


def fix_check(ctx: Context, check: Check) -> int:
    """Queue the fixable differences as deliveries with the cause ``reconcile``.

    Returns:
        How many were queued (0 when this check's fixes were queued already).
    """
    db = ctx.session
    todo = fixable(check)
    if check.fixed_at is not None or check.status != "done" or not todo:
        return 0
    integration = db.get(Integration, check.integration_id)
    if integration is None:
        return 0
    rules = {rule.id: rule for rule in integration_rules(ctx, integration)}
    now = ctx.clock.now()
    pairs = []
    for difference in todo:
        rule = rules.get(difference["rule_id"])
        if rule is None:
            continue  # its rule was deleted since the check: the next check says what to do
        email = difference["email"]
        event = Event(
            marketplace_id=check.marketplace_id,
            event_id=_fix_id(check, difference["list_id"], email),
            type=FIX,
            product_id=None,
            prospect_id=None,
            email_key=email.lower(),
            payload={"customer": difference["customer"]},
            created_at=now,
            # Made only to carry this fix: no rule is matched against it.
            expanded_at=now,
            cause=RECONCILE,
        )
        pairs.append((event, rule, difference))
    try:
        db.add_all([event for event, _rule, _d in pairs])
        db.flush()
    except IntegrityError:  # another request queued them a moment ago
        db.rollback()
        return 0
    rows = []
    for event, rule, difference in pairs:
        row = delivery_row(ctx, event, rule, FIX, cause=RECONCILE)
        row.update(
            action="add" if difference["kind"] == MISSING else "remove",
            list_id=difference["list_id"],
            list_name=difference["list_name"],
            # An extra customer is on the list by no rule's doing.
            rule_id=rule.id if difference["kind"] == MISSING else None,
            message="queued: fix after a check",
        )
        rows.append(row)
    if rows:
        db.execute(insert(table_of(Delivery)), rows)
    check.fixed_at, check.fixed = now, len(rows)
    db.commit()
    enqueue_drain(ctx.queue, integration.id)
    return len(rows)


def fixes_pending(ctx: Context, integration_id: int) -> int:
    """How many fixes of the integration are still waiting to be applied."""
    query = select(func.count()).where(
        Delivery.integration_id == integration_id,
        Delivery.status == PENDING,
        Delivery.cause == RECONCILE,
    )
    return ctx.session.scalar(query) or 0


def _fix_id(check: Check, list_id: str, email: str) -> str:
    # Within the 64 characters of an event id, whatever the email's length.
    digest = hashlib.sha1(f"{list_id}:{email.lower()}".encode()).hexdigest()[:24]
    return f"fix-{check.id}-{digest}"
