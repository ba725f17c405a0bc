"""Outcomes: what a delivery ends as and the words a merchant reads in its log entry; the
business rules that settle a delivery without a call, and the backoff of a retry."""

from __future__ import annotations

import datetime as dt
import random

from sqlalchemy import or_, select

from ..providers import InvalidData, NotFound, Outcome, Provider, ProviderError
from ..store.models import FAILED, SKIPPED, SUCCESS, Delivery, Event
from .claimed import Claimed, ClaimedEvent
from .context import Context
from .events import is_valid_email
from .triggers import PROSPECT

# Retry backoff: first wait, cap; jitter spreads a burst of retries.
RETRY_BASE_SECONDS = 30

RETRY_CAP_SECONDS = 3600


def finish(
    ctx: Context, delivery: Claimed, status: str, message: str, detail: dict | None = None
) -> None:
    delivery.status = status
    delivery.message = message
    if detail is not None:
        delivery.detail = detail
    delivery.attempts += 1
    delivery.finished_at = ctx.clock.now()
    delivery.lease_owner = delivery.lease_until = None


def retry_later(
    ctx: Context, delivery: Claimed, reason: str, retry_after: float | None, detail: dict | None
) -> dt.datetime | None:
    """Schedule another attempt with exponential backoff and jitter, or fail past the window.

    Returns:
        When the next attempt is due, or None when the delivery failed for good.
    """
    delivery.attempts += 1
    if detail is not None:
        delivery.detail = detail
    now = ctx.clock.now()
    window = dt.timedelta(seconds=ctx.settings.retry_window)
    backoff = min(RETRY_CAP_SECONDS, RETRY_BASE_SECONDS * 2 ** (delivery.attempts - 1))
    wait = max(retry_after or 0, backoff * random.uniform(0.5, 1.0))
    next_at = now + dt.timedelta(seconds=wait)
    if next_at - delivery.created_at > window:
        finish(
            ctx,
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


def record_outcome(
    ctx: Context, delivery: Claimed, outcome, detail: dict, provider: Provider
) -> None:
    """Set one delivery's result, with advice a merchant can act on for failures.

    Args:
        detail: what was sent and answered for this delivery, kept with a failure.
        provider: whose answer it is (its name is in the advice).
    """
    name = provider.display_name
    if isinstance(outcome, Outcome):
        finish(ctx, delivery, outcome.status, outcome.message, outcome.detail)
    elif isinstance(outcome, NotFound):
        finish(
            ctx,
            delivery,
            FAILED,
            f"The list {delivery.list_name!r} ({delivery.list_id}) was not found in {name}: "
            f"{outcome}. Refresh the lists and point the rule at an existing list.",
            detail,
        )
    elif isinstance(outcome, InvalidData):
        finish(ctx, delivery, FAILED, f"{name} refused the data: {outcome}", detail)
    elif isinstance(outcome, ProviderError):
        finish(ctx, delivery, FAILED, str(outcome), detail)
    else:  # pragma: no cover - every action gets an outcome; fail loudly rather than lose it
        finish(ctx, delivery, FAILED, "No outcome was recorded for this action", detail)


def precheck(ctx: Context, delivery: Claimed, provider: Provider) -> tuple[str, str] | None:
    """Why a delivery must not call the provider at all, as ``(status, message)``, or None."""
    if not is_valid_email(delivery.email):
        return (
            FAILED,
            f"invalid email address {delivery.email!r}: nothing was sent to "
            f"{provider.display_name}",
        )
    if delivery.trigger == PROSPECT and purchased_since(ctx, delivery.event):
        return SKIPPED, "skipped: purchased before the abandonment delay"
    # Only a retried entry can be overtaken: claims keep fresh work in order.
    if delivery.attempts and superseded(ctx, delivery):
        return SKIPPED, "skipped: a later event already changed this customer on this list"
    return None


def superseded(ctx: Context, delivery: Claimed) -> bool:
    """Whether a later delivery for the same customer and list already ran (a late retry)."""
    later = select(Delivery.id).where(
        Delivery.integration_id == delivery.integration_id,
        Delivery.list_id == delivery.list_id,
        Delivery.email_key == delivery.email_key,
        Delivery.status == SUCCESS,
        Delivery.sequence_at > delivery.sequence_at,
    )
    return ctx.session.execute(later.limit(1)).first() is not None


def purchased_since(ctx: Context, prospect: ClaimedEvent) -> bool:
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
    return ctx.session.execute(query.limit(1)).first() is not None
