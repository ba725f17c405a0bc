"""RQ job functions, at module level so workers import them by name.

``process_marketplace`` turns a marketplace's new events into deliveries; ``drain_integration``
applies an integration's due deliveries in batches; ``sweep`` (:mod:`addon.engine.sweeper`)
re-enqueues what waited too long.

A job that loses the database hands its work back as soon as the database answers again (see
:mod:`addon.engine.outages`): it writes what its calls did, gives back its leases and asks for what
the outage held up, rather than leaving it for a lease to lapse.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy.exc import DBAPIError

from ..logsetup import bind_event
from ..state import context
from ..store.models import CONNECTED, Integration
from . import outages
from .contact_sync import sync_contacts, sync_due
from .context import Context
from .drain import drain
from .expansion import expand_waiting
from .queue import drain_flag
from .sweeper import resume_after_outage


def process_marketplace(marketplace_id: str) -> str:
    """Expand the marketplace's waiting events into deliveries, then start applying them."""
    ctx = context()
    with bind_event(None, marketplace_id), _resuming_after_outage(ctx):
        return _process_marketplace(ctx, marketplace_id)


@contextmanager
def _resuming_after_outage(ctx: Context) -> Iterator[None]:
    """Around a job: when the database went away under it, wait for it to answer again (a
    while), then ask for what the job would have done, before the job fails. Its own job was
    taken off the queue (and its coalescing flag cleared) when it started."""
    try:
        yield
    except DBAPIError as exc:
        if outages.database_away(exc):
            resume_after_outage(ctx)
        raise


def _process_marketplace(ctx: Context, marketplace_id: str) -> str:
    due = expand_waiting(ctx, marketplace_id)
    now = ctx.clock.now()
    for integration_id, (when, _count) in due.items():
        if when <= now:
            _drain_integration(ctx, integration_id)
    return f"expanded into work for {len(due)} integration(s)"


def drain_integration(integration_id: int, helper: int = 0) -> str:
    """Apply every delivery of the integration that may run now, batch after batch.

    Args:
        helper: which extra drain of a backlog this is (see :func:`queue.enqueue_drain`).
    """
    return _drain_integration(context(), integration_id, helper)


def sync_integration_contacts(integration_id: int) -> str:
    """Copy the integration's contacts from its provider into the contact cache (at connect
    and when ``ADDON_CONTACT_SYNC_HOURS`` passed), so new customers need no lookups."""
    ctx = context()
    integration = ctx.session.get(Integration, integration_id)
    if integration is None or integration.status != CONNECTED:
        return "integration gone or needs attention"
    if not sync_due(ctx, integration_id):
        return "synced already"
    with _resuming_after_outage(ctx):
        return sync_contacts(ctx, integration)


def _drain_integration(ctx: Context, integration_id: int, helper: int = 0) -> str:
    queue = ctx.queue
    if queue is not None:
        # Cleared first, whatever this job then finds, so the next ask enqueues a fresh job.
        queue.connection.delete(drain_flag(queue, integration_id, helper))
    with _resuming_after_outage(ctx):
        return drain(ctx, integration_id)
