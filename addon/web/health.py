"""``GET {prefix}/healthz``: can the add-on do its work right now? For monitors and on-call.

The answer is 200 when the database is reachable and migrated and Redis answers, else 503.
It also reports what a person on call looks at next: how many jobs are queued or failed,
how many workers listen, how long the oldest due work has waited (it grows when no worker
runs) and how many integrations wait for their merchant to fix them.

It is the add-on's health, not the storefront's: during a Redis outage it answers 503 while
the storefront keeps taking orders (events wait in the database for the sweeper). Point a
load balancer's liveness probe at the host's own check, not at this one.

Public and cheap: a few indexed queries and Redis calls, no ids, names or error texts (the
details go to the log).
"""

from __future__ import annotations

import datetime as dt
import logging
from typing import Any

from flask import Blueprint, jsonify
from redis.exceptions import RedisError
from rq import Worker
from sqlalchemy import func, select
from sqlalchemy.exc import SQLAlchemyError

from ..engine.leases import lease_is_free
from ..state import state
from ..store import db as schema
from ..store.models import (
    CONNECTED,
    NEEDS_ATTENTION,
    PENDING,
    Delivery,
    Event,
    Integration,
    utcnow,
)

log = logging.getLogger("addon.health")

OK = "ok"


def check() -> dict[str, Any]:
    """The add-on's health, inside an app context.

    Returns:
        ``{"status": "ok" | "error", "database", "schema", "redis", "queue",
        "oldest_due_delivery_seconds", "oldest_waiting_event_seconds",
        "integrations_needing_attention"}``; ``status`` is "ok" when database, schema and
        redis all are. Ages are None when nothing waits; counts are None when unknown.
    """
    report: dict[str, Any] = {"status": OK}
    report.update(_database())
    report.update(_redis())
    if any(report[part] != OK for part in ("database", "schema", "redis")):
        report["status"] = "error"
    return report


def _database() -> dict[str, Any]:
    report: dict[str, Any] = {
        "database": OK,
        "schema": OK,
        "oldest_due_delivery_seconds": None,
        "oldest_waiting_event_seconds": None,
        "integrations_needing_attention": None,
    }
    try:
        with state().db.engine.connect() as connection:
            current, head = schema.current_revision(connection), schema.head_revision()
            if current != head:
                report["schema"] = (
                    f"database at revision {current or 'none'}, the add-on needs {head}: "
                    "run 'flask addon db upgrade'"
                )
                return report
            now = utcnow()
            report["oldest_due_delivery_seconds"] = _age(
                now, connection.execute(_oldest_due_delivery(now)).scalar()
            )
            report["oldest_waiting_event_seconds"] = _age(
                now,
                connection.execute(
                    select(func.min(Event.created_at)).where(Event.expanded_at.is_(None))
                ).scalar(),
            )
            report["integrations_needing_attention"] = connection.execute(
                select(func.count())
                .select_from(Integration)
                .where(Integration.status == NEEDS_ATTENTION)
            ).scalar()
    except SQLAlchemyError as exc:
        log.exception("health check: the database failed")
        report["database"] = f"error: {type(exc).__name__}"
        report["schema"] = "unknown"
    return report


def _oldest_due_delivery(now: dt.datetime):
    """Work a worker should have started: due, not leased, of a connected integration.

    Held deliveries (integration needs attention) and those waiting for a retry or a delayed
    rule are not due, so they do not count.
    """
    return (
        select(func.min(Delivery.next_attempt_at))
        .join(Integration, Integration.id == Delivery.integration_id)
        .where(
            Delivery.status == PENDING,
            Delivery.next_attempt_at <= now,
            lease_is_free(now),
            Integration.status == CONNECTED,
        )
    )


def _age(now: dt.datetime, since: dt.datetime | None) -> float | None:
    return None if since is None else round(max(0.0, (now - since).total_seconds()), 1)


def _redis() -> dict[str, Any]:
    queue = state().queue
    if queue is None:
        return {"redis": "not configured: set ADDON_REDIS_URL", "queue": None}
    try:
        queue.connection.ping()
        return {
            "redis": OK,
            "queue": {
                "name": queue.name,
                "queued": queue.count,
                "scheduled": queue.scheduled_job_registry.count,
                "failed": queue.failed_job_registry.count,
                "workers": Worker.count(queue=queue),
            },
        }
    except (RedisError, OSError) as exc:
        log.warning("health check: Redis failed: %s", exc)
        return {"redis": f"error: {type(exc).__name__}", "queue": None}


def healthz():
    """JSON :func:`check`, 200 when healthy, else 503; never cached."""
    report = check()
    response = jsonify(report)
    response.status_code = 200 if report["status"] == OK else 503
    response.headers["Cache-Control"] = "no-store"
    return response


def register(bp: Blueprint) -> None:
    """Add ``GET /healthz`` (endpoint ``addon.healthz``) to the add-on's blueprint."""
    bp.add_url_rule("/healthz", "healthz", healthz, methods=["GET"])
