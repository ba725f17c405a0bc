"""RQ job functions (module level, so workers import them by name) and their enqueueing."""

from __future__ import annotations

import datetime as dt
import logging
import time

from sqlalchemy import select

from . import deliveries
from .integrations import client_for, mark_needs_attention
from .logs import prune_logs
from .models import CONNECTED, FAILED, Delivery, Event, Integration
from .providers import (
    InvalidData,
    NotFound,
    ProviderError,
    RejectedCredentials,
    TemporaryFailure,
    get_provider,
)
from .queue import enqueue_drain, enqueue_event
from .state import config, session, state

log = logging.getLogger("addon.jobs")


def process_event(event_pk: int) -> str:
    """Expand the event's marketplace's waiting events into deliveries, then apply them."""
    event = session().get(Event, event_pk)
    if event is None:
        return "event not found"
    due = deliveries.expand_events(event.marketplace_id)
    now = deliveries.utcnow()
    for integration_id, when in due.items():
        if when <= now:
            drain_integration(integration_id)
        else:
            enqueue_drain(state().queue, integration_id, at=when)
    return f"expanded into work for {len(due)} integration(s)"


def drain_integration(integration_id: int) -> str:
    """Apply every delivery of the integration that may run now, batch after batch."""
    db = session()
    integration = db.get(Integration, integration_id)
    if integration is None:
        return "integration gone"
    if integration.status != CONNECTED:
        return "held: the integration needs attention"
    provider = get_provider(integration.provider)
    client = client_for(integration)
    owner = deliveries.new_owner()
    try:
        done = _drain(integration, provider, client, owner)
    except BaseException:
        # Give the leases back at once rather than making the work wait for them to expire.
        db.rollback()
        deliveries.release_all(owner)
        db.commit()
        raise
    prune_logs(integration.marketplace_id)
    return done


def _drain(integration: Integration, provider, client, owner: str) -> str:
    db = session()
    done = 0
    deadline = time.monotonic() + float(config()["ADDON_DRAIN_SECONDS"])
    while True:
        if time.monotonic() > deadline:
            # Long backlog: give other integrations' jobs a turn, continue in a fresh job.
            enqueue_drain(state().queue, integration.id)
            break
        batch = deliveries.claim(integration.id, owner, int(config()["ADDON_CLAIM_BATCH"]))
        if not batch:
            break
        for delivery in batch:
            if not apply_delivery(delivery, integration, provider, client):
                deliveries.release_all(owner)
                db.commit()
                return f"held after {done} deliveries: {integration.status_reason}"
            db.commit()
            done += 1
    return f"applied {done} deliveries"


def apply_delivery(delivery: Delivery, integration: Integration, provider, client) -> bool:
    """Apply one delivery and record its outcome on it.

    Returns:
        False when the integration's credentials were rejected (the delivery is held and
        the caller stops), else True.
    """
    verdict = deliveries.precheck(delivery)
    if verdict is not None:
        deliveries.finish(delivery, *verdict)
        return True
    client.transcript = []
    customer = dict(delivery.event.payload["customer"])
    try:
        if delivery.action == "add":
            outcome = provider.add_subscriber(client, customer, delivery.list_id)
        else:
            outcome = provider.remove_subscriber(client, delivery.email, delivery.list_id)
    except RejectedCredentials as exc:
        mark_needs_attention(integration, str(exc))
        deliveries.release(
            delivery, "held: iContact rejected the credentials; fix the integration to resume"
        )
        return False
    except TemporaryFailure as exc:
        next_at = deliveries.retry_later(delivery, str(exc), exc.retry_after, _detail(client))
        if next_at is not None:
            enqueue_drain(state().queue, integration.id, at=next_at)
        return True
    except NotFound as exc:
        deliveries.finish(
            delivery,
            FAILED,
            f"The list {delivery.list_name!r} ({delivery.list_id}) was not found in iContact: "
            f"{exc}. Refresh the lists and point the rule at an existing list.",
            _detail(client),
        )
        return True
    except InvalidData as exc:
        deliveries.finish(
            delivery, FAILED, f"iContact refused the data: {exc}", _detail(client)
        )
        return True
    except ProviderError as exc:
        deliveries.finish(delivery, FAILED, str(exc), _detail(client))
        return True
    outcome.detail.update(_detail(client))
    deliveries.finish(delivery, outcome.status, outcome.message, outcome.detail)
    return True


def _detail(client) -> dict:
    return {"calls": list(client.transcript)}


def sweep() -> str:
    """Re-enqueue what waited too long: unexpanded events and due, unleased deliveries.

    The safety net for jobs lost to a Redis outage or a killed worker.
    """
    stale = deliveries.utcnow() - dt.timedelta(seconds=int(config()["ADDON_SWEEP_INTERVAL"]))
    db = session()
    events = db.execute(
        select(Event.marketplace_id, Event.id)
        .where(Event.expanded_at.is_(None), Event.created_at < stale)
        .order_by(Event.created_at)
    ).all()
    seen = set()
    for marketplace_id, event_pk in events:
        if marketplace_id not in seen:
            seen.add(marketplace_id)
            enqueue_event(state().queue, event_pk)
    integrations = deliveries.integration_ids_with_due_work()
    for integration_id in integrations:
        enqueue_drain(state().queue, integration_id)
    db.commit()
    return f"re-enqueued {len(seen)} marketplace(s) and {len(integrations)} integration(s)"
