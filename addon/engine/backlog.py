"""How many updates wait for an integration, and how long they take at its provider's call
allowance: what Integration Setup shows while a burst drains (issue 18)."""

from __future__ import annotations

import math
from dataclasses import dataclass

from sqlalchemy import func, select

from ..providers import get_provider
from ..store.models import PENDING, Delivery, Integration
from .contact_sync import since_mark
from .context import Context


@dataclass(frozen=True)
class Backlog:
    """Deliveries due now and the minutes their calls take at the allowance."""

    waiting: int
    calls: int
    calls_per_minute: int

    @property
    def minutes(self) -> int:
        """Whole minutes, rounded up: a merchant reads "≈ 1 min" for a few seconds' work."""
        return max(1, math.ceil(self.calls / self.calls_per_minute))


def backlog(ctx: Context, integration: Integration) -> Backlog | None:
    """The integration's due deliveries and their expected time, or None when none wait.

    The calls are the provider's estimate (``Provider.estimate_calls``) for the claims the
    engine makes; a provider whose contacts are synced needs no lookups, so every customer
    counts as known. Without an estimate, one call per delivery.
    """
    now = ctx.clock.now()
    rows = ctx.session.execute(
        select(Delivery.action, func.count())
        .where(
            Delivery.integration_id == integration.id,
            Delivery.status == PENDING,
            Delivery.next_attempt_at <= now,
        )
        .group_by(Delivery.action)
    ).all()
    waiting = {action: count for action, count in rows}
    total = sum(waiting.values())
    if not total:
        return None
    provider = get_provider(integration.provider)
    synced = provider.sync_contacts is not None and since_mark(ctx, integration.id) is not None
    batch = ctx.settings.claim_batch_max if synced else ctx.settings.claim_batch
    calls = 0
    for action, count in waiting.items():
        if provider.estimate_calls is None:
            calls += count
        else:
            calls += provider.estimate_calls(action, count, count if synced else 0, batch)
    return Backlog(total, calls, provider.calls_per_minute(ctx.settings))
