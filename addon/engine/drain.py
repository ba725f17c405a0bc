"""The drain of one integration: batch after batch claimed, started on the provider and
written, the next claim overlapping the current batch's calls over a slow network."""

from __future__ import annotations

import logging
import time
from concurrent.futures import ThreadPoolExecutor

from sqlalchemy.exc import DBAPIError

from ..logsetup import bind_event
from ..providers import get_provider
from ..store.models import CONNECTED, Integration
from . import leases, outages
from .applying import Applying, finish_batch, prepare_batch
from .contact_sync import ensure_synced
from .context import Context
from .expansion import expand_waiting, has_waiting_events
from .integrations import client_for
from .logs import prune_logs
from .queue import EXPANDING_SECONDS, enqueue_drain

log = logging.getLogger("addon.jobs")


def drain(ctx: Context, integration_id: int) -> str:
    """Apply the integration's deliveries that may run now (see :func:`_drain`)."""
    db = ctx.session
    integration = db.get(Integration, integration_id)
    if integration is None:
        return "integration gone"
    if integration.status != CONNECTED:
        return "held: the integration needs attention"
    client = client_for(ctx, integration, max_wait=None)
    with bind_event(None, integration.marketplace_id):
        synced = ensure_synced(ctx, integration, client)
    owner = leases.new_owner()
    try:
        with bind_event(None, integration.marketplace_id):
            summary = _drain(ctx, integration, client, owner, synced)
    except BaseException as exc:
        _hand_back(ctx, owner, exc)
        raise
    prune_logs(ctx, integration.marketplace_id)
    return summary


def _hand_back(ctx: Context, owner: str, exc: BaseException) -> None:
    """Give a stopped drain's leases back at once rather than making the work wait for them
    to lapse: when the database is away, as soon as it answers again; when it stays away too
    long, through the sweeper."""

    def give_back() -> None:
        ctx.session.rollback()
        leases.release_all(ctx, owner)
        ctx.session.commit()

    patience = outages.PATIENCE_SECONDS if outages.database_away(exc) else 0.0
    try:
        outages.while_away(ctx, give_back, "giving back the leases of a stopped drain", patience)
    except DBAPIError:
        log.warning("could not give the leases of %s back: the sweeper will", owner)
        outages.abandon(ctx, owner)


def _claim_size(ctx: Context, provider: str, synced: bool) -> int:
    if synced:
        # With the account's contacts known, a batch of adds costs a few calls whatever its
        # size (a check for new contacts, one create, one subscribe per chunk): small batches
        # would spend the allowance on more of them.
        return ctx.settings.claim_batch
    # A batch must finish well inside its lease even at the account's call allowance.
    allowance = get_provider(provider).calls_per_minute(ctx.settings)
    return max(10, min(ctx.settings.claim_batch, allowance // 2))


def _paced_by_allowance(ctx: Context, provider: str, batch: Applying) -> bool:
    """Whether the batch's calls ran at half the account's allowance or more: then the
    allowance, not the worker, sets the pace, and bigger claims spend fewer calls a delivery.
    Otherwise claims stay as they are: one large claim takes the next delivery of so many
    customers that another worker finds little it may claim (a customer's deliveries go in
    order), and the workers no longer share the backlog."""
    allowance = get_provider(provider).calls_per_minute(ctx.settings)
    seconds = max(batch.called - batch.began, 1e-3)
    return batch.calls * 60 >= seconds * allowance / 2


def _drain(ctx: Context, integration: Integration, client, owner: str, synced: bool) -> str:
    """Apply batch after batch; over a slow network, prepare the next batch while the current
    one's calls run.

    A batch that spends longer waiting for the provider than the worker spends on it has the next
    claim, and the last batch's outcome writes, overlap that wait. When the provider answers
    faster than that (a nearby API), overlapping saves nothing and the two threads only take
    turns at the GIL, so batches go one after the other. The calls themselves stay one batch
    at a time, in claim order, so a batch's lookups see the contacts the batch before it
    created.
    """
    done = 0
    clock = ctx.clock
    deadline = clock.monotonic() + ctx.settings.drain_seconds
    # Read once: every commit expires the row, and each read of it after one is a SELECT.
    integration_id, marketplace_id = integration.id, integration.marketplace_id
    provider = integration.provider
    running: Applying | None = None
    size = _claim_size(ctx, provider, synced)
    overlap = False  # whether the last batch's calls took longer than the worker's own work
    with (
        leases.LeaseKeeper(ctx, owner),
        ThreadPoolExecutor(1, thread_name_prefix="addon-calls") as calls,
    ):
        while True:
            ready: Applying | None = None
            claimed = 0
            # While a batch is out, claim the next one only under a backlog (the last claim
            # was full) that waits on the network. Otherwise what arrived meanwhile is
            # claimed once the batch is written, in one claim rather than two.
            if clock.monotonic() <= deadline and (running is None or (running.full and overlap)):
                try:
                    ready = _claim_next(ctx, integration_id, marketplace_id, provider, owner, size)
                except BaseException:
                    if running is not None:
                        # Its calls were made: write what they did before the rest is handed
                        # back, or the log says "queued" and the work is done twice.
                        _finish_before_stopping(ctx, running, owner)
                    raise
                claimed = 0 if ready is None else ready.size
            # A claim made while a batch was out may have found only customers waiting for
            # that batch: claim again once it is written.
            waited = running is not None
            if running is not None:
                if not finish_batch(ctx, running, owner):
                    leases.release_all(ctx, owner)
                    ctx.session.commit()
                    return f"held after {done} deliveries: {integration.status_reason}"
                overlap = running.called - running.began > running.own_seconds
                if synced and running.full and _paced_by_allowance(ctx, provider, running):
                    size = min(2 * size, max(ctx.settings.claim_batch_max, size))
                done += running.size
                running = None
            if ready is not None and ready.actions:
                running = ready.start(ctx, calls, client, owner)
            elif ready is not None:
                done += ready.size  # settled without a call (invalid email, skipped)
            if not claimed and not waited:
                # Nothing left to claim, unless another worker is matching the events that
                # come next: wait for it, then claim what it wrote (or match them here).
                if clock.monotonic() > deadline or not has_waiting_events(ctx, marketplace_id):
                    break
                expand_waiting(ctx, marketplace_id, draining=integration_id, wait=EXPANDING_SECONDS)
    if clock.monotonic() > deadline:
        # Long backlog: give other integrations' jobs a turn, continue in a fresh job.
        enqueue_drain(ctx.queue, integration_id, coalesce=False)
    return f"applied {done} deliveries"


def _claim_next(
    ctx: Context, integration_id: int, marketplace_id: str, provider: str, owner: str, limit: int
) -> Applying | None:
    """Lease and prepare the next batch, after matching any events that arrived meanwhile."""
    began = time.thread_time()
    # Events stored while this drain works join it here rather than waiting for it to end and
    # a job of their own to be picked up (latency under a stream).
    if has_waiting_events(ctx, marketplace_id):
        expand_waiting(ctx, marketplace_id, draining=integration_id)
    claimed_at = ctx.clock.monotonic()
    batch = leases.claim(ctx, integration_id, owner, limit, marketplace_id)
    if not batch:
        return None
    ready = prepare_batch(ctx, batch, integration_id, provider, owner, claimed_at)
    ready.full = len(batch) >= limit
    ready.own_seconds = time.thread_time() - began
    return ready


def _finish_before_stopping(ctx: Context, running: Applying, owner: str) -> None:
    """Write a batch's outcomes while its drain stops on an error of its own."""
    outages.rollback(ctx)  # the failed statement's transaction
    try:
        finish_batch(ctx, running, owner)
    except Exception:  # the drain's own error is the one to raise; the leases go back
        log.warning("could not write the outcomes of a batch", exc_info=True)
