"""Alarms: the merchant is told, without watching the screen, when an integration needs them
(credentials rejected, work stuck, too many failures) and when it works again.

A worker's sweeper asks for a check of every integration's health (:func:`check_alarms_once`,
a job that runs :func:`check_alarms`). An alarm is recorded before it is sent, and the record
is what keeps the same alarm from going out again within ``ADDON_ALARM_DIGEST_HOURS``,
whichever worker checks next: a digest, not a flood. The alarms a check raises for one
marketplace go out as one email and one webhook post.
"""

from __future__ import annotations

import calendar
import datetime as dt
import logging
from collections import defaultdict
from typing import TYPE_CHECKING, Any

from flask import Flask
from redis.exceptions import RedisError
from sqlalchemy import func, select

from ..alarms.email import send_email
from ..alarms.webhook import post_alarm
from ..state import context, engine
from ..store.bookkeeping import Alarm
from ..store.models import Integration
from .context import Context
from .integration_health import ATTENTION, FAILING, PROBLEMS, STUCK, Health, integrations_health
from .queue import redis_key, safe_enqueue

if TYPE_CHECKING:
    from rq.job import Job

    from ..hooks import HostHooks

log = logging.getLogger("addon.alarms")

RECOVERED, TEST = "recovered", "test"
#: Seconds an alarm check may take (its emails and posts included) before RQ stops it.
CHECK_TIMEOUT = 120
#: Each alarm's subject; ``{label}`` is the integration's.
SUBJECTS = {
    ATTENTION: "{label} needs your attention",
    STUCK: "{label}: updates are not going out",
    FAILING: "{label}: many updates are failing",
    RECOVERED: "{label} works again",
    TEST: "Test alarm",
}
SUBJECT_PREFIX = "[Integrations] "
TEST_MESSAGE = (
    "This is a test alarm, sent from the Alarms tab. If you can read it, alarms about your "
    "integrations reach you too."
)


def check_alarms(ctx: Context, hooks: HostHooks) -> list[Alarm]:
    """Raise and send the alarms that are due for every integration.

    Returns:
        The alarms raised, with each channel's outcome.
    """
    integrations = list(ctx.session.scalars(select(Integration).order_by(Integration.id)))
    health = integrations_health(ctx, integrations)
    now = ctx.clock.now()
    recent = _recent_conditions(ctx, now - dt.timedelta(hours=ctx.settings.alarm_digest_hours))
    last = _last_conditions(ctx)
    due = []
    for integration in integrations:
        state = health[integration.id]
        condition = _due(state, (integration.id, state.state) in recent, last.get(integration.id))
        if condition is not None:
            due.append(_alarm(integration, condition, state, now))
    if not due:
        ctx.session.rollback()  # end the read: no snapshot held until the next check
        return []
    # Recorded before anything is sent: a worker that checks while these are on their way
    # sees them and sends nothing twice.
    ctx.session.add_all(due)
    ctx.session.commit()
    by_marketplace: dict[str, list[Alarm]] = defaultdict(list)
    for alarm in due:
        by_marketplace[alarm.marketplace_id].append(alarm)
    for marketplace_id, alarms in by_marketplace.items():
        deliver(ctx, hooks, marketplace_id, alarms)
    return due


def _due(state: Health, alarmed_recently: bool, last_condition: str | None) -> str | None:
    """The condition to raise an alarm for now, or None."""
    if state.state in PROBLEMS:
        return None if alarmed_recently else state.state
    # Told of a problem, and not yet that it is over.
    if last_condition in PROBLEMS:
        return RECOVERED
    return None


def _recent_conditions(ctx: Context, since: dt.datetime) -> set[tuple[int, str]]:
    rows = ctx.session.execute(
        select(Alarm.integration_id, Alarm.condition)
        .where(Alarm.integration_id.is_not(None), Alarm.created_at > since)
        .distinct()
    )
    return {(pk, condition) for pk, condition in rows if pk is not None}


def _last_conditions(ctx: Context) -> dict[int, str]:
    """Each integration's latest alarm condition (tests left out)."""
    latest = (
        select(func.max(Alarm.id))
        .where(Alarm.integration_id.is_not(None), Alarm.condition != TEST)
        .group_by(Alarm.integration_id)
    )
    rows = ctx.session.execute(
        select(Alarm.integration_id, Alarm.condition).where(Alarm.id.in_(latest))
    )
    return {pk: condition for pk, condition in rows if pk is not None}


def _alarm(integration: Integration, condition: str, state: Health, now: dt.datetime) -> Alarm:
    if condition == RECOVERED:
        message = f"{integration.label} works again: its updates are going out as they should."
        if state.reason:  # some failures: still worth a look, not an alarm
            message += " " + state.reason
    else:
        message = state.reason
    return Alarm(
        marketplace_id=integration.marketplace_id,
        integration_id=integration.id,
        integration_label=integration.label,
        condition=condition,
        subject=SUBJECTS[condition].format(label=integration.label),
        message=message,
        channels={},
        created_at=now,
    )


def send_test_alarm(ctx: Context, hooks: HostHooks, marketplace_id: str) -> Alarm:
    """Send a test alarm on every channel that is on, and record it in the history.

    Returns:
        The alarm, with each channel's outcome.
    """
    alarm = Alarm(
        marketplace_id=marketplace_id,
        integration_id=None,
        integration_label="",
        condition=TEST,
        subject=SUBJECTS[TEST],
        message=TEST_MESSAGE,
        channels={},
        created_at=ctx.clock.now(),
    )
    ctx.session.add(alarm)
    ctx.session.commit()
    deliver(ctx, hooks, marketplace_id, [alarm])
    return alarm


def deliver(ctx: Context, hooks: HostHooks, marketplace_id: str, alarms: list[Alarm]) -> None:
    """Send one marketplace's alarms as one email and one webhook post, and record how each
    channel did on every alarm. Never raises: a failure is recorded and logged."""
    settings = ctx.settings
    outcomes: dict[str, str] = {}
    try:
        recipients = _recipients(ctx, hooks, marketplace_id)
        outcomes["email"] = send_email(settings, recipients, *email_of(ctx, alarms))
    except Exception:  # a host hook or a mail library that raised: the others still go
        log.exception("alarm email of marketplace %s failed", marketplace_id)
        outcomes["email"] = "not sent: something went wrong on our side"
    try:
        now = ctx.clock.now()
        payload = payload_of(marketplace_id, alarms, now)
        outcomes["webhook"] = post_alarm(settings, payload, calendar.timegm(now.timetuple()))
    except Exception:
        log.exception("alarm webhook of marketplace %s failed", marketplace_id)
        outcomes["webhook"] = "not delivered: something went wrong on our side"
    for alarm in alarms:
        alarm.channels = dict(outcomes)
    ctx.session.commit()


def _recipients(ctx: Context, hooks: HostHooks, marketplace_id: str) -> list[str | tuple[str, str]]:
    extra = (ctx.settings.alarm_recipients or "").split(",")
    found: dict[str, str] = {}
    for address in [*hooks.alarm_addresses(marketplace_id), *extra]:
        address = address.strip()
        if address:  # each address once, however it is written
            found.setdefault(address.lower(), address)
    return list(found.values())


def email_of(ctx: Context, alarms: list[Alarm]) -> tuple[str, str]:
    """The subject and the plain-text body of one email telling ``alarms``."""
    if len(alarms) == 1:
        subject = alarms[0].subject
    else:
        subject = f"{len(alarms)} changes to your integrations"
    lines = ["Hello,", ""]
    if alarms[0].condition == TEST:
        lines += [TEST_MESSAGE, ""]
    else:
        lines += ["Here is what changed with the integrations of your store:", ""]
        for alarm in alarms:
            lines += [f"* {alarm.subject}", f"  {alarm.message}", ""]
        hours = ctx.settings.alarm_digest_hours
        lines += [
            "To see more, open Marketplace Settings, then Integrations, in your store's admin.",
            f"You get this email at most once every {hours} hour{'' if hours == 1 else 's'} "
            "for the same problem, and once more when it is over.",
        ]
    return SUBJECT_PREFIX + subject, "\n".join(lines) + "\n"


def payload_of(marketplace_id: str, alarms: list[Alarm], now: dt.datetime) -> dict[str, Any]:
    """The alarm webhook's JSON (docs/mounting.md documents it)."""
    return {
        "type": "integration.alarm",
        "marketplace_id": marketplace_id,
        "sent_at": now.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "test": all(alarm.condition == TEST for alarm in alarms),
        "alarms": [
            {
                "id": alarm.id,
                "condition": alarm.condition,
                "integration_id": alarm.integration_id,
                "integration": alarm.integration_label or None,
                "subject": alarm.subject,
                "message": alarm.message,
                "raised_at": alarm.created_at.strftime("%Y-%m-%dT%H:%M:%SZ"),
            }
            for alarm in alarms
        ],
    }


def alarm_history(ctx: Context, marketplace_id: str, limit: int = 50) -> list[Alarm]:
    """The marketplace's latest alarms, newest first."""
    return list(
        ctx.session.scalars(
            select(Alarm)
            .where(Alarm.marketplace_id == marketplace_id)
            .order_by(Alarm.created_at.desc(), Alarm.id.desc())
            .limit(limit)
        )
    )


def check_alarms_once(app: Flask) -> Job | None:
    """Ask a worker to check the alarms, unless one was asked within ``ADDON_SWEEP_INTERVAL``.

    A job, not a call in the sweeper's thread: a mail server or an alert service that never
    answers then holds up one job, which RQ stops after :data:`CHECK_TIMEOUT`, not the sweeps.

    Returns:
        The job, or None when another worker asked already (or Redis is away).
    """
    with app.app_context():
        app_state = app.extensions["addon"].state(app)
        queue = app_state.queue
        if queue is None:
            return None
        try:
            if not queue.connection.set(
                redis_key(queue, "alarms", "lock"),
                "1",
                nx=True,
                ex=app_state.settings.sweep_interval,
            ):
                return None
        except RedisError as exc:
            log.warning("alarm check skipped, Redis unavailable: %s", exc)
            return None
        job: Job | None = safe_enqueue(
            queue,
            "addon.engine.alarms.check_alarms_job",
            job_timeout=CHECK_TIMEOUT,
            description="addon: check the integrations' health and send the alarms due",
        )
        return job


def check_alarms_job() -> str:
    """The RQ job of :func:`check_alarms_once`."""
    return f"{len(check_alarms(context(), engine()))} alarm(s) raised"
