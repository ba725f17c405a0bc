"""The engine's consent memory: which customers it took off which lists itself.

A provider's "unsubscribed" reads the same whether the person left the list or a rule (a
refund, a cancellation) removed them. The provider's client skips an add for anyone
unsubscribed, unless the engine says the removal was its own
(:attr:`~addon.providers.Action.removed_by_engine`): that is read here, per batch, and kept
up to date from the batch's outcomes.

What it cannot see: a person who joins the list again by other means (a signup form) after
the engine removed them, then leaves it again, before the engine adds them; the memory still
holds the engine's removal then. An add by the engine in between clears it.
"""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import delete, or_, select, tuple_

from ..providers import Action, BatchResult, Outcome
from ..store.among import among
from ..store.bookkeeping import EngineRemoval
from ..store.models import SUCCESS
from ..store.upsert import upsert
from .claimed import Claimed
from .context import Context

# Pairs per query: well under SQLite's and PostgreSQL's bound-parameter limits.
_CHUNK = 400


def removed_by_engine(
    ctx: Context, integration_id: int, pairs: Iterable[tuple[str, str]]
) -> set[tuple[str, str]]:
    """Which ``(list_id, email_key)`` pairs the engine itself removed (and did not add back)."""
    wanted = set(pairs)
    if not wanted:
        return set()
    dialect = ctx.session.get_bind().dialect.name
    # The batch's lists times its customers, narrowed to the pairs here: one parameter each
    # rather than two per pair.
    rows = ctx.session.connection().execute(
        select(EngineRemoval.list_id, EngineRemoval.email_key).where(
            EngineRemoval.integration_id == integration_id,
            among(EngineRemoval.list_id, {list_id for list_id, _ in wanted}, dialect),
            among(EngineRemoval.email_key, {email for _, email in wanted}, dialect),
        )
    )
    return {(list_id, email_key) for list_id, email_key in rows} & wanted


def mark_engine_removals(ctx: Context, integration_id: int, actions: list[Action]) -> None:
    """Set :attr:`Action.removed_by_engine` on the adds of a batch (one read per batch)."""
    adds = [a for a in actions if a.action == "add"]
    removed = removed_by_engine(ctx, integration_id, ((a.list_id, a.email_key) for a in adds))
    for act in adds:
        act.removed_by_engine = (act.list_id, act.email_key) in removed


def remember_removals(
    ctx: Context, integration_id: int, by_key: dict[int, Claimed], result: BatchResult
) -> None:
    """Keep the memory true to what the provider now holds (in the caller's transaction): a
    removal the engine made is remembered, with when and by which rule and event; an add that
    put the customer back forgets it, so a later unsubscribe is the person's own again."""
    done = [
        delivery
        for key, delivery in by_key.items()
        if isinstance(outcome := result.outcomes.get(key), Outcome) and outcome.status == SUCCESS
    ]
    added = {(d.list_id, d.email_key) for d in done if d.action == "add"}
    # Where a batch both adds and removes a customer, the removal is the last call made.
    removed = {(d.list_id, d.email_key): d for d in done if d.action == "remove"}
    gone = sorted(added - removed.keys())
    if not (gone or removed):
        return
    db = ctx.session
    if gone:
        _forget(ctx, integration_id, gone)
    if removed:
        db.execute(
            upsert(
                db.get_bind().dialect.name,
                EngineRemoval,
                [EngineRemoval.integration_id, EngineRemoval.list_id, EngineRemoval.email_key],
                ["removed_at", "rule_id", "event_id"],
            ),
            [
                {
                    "integration_id": integration_id,
                    "list_id": list_id,
                    "email_key": email_key,
                    "removed_at": ctx.clock.now(),
                    "rule_id": delivery.rule_id,
                    "event_id": delivery.event_id,
                }
                for (list_id, email_key), delivery in removed.items()
            ],
        )


def _forget(ctx: Context, integration_id: int, gone: list[tuple[str, str]]) -> None:
    # Mostly there is nothing to forget: a read finds out, and the delete names only those.
    gone = sorted(removed_by_engine(ctx, integration_id, gone))
    if not gone:
        return
    ctx.session.execute(
        delete(EngineRemoval).where(
            EngineRemoval.integration_id == integration_id,
            or_(
                *(
                    tuple_(EngineRemoval.list_id, EngineRemoval.email_key).in_(
                        gone[start : start + _CHUNK]
                    )
                    for start in range(0, len(gone), _CHUNK)
                )
            ),
        )
    )
