"""RQ job functions, at module level so workers import them by name.

``process_marketplace`` turns a marketplace's new events into deliveries; ``drain_integration``
applies an integration's due deliveries in batches; ``sweep`` (:mod:`addon.engine.sweeper`)
re-enqueues what waited too long.

A job that loses the database hands its work back as soon as the database answers again (see
:mod:`addon.engine.outages`): it writes what its calls did, gives back its leases and asks for what
the outage held up, rather than leaving it for a lease to lapse.
"""

from __future__ import annotations

import datetime as dt
import logging
import math
import time
from collections.abc import Iterator
from concurrent.futures import Executor, Future, ThreadPoolExecutor
from contextlib import contextmanager

from flask import Flask, current_app
from sqlalchemy import bindparam, update
from sqlalchemy.exc import DBAPIError

from ..logsetup import bind_event
from ..providers import (
    Action,
    BatchResult,
    InvalidData,
    NotFound,
    Outcome,
    ProviderError,
    RejectedCredentials,
    TemporaryFailure,
    get_provider,
)
from ..state import config, session, state
from ..store.models import (
    CONNECTED,
    FAILED,
    PENDING,
    Delivery,
    Integration,
    table_of,
)
from ..store.prepared import Prepared, prepare
from . import deliveries, outages
from .contacts import known_contacts, remember_contacts
from .integrations import client_for, mark_needs_attention
from .logs import prune_logs
from .queue import (
    EXPANDING_SECONDS,
    drain_flag,
    enqueue_drain,
    enqueue_expand,
    expand_flag,
    expanding,
)
from .sweeper import resume_after_outage
from .sweeper import sweep as sweep  # where it lived first: ``from addon.jobs import sweep``

log = logging.getLogger("addon.jobs")

#: Events one job expands before it starts applying their deliveries.
EXPAND_CHUNK = 500
#: What applying a delivery changes: its outcome, its next attempt and its lease.
OUTCOME = (
    "status",
    "message",
    "detail",
    "attempts",
    "next_attempt_at",
    "finished_at",
    "lease_owner",
    "lease_until",
)


def process_marketplace(marketplace_id: str) -> str:
    """Expand the marketplace's waiting events into deliveries, then start applying them."""
    with bind_event(None, marketplace_id), _resuming_after_outage():
        return _process_marketplace(marketplace_id)


@contextmanager
def _resuming_after_outage() -> Iterator[None]:
    """Around a job: when the database went away under it, wait for it to answer again (a
    while), then ask for what the job would have done, before the job fails. Its own job was
    taken off the queue (and its coalescing flag cleared) when it started."""
    try:
        yield
    except DBAPIError as exc:
        if outages.database_away(exc):
            resume_after_outage()
        raise


def _process_marketplace(marketplace_id: str) -> str:
    due = expand_waiting(marketplace_id)
    now = deliveries.utcnow()
    for integration_id, (when, _count) in due.items():
        if when <= now:
            drain_integration(integration_id)
    return f"expanded into work for {len(due)} integration(s)"


def expand_waiting(
    marketplace_id: str, draining: int | None = None, wait: float = 0.0
) -> dict[int, tuple[dt.datetime, int]]:
    """Match rules for a chunk of the marketplace's waiting events and schedule the work.

    Jobs are enqueued for what is due later, and for a big backlog helper drains (several
    workers share it; claims keep the order). The integration ``draining`` is being drained
    by the caller, which picks its deliveries up itself. When another worker is matching the
    marketplace's events, this one leaves them to it, after waiting up to ``wait`` seconds
    for it to finish (then it matches the next chunk, if any).

    Returns:
        ``{integration_id: (earliest due time, count)}`` of the deliveries written.
    """
    queue = state().queue
    if queue is not None:
        # Cleared before reading, so an event committed from now on enqueues a fresh job.
        queue.connection.delete(expand_flag(queue, marketplace_id))
    with expanding(queue, marketplace_id, wait) as ours:
        if not ours:
            # Another worker is matching them, and looks again once it is done (below).
            return {}
        if wait and not deliveries.has_waiting_events(marketplace_id):
            return {}  # the worker it waited for matched them all
        expanded, due = deliveries.expand_events(marketplace_id, limit=EXPAND_CHUNK)
    if expanded == EXPAND_CHUNK:
        # More may be waiting: expand them in a job of their own, so that under a steady
        # stream of events this one gets on with applying what it has (latency).
        enqueue_expand(queue, marketplace_id, coalesce=False)
    elif queue is not None and deliveries.has_waiting_events(marketplace_id):
        # Stored while this worker matched a chunk: their job may have found it busy here
        # and left them to it.
        enqueue_expand(queue, marketplace_id)
    now = deliveries.utcnow()
    batch = int(config()["ADDON_CLAIM_BATCH"])
    for integration_id, (when, count) in due.items():
        if when > now:
            enqueue_drain(queue, integration_id, at=when)
            continue
        if integration_id != draining and draining is not None:
            enqueue_drain(queue, integration_id)
        helpers = min(int(config()["ADDON_PARALLEL_DRAINS"]), math.ceil(count / batch)) - 1
        for helper in range(1, helpers + 1):
            enqueue_drain(queue, integration_id, helper=helper)
    return due


def drain_integration(integration_id: int, helper: int = 0) -> str:
    """Apply every delivery of the integration that may run now, batch after batch.

    Args:
        helper: which extra drain of a backlog this is (see :func:`queue.enqueue_drain`).
    """
    queue = state().queue
    if queue is not None:
        # Cleared first, whatever this job then finds, so the next ask enqueues a fresh job.
        queue.connection.delete(drain_flag(queue, integration_id, helper))
    with _resuming_after_outage():
        return _drain_integration(integration_id)


def _drain_integration(integration_id: int) -> str:
    db = session()
    integration = db.get(Integration, integration_id)
    if integration is None:
        return "integration gone"
    if integration.status != CONNECTED:
        return "held: the integration needs attention"
    client = client_for(integration, max_wait=None)
    owner = deliveries.new_owner()
    try:
        with bind_event(None, integration.marketplace_id):
            summary = _drain(integration, client, owner)
    except BaseException as exc:
        _hand_back(owner, exc)
        raise
    prune_logs(integration.marketplace_id)
    return summary


def _hand_back(owner: str, exc: BaseException) -> None:
    """Give a stopped drain's leases back at once rather than making the work wait for them
    to lapse: when the database is away, as soon as it answers again; when it stays away too
    long, through the sweeper."""

    def give_back() -> None:
        session().rollback()
        deliveries.release_all(owner)
        session().commit()

    patience = outages.PATIENCE_SECONDS if outages.database_away(exc) else 0.0
    try:
        outages.while_away(give_back, "giving back the leases of a stopped drain", patience)
    except DBAPIError:
        log.warning("could not give the leases of %s back: the sweeper will", owner)
        outages.abandon(owner)


def _claim_size() -> int:
    # A batch must finish well inside its lease even at the account's call allowance.
    allowance = int(config()["ADDON_ICONTACT_CALLS_PER_MINUTE"])
    return max(10, min(int(config()["ADDON_CLAIM_BATCH"]), allowance // 2))


def _drain(integration: Integration, client, owner: str) -> str:
    """Apply batch after batch; over a slow network, prepare the next batch while the current
    one's calls run.

    A batch that spends longer waiting for iContact than the worker spends on it has the next
    claim, and the last batch's outcome writes, overlap that wait. When iContact answers
    faster than that (a nearby API), overlapping saves nothing and the two threads only take
    turns at the GIL, so batches go one after the other. The calls themselves stay one batch
    at a time, in claim order, so a batch's lookups see the contacts the batch before it
    created.
    """
    done = 0
    deadline = time.monotonic() + float(config()["ADDON_DRAIN_SECONDS"])
    # Read once: every commit expires the row, and each read of it after one is a SELECT.
    integration_id, marketplace_id = integration.id, integration.marketplace_id
    provider = integration.provider
    running: Applying | None = None
    overlap = False  # whether the last batch's calls took longer than the worker's own work
    with (
        deliveries.LeaseKeeper(owner),
        ThreadPoolExecutor(1, thread_name_prefix="addon-calls") as calls,
    ):
        while True:
            ready: Applying | None = None
            claimed = 0
            # While a batch is out, claim the next one only under a backlog (the last claim
            # was full) that waits on the network. Otherwise what arrived meanwhile is
            # claimed once the batch is written, in one claim rather than two.
            if time.monotonic() <= deadline and (running is None or (running.full and overlap)):
                try:
                    ready = _claim_next(integration_id, marketplace_id, provider, owner)
                except BaseException:
                    if running is not None:
                        # Its calls were made: write what they did before the rest is handed
                        # back, or the log says "queued" and the work is done twice.
                        _finish_before_stopping(running, owner)
                    raise
                claimed = 0 if ready is None else ready.size
            # A claim made while a batch was out may have found only customers waiting for
            # that batch: claim again once it is written.
            waited = running is not None
            if running is not None:
                if not finish_batch(running, owner):
                    deliveries.release_all(owner)
                    session().commit()
                    return f"held after {done} deliveries: {integration.status_reason}"
                overlap = running.called - running.began > running.own_seconds
                done += running.size
                running = None
            if ready is not None and ready.actions:
                running = ready.start(calls, client, owner)
            elif ready is not None:
                done += ready.size  # settled without a call (invalid email, skipped)
            if not claimed and not waited:
                # Nothing left to claim, unless another worker is matching the events that
                # come next: wait for it, then claim what it wrote (or match them here).
                if time.monotonic() > deadline or not deliveries.has_waiting_events(marketplace_id):
                    break
                expand_waiting(marketplace_id, draining=integration_id, wait=EXPANDING_SECONDS)
    if time.monotonic() > deadline:
        # Long backlog: give other integrations' jobs a turn, continue in a fresh job.
        enqueue_drain(state().queue, integration_id, coalesce=False)
    return f"applied {done} deliveries"


def _claim_next(
    integration_id: int, marketplace_id: str, provider: str, owner: str
) -> Applying | None:
    """Lease and prepare the next batch, after matching any events that arrived meanwhile."""
    began = time.thread_time()
    # Events stored while this drain works join it here rather than waiting for it to end and
    # a job of their own to be picked up (latency under a stream).
    if deliveries.has_waiting_events(marketplace_id):
        expand_waiting(marketplace_id, draining=integration_id)
    claimed_at = time.monotonic()
    limit = _claim_size()
    batch = deliveries.claim(integration_id, owner, limit, marketplace_id)
    if not batch:
        return None
    ready = prepare_batch(batch, integration_id, provider, claimed_at)
    ready.full = len(batch) >= limit
    ready.own_seconds = time.thread_time() - began
    return ready


def _finish_before_stopping(running: Applying, owner: str) -> None:
    """Write a batch's outcomes while its drain stops on an error of its own."""
    outages.rollback()  # the failed statement's transaction
    try:
        finish_batch(running, owner)
    except Exception:  # the drain's own error is the one to raise; the leases go back
        log.warning("could not write the outcomes of a batch", exc_info=True)


class Applying:
    """A claimed batch on its way through the provider.

    Its deliveries are detached from the session, so the commits made while its calls run
    (the next claim) don't expire them: writing their outcomes reads them, and an expired
    delivery costs a SELECT of its own.
    """

    def __init__(
        self,
        integration_id: int,
        provider: str,
        by_key: dict[int, Delivery],
        actions: list[Action],
        size: int,
        claimed_at: float | None,
    ):
        self.integration_id = integration_id
        self.by_key = by_key
        self.actions = actions
        #: The cached contact ids of the batch's customers, read when its calls start.
        self.known: dict[str, str] = {}
        #: Deliveries claimed, those settled without a call included.
        self.size = size
        self.claimed_at = claimed_at
        #: Whether the claim took as many as it could: a backlog.
        self.full = False
        #: CPU seconds the worker spent on the batch itself: claiming, preparing, writing.
        #: CPU, not wall time: work done beside a batch in flight waits for the GIL too.
        self.own_seconds = 0.0
        self.apply_actions = get_provider(provider).apply_actions
        self.lookup_threads = int(config()["ADDON_ICONTACT_CONCURRENCY"])
        self.began = self.called = 0.0
        self._calls: Future[BatchResult] | None = None

    def start(self, executor: Executor, client, owner: str) -> Applying:
        """Start the batch's calls on ``executor`` (with a client of its own, for its own
        transcript).

        Leases are checked (and renewed) first unless the batch was claimed a moment ago, so
        a delivery another worker took over is not applied twice.
        """
        if self.claimed_at is None or time.monotonic() - self.claimed_at > _fresh_claim_seconds():
            owned = deliveries.renew(owner)
            self.by_key = {key: d for key, d in self.by_key.items() if key in owned}
            self.actions = [a for a in self.actions if a.key in owned]
        # Read now, not when the batch was claimed: the batch before it, written since,
        # may have learned some of these customers' ids (a lookup saved is an API call).
        self.known = known_contacts(self.integration_id, (a.email_key for a in self.actions))
        # No snapshot held through the calls (it would keep SQLite from checkpointing).
        session().commit()
        self.began = time.monotonic()
        app = current_app._get_current_object()  # type: ignore[attr-defined]
        self._calls = executor.submit(self._call, app, client.sibling())
        return self

    def _call(self, app: Flask, client) -> BatchResult:
        # A context of its own: the worker's would share its database session across threads.
        with app.app_context():
            try:
                return self.apply_actions(
                    client, self.actions, self.known, lookup_threads=self.lookup_threads
                )
            finally:
                self.called = time.monotonic()

    def result(self) -> BatchResult:
        """The provider's answer, once its calls are done (their exception, if they raised)."""
        if self._calls is None:
            raise RuntimeError("the batch was not started")
        return self._calls.result()


def prepare_batch(
    batch: list[Delivery], integration_id: int, provider: str, claimed_at: float | None = None
) -> Applying:
    """Settle what needs no call (invalid emails, skips) and gather the rest's actions."""
    db = session()
    actions: list[Action] = []
    by_key: dict[int, Delivery] = {}
    for delivery in batch:
        verdict = deliveries.precheck(delivery)
        if verdict is not None:
            deliveries.finish(delivery, *verdict)
            continue
        customer = dict(delivery.event.payload["customer"])
        actions.append(Action(delivery.id, delivery.action, customer, delivery.list_id))
        by_key[delivery.id] = delivery
    # Detached before the commit, so the commit doesn't expire what was loaded; the
    # transaction ends before the calls (a snapshot held through them would keep SQLite from
    # checkpointing its WAL and PostgreSQL from vacuuming).
    db.flush()
    for event in {delivery.event for delivery in batch}:
        db.expunge(event)
    for delivery in batch:
        db.expunge(delivery)
    db.commit()
    return Applying(integration_id, provider, by_key, actions, len(batch), claimed_at)


def finish_batch(applying: Applying, owner: str) -> bool:
    """Wait for the batch's calls and record each delivery's own outcome.

    Returns:
        False when the provider rejected the credentials: the integration needs attention
        and the batch is held (not failed); else True.
    """
    by_key = applying.by_key
    try:
        result = applying.result()
    except RejectedCredentials as exc:
        integration = session().get(Integration, applying.integration_id)
        if integration is not None:
            mark_needs_attention(integration, str(exc))
        deliveries.release(
            list(by_key), "held: iContact rejected the credentials; fix the integration to resume"
        )
        return False
    called = applying.called or time.monotonic()
    answered = time.thread_time()
    writes = _outcome_writes(by_key, result)

    tries: list[int] = []

    def write() -> set[int]:
        tries.append(1)
        held = _write_outcomes(writes, by_key, owner, again=len(tries) > 1)
        remember_contacts(applying.integration_id, result.learned, result.forgotten, applying.known)
        session().commit()
        return held

    # The calls were made: their outcomes are written once the database answers again,
    # rather than left for the lease to lapse and the batch to be applied a second time.
    held = [by_key[key] for key in outages.while_away(write, f"writing {len(by_key)} outcomes")]
    written = [_outcome_line(delivery) for delivery in held]
    retries = [d.next_attempt_at for d in held if d.status == PENDING]
    ended = time.monotonic()
    applying.own_seconds += time.thread_time() - answered
    for event_id, marketplace_id, *fields in written:
        with bind_event(event_id, marketplace_id):
            log.info("delivery %s (%s %s list %s): %s", *fields)
    if retries:
        enqueue_drain(state().queue, applying.integration_id, at=min(retries), coalesce=False)
    log.info(
        "integration %s: %d deliveries applied with %d call(s) in %.3f s, written in %.3f s",
        applying.integration_id,
        len(by_key),
        len(result.calls),
        called - applying.began,
        ended - called,
    )
    return True


def _fresh_claim_seconds() -> float:
    # Nobody can take a lease over before it lapses: a claim this recent is still ours, and
    # renewing it would cost a write (on SQLite, a turn at the one write lock) per batch.
    return int(config()["ADDON_LEASE_SECONDS"]) / 10


def _outcome_writes(by_key: dict[int, Delivery], result: BatchResult) -> Prepared:
    """Set each delivery's outcome (temporary failures wait for a retry) and return the
    statement that writes them, ready for the driver. The deliveries are detached
    (:class:`Applying`): :func:`_write_outcomes` is the only write of their outcomes.

    Every outcome is worked out, down to the driver's parameters, before the leases are
    renewed: renewing is the transaction's first write, and on SQLite the write lock it takes
    is held until the commit, so the other workers wait for nothing but the statements.
    """
    for key, delivery in by_key.items():
        outcome = result.outcomes.get(key)
        if isinstance(outcome, TemporaryFailure):
            detail = {"calls": result.details.get(key) or result.calls[-5:]}
            deliveries.retry_later(delivery, str(outcome), outcome.retry_after, detail)
        else:
            _record_outcome(delivery, outcome, {"calls": result.details.get(key) or []})
    table = table_of(Delivery)
    return prepare(
        update(table).where(table.c.id == bindparam("delivery_id")),
        [
            {"delivery_id": key, **{column: getattr(delivery, column) for column in OUTCOME}}
            for key, delivery in by_key.items()
        ],
        session().get_bind().dialect,
    )


def _write_outcomes(
    writes: Prepared, by_key: dict[int, Delivery], owner: str, again: bool = False
) -> set[int]:
    """Write the outcomes (:func:`_outcome_writes`) of the deliveries still leased by
    ``owner``, in the caller's transaction; returns their ids.

    Args:
        again: an earlier try failed with the database away, possibly after its commit.
    """
    held = deliveries.renew(owner) & by_key.keys()
    for key in by_key.keys() - held:
        if again:
            # The connection may have dropped after the server committed the earlier try.
            log.info("delivery %s: written already, or taken over after our lease lapsed", key)
            continue
        # Another worker took it over after our lease lapsed; its outcome is theirs.
        log.warning("delivery %s: lease lost while applying; its new owner records it", key)
    writes.only(key in held for key in by_key).execute(session().connection())
    return held


def _outcome_line(delivery: Delivery) -> tuple:
    return (
        delivery.event_id,
        delivery.marketplace_id,
        delivery.id,
        delivery.trigger,
        delivery.action,
        delivery.list_id,
        delivery.status,
    )


def _record_outcome(delivery: Delivery, outcome, detail: dict) -> None:
    """Set one delivery's result, with advice a merchant can act on for failures.

    Args:
        detail: what was sent and answered for this delivery, kept with a failure.
    """
    if isinstance(outcome, Outcome):
        deliveries.finish(delivery, outcome.status, outcome.message, outcome.detail)
    elif isinstance(outcome, NotFound):
        deliveries.finish(
            delivery,
            FAILED,
            f"The list {delivery.list_name!r} ({delivery.list_id}) was not found in iContact: "
            f"{outcome}. Refresh the lists and point the rule at an existing list.",
            detail,
        )
    elif isinstance(outcome, InvalidData):
        deliveries.finish(delivery, FAILED, f"iContact refused the data: {outcome}", detail)
    elif isinstance(outcome, ProviderError):
        deliveries.finish(delivery, FAILED, str(outcome), detail)
    else:  # pragma: no cover - every action gets an outcome; fail loudly rather than lose it
        deliveries.finish(delivery, FAILED, "No outcome was recorded for this action", detail)
