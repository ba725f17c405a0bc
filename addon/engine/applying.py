"""A claimed batch on its way through the provider: settled without a call where a business
rule says so, called for on a thread of its own, and its outcomes written under the leases."""

from __future__ import annotations

import logging
import time
from concurrent.futures import Executor, Future

from flask import Flask, current_app

from ..logsetup import bind_event
from ..providers import (
    Action,
    BatchResult,
    Provider,
    RejectedCredentials,
    TemporaryFailure,
    get_provider,
)
from ..store.models import PENDING, SUCCESS, Integration
from ..store.prepared import Prepared
from . import outages
from .claimed import Claimed, outcome_writes
from .consent import mark_engine_removals, remember_removals
from .contact_sync import note_check, since_mark
from .contacts import known_contacts, remember_contacts
from .context import Clock, Context
from .integrations import mark_needs_attention
from .leases import release, renew
from .outcomes import finish, precheck, record_outcome, retry_later
from .queue import enqueue_drain
from .rules import double_opt_in_rules

log = logging.getLogger("addon.jobs")


class Applying:
    """A claimed batch on its way through the provider; its deliveries are plain records
    (:mod:`.claimed`), which the commits made while its calls run leave as they are."""

    def __init__(
        self,
        ctx: Context,
        integration_id: int,
        provider: str,
        by_key: dict[int, Claimed],
        actions: list[Action],
        size: int,
        claimed_at: float | None,
    ):
        self.integration_id = integration_id
        self.by_key = by_key
        self.actions = actions
        #: The cached contact ids of the batch's customers, read when its calls start.
        self.known: dict[str, str] = {}
        #: The contact sync's mark when the cache holds every contact (None: look up).
        self.since: str | None = None
        #: Deliveries claimed, those settled without a call included.
        self.size = size
        self.claimed_at = claimed_at
        #: Whether the claim took as many as it could: a backlog.
        self.full = False
        #: CPU seconds the worker spent on the batch itself: claiming, preparing, writing.
        #: CPU, not wall time: work done beside a batch in flight waits for the GIL too.
        self.own_seconds = 0.0
        self.provider: Provider = get_provider(provider)
        self.apply_actions = self.provider.apply_actions
        self.lookup_threads = self.provider.lookup_threads(ctx.settings)
        self.began = self.called = 0.0
        #: Provider calls the batch made (set when its outcomes are written).
        self.calls = 0
        self._calls: Future[BatchResult] | None = None

    def start(self, ctx: Context, executor: Executor, client, owner: str) -> Applying:
        """Start the batch's calls on ``executor`` (with a client of its own, for its own
        transcript).

        Leases are checked (and renewed) first unless the batch was claimed a moment ago, so
        a delivery another worker took over is not applied twice.
        """
        clock = ctx.clock
        if self.claimed_at is None or clock.monotonic() - self.claimed_at > _fresh_claim_seconds(
            ctx
        ):
            owned = renew(ctx, owner)
            self.by_key = {key: d for key, d in self.by_key.items() if key in owned}
            self.actions = [a for a in self.actions if a.key in owned]
        # Read now, not when the batch was claimed: the batch before it, written since,
        # may have learned some of these customers' ids (a lookup saved is an API call).
        self.known = known_contacts(ctx, self.integration_id, (a.email_key for a in self.actions))
        # Read as late, for the same reason: whom the engine itself took off which list.
        mark_engine_removals(ctx, self.integration_id, self.actions)
        if self.provider.sync_contacts is not None:
            self.since = since_mark(ctx, self.integration_id)
        # No snapshot held through the calls (it would keep SQLite from checkpointing).
        ctx.session.commit()
        self.began = clock.monotonic()
        app = current_app._get_current_object()  # type: ignore[attr-defined]
        self._calls = executor.submit(self._call, app, clock, client.sibling())
        return self

    def _call(self, app: Flask, clock: Clock, client) -> BatchResult:
        # A context of its own: the worker's would share its database session across threads.
        with app.app_context():
            # Only a provider that syncs its contacts takes ``since``.
            synced = {} if self.provider.sync_contacts is None else {"since": self.since}
            try:
                return self.apply_actions(
                    client, self.actions, self.known, lookup_threads=self.lookup_threads, **synced
                )
            finally:
                self.called = clock.monotonic()

    def result(self) -> BatchResult:
        """The provider's answer, once its calls are done (their exception, if they raised)."""
        if self._calls is None:
            raise RuntimeError("the batch was not started")
        return self._calls.result()


def prepare_batch(
    ctx: Context,
    batch: list[Claimed],
    integration_id: int,
    provider: str,
    owner: str,
    claimed_at: float | None = None,
) -> Applying:
    """Settle what needs no call (invalid emails, skips) and gather the rest's actions
    (the batch is leased by ``owner``)."""
    actions: list[Action] = []
    by_key: dict[int, Claimed] = {}
    settled: list[Claimed] = []
    known_provider = get_provider(provider)
    confirming = double_opt_in_rules(ctx, batch) if known_provider.double_opt_in else set()
    for delivery in batch:
        verdict = precheck(ctx, delivery, known_provider)
        if verdict is not None:
            finish(ctx, delivery, *verdict)
            settled.append(delivery)
            continue
        customer = dict(delivery.event.payload["customer"])
        actions.append(
            Action(
                delivery.id,
                delivery.action,
                customer,
                delivery.list_id,
                list_name=delivery.list_name,
                double_opt_in=delivery.rule_id in confirming,
            )
        )
        by_key[delivery.id] = delivery
    outcome_writes(ctx, settled, owner).execute(ctx.session.connection())
    # The transaction ends before the calls (a snapshot held through them would keep SQLite
    # from checkpointing its WAL and PostgreSQL from vacuuming).
    ctx.session.commit()
    return Applying(ctx, integration_id, provider, by_key, actions, len(batch), claimed_at)


def finish_batch(ctx: Context, applying: Applying, owner: str) -> bool:
    """Wait for the batch's calls and record each delivery's own outcome.

    Returns:
        False when the provider rejected the credentials: the integration needs attention
        and the batch is held (not failed); else True.
    """
    by_key = applying.by_key
    try:
        result = applying.result()
    except RejectedCredentials as exc:
        integration = ctx.session.get(Integration, applying.integration_id)
        if integration is not None:
            mark_needs_attention(integration, str(exc))
        release(
            ctx,
            list(by_key),
            f"held: {applying.provider.display_name} rejected the credentials; fix the "
            "integration to resume",
        )
        return False
    called = applying.called or ctx.clock.monotonic()
    applying.calls = len(result.calls)
    answered = time.thread_time()
    writes = _outcome_writes(ctx, by_key, result, applying.provider, owner)

    tries: list[int] = []

    def write() -> set[int]:
        tries.append(1)
        held = _write_outcomes(ctx, writes, by_key, owner, again=len(tries) > 1)
        remember_contacts(
            ctx, applying.integration_id, result.learned, result.forgotten, applying.known
        )
        remember_removals(ctx, applying.integration_id, by_key, result)
        if applying.since is not None:
            note_check(ctx, applying.integration_id, result.mark, result.searchable)
        ctx.session.commit()
        return held

    # The calls were made: their outcomes are written once the database answers again,
    # rather than left for the lease to lapse and the batch to be applied a second time.
    held = [
        by_key[key] for key in outages.while_away(ctx, write, f"writing {len(by_key)} outcomes")
    ]
    retries = [d.next_attempt_at for d in held if d.status == PENDING]
    ended = ctx.clock.monotonic()
    applying.own_seconds += time.thread_time() - answered
    _log_outcomes(held)
    if retries:
        enqueue_drain(ctx.queue, applying.integration_id, at=min(retries), coalesce=False)
    log.info(
        "integration %s: %d deliveries applied (%d succeeded) with %d call(s) in %.3f s, "
        "written in %.3f s",
        applying.integration_id,
        len(by_key),
        sum(1 for d in held if d.status == SUCCESS),
        len(result.calls),
        called - applying.began,
        ended - called,
    )
    return True


def _log_outcomes(held: list[Claimed]) -> None:
    """A line for each delivery that did not succeed, the ones an operator looks for; a
    success is counted in its batch's line and has its own at DEBUG only: a line per success
    cost a worker a good share of its CPU (BENCHMARKS.md), and the merchant's log has every
    outcome anyway."""
    every = log.isEnabledFor(logging.DEBUG)
    for delivery in held:
        if every or delivery.status != SUCCESS:
            with bind_event(delivery.event_id, delivery.marketplace_id):
                log.log(
                    logging.DEBUG if delivery.status == SUCCESS else logging.INFO,
                    "delivery %s (%s %s list %s): %s",
                    delivery.id,
                    delivery.trigger,
                    delivery.action,
                    delivery.list_id,
                    delivery.status,
                )


def _fresh_claim_seconds(ctx: Context) -> float:
    # Nobody can take a lease over before it lapses: a claim this recent is still ours, and
    # renewing it would cost a write (on SQLite, a turn at the one write lock) per batch.
    return ctx.settings.lease_seconds / 10


def _outcome_writes(
    ctx: Context, by_key: dict[int, Claimed], result: BatchResult, provider: Provider, owner: str
) -> Prepared:
    """Set each delivery's outcome (temporary failures wait for a retry) and return the
    statement that writes them, ready for the driver (:func:`_write_outcomes` runs it).

    Every outcome is worked out, down to the driver's parameters, before the transaction's
    first write: on SQLite the write lock it takes is held until the commit, so the other
    workers wait for nothing but the statements.
    """
    for key, delivery in by_key.items():
        outcome = result.outcomes.get(key)
        if isinstance(outcome, TemporaryFailure):
            detail = {"calls": result.details.get(key) or result.calls[-5:]}
            retry_later(ctx, delivery, str(outcome), outcome.retry_after, detail)
        else:
            calls = {"calls": result.details.get(key) or []}
            record_outcome(ctx, delivery, outcome, calls, provider)
    return outcome_writes(ctx, by_key.values(), owner)


def _write_outcomes(
    ctx: Context, writes: Prepared, by_key: dict[int, Claimed], owner: str, again: bool = False
) -> set[int]:
    """Write the outcomes (:func:`_outcome_writes`) of the deliveries still leased by
    ``owner``, in a transaction of their own that the caller commits; returns their ids.

    Args:
        again: an earlier try failed with the database away, possibly after its commit.
    """
    ctx.session.commit()  # what came before is kept: this transaction may be rolled back
    connection = ctx.session.connection()
    # The write is fenced by the lease: when every row was written, every lease was held.
    if writes.execute(connection) == len(by_key):
        return set(by_key)
    # Some were not ours any more (rare): start over, writing those that still are.
    ctx.session.rollback()
    held = renew(ctx, owner) & by_key.keys()
    for key in by_key.keys() - held:
        if again:
            # The connection may have dropped after the server committed the earlier try.
            log.info("delivery %s: written already, or taken over after our lease lapsed", key)
            continue
        # Another worker took it over after our lease lapsed; its outcome is theirs.
        log.warning("delivery %s: lease lost while applying; its new owner records it", key)
    writes.only(key in held for key in by_key).execute(ctx.session.connection())
    return held
