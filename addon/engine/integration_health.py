"""How each integration is doing, in a word a merchant can act on: OK, some failures, failing,
needs attention (credentials rejected) or stuck (work waits too long to be sent).

Not the add-on's liveness (:mod:`addon.web.health`, ``/healthz``, for the people who run the
storefront): this is what the merchant sees on each integration's row and what alarms are
raised for (:mod:`addon.engine.alarms`).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import and_, case, func, select

from ..providers import PROVIDERS
from ..store.models import FAILED, NEEDS_ATTENTION, PENDING, SUCCESS, Delivery, Integration
from .context import Context

# The states, worst first: the row shows the worst that applies.
ATTENTION, STUCK, FAILING, DEGRADED, OK = "needs_attention", "stuck", "failing", "degraded", "ok"
#: The states that need the merchant (an alarm, the count on the tab); "degraded" only informs.
PROBLEMS = (ATTENTION, STUCK, FAILING)
#: What the badge says for each state.
TITLES = {
    ATTENTION: "Needs attention",
    STUCK: "Stuck",
    FAILING: "Failing",
    DEGRADED: "Some failures",
    OK: "OK",
}

#: "Failing" is judged on the last hour, not the day: short enough that it clears (and the
#: merchant hears it works again) within an hour of the cause being fixed, once updates go
#: through again.
FAILING_WINDOW = dt.timedelta(hours=1)
#: The failure ratio shown on the row, and "some failures" when it is above zero.
RATIO_WINDOW = dt.timedelta(hours=24)


@dataclass(frozen=True)
class Health:
    """One integration's state, why, and the figures behind it."""

    integration_id: int
    state: str
    #: Plain words for the merchant; "" when all is well.
    reason: str
    last_success: dt.datetime | None
    #: Finished updates (succeeded or failed) in the last 24 hours, and how many failed.
    finished_24h: int
    failed_24h: int
    #: When the oldest update that is due to be sent became due (None: nothing waits).
    waiting_since: dt.datetime | None

    @property
    def title(self) -> str:
        return TITLES[self.state]

    @property
    def needs_you(self) -> bool:
        return self.state in PROBLEMS

    @property
    def failure_percent(self) -> int | None:
        """The 24-hour failure ratio in whole percent (None: nothing finished)."""
        if not self.finished_24h:
            return None
        return round(100 * self.failed_24h / self.finished_24h)


def integrations_health(ctx: Context, integrations: Iterable[Integration]) -> dict[int, Health]:
    """The health of each of ``integrations``, by id, with three grouped queries.

    Args:
        integrations: loaded rows (their status and provider are read).

    Returns:
        ``{integration id: Health}``.
    """
    rows = {integration.id: integration for integration in integrations}
    if not rows:
        return {}
    now = ctx.clock.now()
    ids = list(rows)
    day_ago, hour_ago = now - RATIO_WINDOW, now - FAILING_WINDOW
    recent = Delivery.finished_at >= hour_ago
    counts = {
        row[0]: row[1:]
        for row in ctx.session.execute(
            select(
                Delivery.integration_id,
                func.count(),
                func.count(case((Delivery.status == FAILED, 1))),
                func.count(case((recent, 1))),
                func.count(case((and_(recent, Delivery.status == FAILED), 1))),
                func.max(case((Delivery.status == FAILED, Delivery.finished_at))),
            )
            .where(
                Delivery.integration_id.in_(ids),
                Delivery.status.in_((SUCCESS, FAILED)),
                Delivery.finished_at >= day_ago,
            )
            .group_by(Delivery.integration_id)
        )
    }
    last_success = _by_id(
        ctx.session.execute(
            select(Delivery.integration_id, func.max(Delivery.finished_at))
            .where(Delivery.integration_id.in_(ids), Delivery.status == SUCCESS)
            .group_by(Delivery.integration_id)
        )
    )
    # Due work only: a retry's backoff or a delayed rule (an abandoned cart) is not late.
    waiting = _by_id(
        ctx.session.execute(
            select(Delivery.integration_id, func.min(Delivery.next_attempt_at))
            .where(
                Delivery.integration_id.in_(ids),
                Delivery.status == PENDING,
                Delivery.next_attempt_at <= now,
            )
            .group_by(Delivery.integration_id)
        )
    )
    return {
        pk: _judge(
            ctx,
            integration,
            now,
            counts.get(pk, (0, 0, 0, 0, None)),
            last_success.get(pk),
            waiting.get(pk),
        )
        for pk, integration in rows.items()
    }


def _by_id(rows: Iterable[Any]) -> dict[int, dt.datetime]:
    return {pk: at for pk, at in rows}


def _judge(
    ctx: Context,
    integration: Integration,
    now: dt.datetime,
    counts: tuple[Any, ...],
    last_success: dt.datetime | None,
    waiting_since: dt.datetime | None,
) -> Health:
    finished, failed, finished_hour, failed_hour, last_failure = counts
    settings = ctx.settings

    def past_threshold(failures: int, of: int) -> bool:
        return (
            failures >= settings.failing_min_failures
            and 100 * failures >= settings.failing_percent * of
        )

    # Without updates in the last hour (a quiet store), failing lasts until one goes through:
    # a quiet hour is no sign that the cause was fixed.
    none_since = last_failure is not None and (last_success is None or last_failure > last_success)
    provider = PROVIDERS.get(integration.provider)
    name = provider.display_name if provider is not None else integration.provider
    waited = (now - waiting_since) if waiting_since is not None else None
    if integration.status == NEEDS_ATTENTION:
        state = ATTENTION
        reason = (
            f"{name} no longer accepts this integration's password. Updates are on hold, "
            "nothing is lost: edit the integration and enter a new application password, "
            "and they are sent."
        )
    elif waited is not None and waited >= dt.timedelta(minutes=settings.stuck_minutes):
        state = STUCK
        reason = (
            f"Updates are waiting to be sent: the oldest has waited {_duration(waited)}. "
            "Nothing is lost. If this lasts, ask your store's support to check that its "
            "background processing is running."
        )
    elif past_threshold(failed_hour, finished_hour):
        state = FAILING
        reason = (
            f"{failed_hour} of {finished_hour} updates failed in the last hour. "
            "Open Logs to see why."
        )
    elif none_since and past_threshold(failed, finished):
        state = FAILING
        reason = (
            f"{failed} of {finished} updates failed in the last 24 hours, and none has gone "
            "through since. Open Logs to see why."
        )
    elif failed:
        state = DEGRADED
        reason = f"{failed} of {finished} updates failed in the last 24 hours."
    else:
        state, reason = OK, ""
    return Health(integration.id, state, reason, last_success, finished, failed, waiting_since)


def _duration(delta: dt.timedelta) -> str:
    minutes = int(delta.total_seconds() // 60)
    if minutes < 120:
        return f"{minutes} minute{'' if minutes == 1 else 's'}"
    hours = minutes // 60
    return f"{hours} hours"


def marketplace_health(ctx: Context, marketplace_id: str) -> dict[int, Health]:
    """The health of each of the marketplace's integrations, by id."""
    integrations = ctx.session.scalars(
        select(Integration).where(Integration.marketplace_id == marketplace_id)
    )
    return integrations_health(ctx, integrations)
