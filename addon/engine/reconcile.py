"""A check of an integration against its provider, and the fixing of what it found.

The membership the rules imply is worked out from the marketplace's stored events, replayed
through today's rules in order (:mod:`replay`), and set beside what the provider holds for
those customers. A difference is *missing* (the rules put the customer on the list, the
provider has them on no list), *extra* (on the list, though the rules leave them off) or
*opted out* (the rules would put them on, but they unsubscribed: shown, never touched).

*Fix* turns the missing and extra ones into deliveries: :mod:`.reconcile_fix`.
"""

from __future__ import annotations

import datetime as dt
import logging
from typing import Any

from sqlalchemy import delete, select

from ..errors import IntegrationError
from ..providers import MEMBER, OPTED_OUT, ProviderError, RejectedCredentials, get_provider
from ..state import context
from ..store.bookkeeping import Check
from ..store.models import CONNECTED, PENDING, Delivery, Integration
from .consent import removed_by_engine
from .context import Context
from .integrations import client_for, mark_needs_attention
from .queue import safe_enqueue
from .replay import implied_membership

log = logging.getLogger("addon.reconcile")

MISSING, EXTRA = "missing", "extra"
#: What each kind of difference is called on the screen, in the order it shows them.
KINDS = {MISSING: "Missing", EXTRA: "Extra", OPTED_OUT: "Opted out"}
#: Checks kept per integration (the screens show the last one).
KEEP_CHECKS = 3
#: A check still "running" after this long lost its worker: another may start.
STALE_SECONDS = 3600


def latest_check(ctx: Context, integration_id: int) -> Check | None:
    """The integration's newest check, running or finished."""
    return ctx.session.scalar(
        select(Check)
        .where(Check.integration_id == integration_id)
        .order_by(Check.started_at.desc(), Check.id.desc())
        .limit(1)
    )


def is_running(ctx: Context, check: Check | None) -> bool:
    """Whether ``check`` is under way (and not abandoned by a worker that died)."""
    if check is None or check.status != "running":
        return False
    return ctx.clock.now() - check.started_at < dt.timedelta(seconds=STALE_SECONDS)


def start_check(ctx: Context, integration: Integration, started_by: str = "merchant") -> Check:
    """Record a check and have a worker run it (here and now when there is no queue).

    Returns:
        The check; one already running is returned instead of starting a second.
    """
    running = latest_check(ctx, integration.id)
    if is_running(ctx, running):
        assert running is not None
        return running
    check = Check(
        integration_id=integration.id,
        marketplace_id=integration.marketplace_id,
        status="running",
        started_by=started_by,
        started_at=ctx.clock.now(),
        message="",
    )
    ctx.session.add(check)
    ctx.session.commit()
    job = safe_enqueue(
        ctx.queue,
        "addon.engine.reconcile.run_check",
        check.id,
        description=f"addon: check integration #{integration.id} against its provider",
    )
    if job is None:
        perform_check(ctx, check)
    return check


def enqueue_check(ctx: Context, integration_id: int, started_by: str = "schedule") -> None:
    """Start a check of the integration, if it still exists and is connected."""
    integration = ctx.session.get(Integration, integration_id)
    if integration is not None and integration.status == CONNECTED:
        start_check(ctx, integration, started_by)


def run_check(check_id: int) -> str:
    """RQ job: run a recorded check."""
    ctx = context()
    check = ctx.session.get(Check, check_id)
    if check is None or check.status != "running":
        return "nothing to check"
    perform_check(ctx, check)
    return f"{check.missing} missing, {check.extra} extra, {check.opted_out} opted out"


def perform_check(ctx: Context, check: Check) -> Check:
    """Compare what the rules imply with what the provider holds, and record the differences."""
    db = ctx.session
    integration = db.get(Integration, check.integration_id)
    try:
        if integration is None:
            raise IntegrationError("The integration was deleted")
        provider = get_provider(integration.provider)
        if provider.read_members is None:
            raise IntegrationError(f"{provider.display_name} cannot be checked")
        implied = implied_membership(ctx, integration)
        in_flight = _in_flight(ctx, integration.id)
        db.commit()  # no snapshot held through the provider's calls
        client = client_for(ctx, integration, max_wait=None)
        held = provider.read_members(client, list(implied.lists), list(implied.customers))
    except (ProviderError, IntegrationError) as exc:
        db.rollback()
        if isinstance(exc, RejectedCredentials) and integration is not None:
            # Often the first to know (the nightly check): the row and the alarms say so now,
            # not at the next purchase.
            mark_needs_attention(integration, str(exc))
        check.status, check.message = "failed", str(exc)
        check.finished_at = ctx.clock.now()
        db.commit()
        return check
    differences: list[dict[str, Any]] = []
    for list_id, (list_name, members) in implied.lists.items():
        on_list = held.lists.get(list_id, {})
        for email_key, customer in implied.customers.items():
            if (list_id, email_key) in in_flight:
                continue  # work under way will settle it
            rule_id = members.get(email_key)
            standing = on_list.get(email_key)
            if rule_id is not None and standing is None:
                kind = MISSING
            elif rule_id is not None and standing == OPTED_OUT:
                kind = OPTED_OUT
            elif rule_id is None and standing == MEMBER:
                kind = EXTRA
            else:
                continue
            differences.append(
                {
                    "list_id": list_id,
                    "list_name": list_name,
                    "email": customer["email"],
                    "customer": customer,
                    "kind": kind,
                    "rule_id": rule_id if rule_id is not None else implied.any_rule[list_id],
                }
            )
    _removed_by_us_are_missing(ctx, integration.id, differences)
    order = list(KINDS)
    differences.sort(key=lambda d: (d["list_name"], order.index(d["kind"]), d["email"].lower()))
    check.differences = differences
    check.customers = len(implied.customers)
    check.missing = sum(d["kind"] == MISSING for d in differences)
    check.extra = sum(d["kind"] == EXTRA for d in differences)
    check.opted_out = sum(d["kind"] == OPTED_OUT for d in differences)
    check.calls = held.calls
    check.status, check.finished_at = "done", ctx.clock.now()
    db.commit()
    _forget_old_checks(ctx, check.integration_id)
    log.info(
        "check of integration %s: %d missing, %d extra, %d opted out, %d call(s)",
        check.integration_id,
        check.missing,
        check.extra,
        check.opted_out,
        check.calls,
    )
    return check


def _removed_by_us_are_missing(
    ctx: Context, integration_id: int, differences: list[dict[str, Any]]
) -> None:
    """An "unsubscribed" the engine caused itself (a rule removed them) is no opt-out: the
    consent memory says so, and the customer is missing (the consent guard lets the add by)."""
    unsubscribed = [
        (d["list_id"], d["customer"]["email"].lower())
        for d in differences
        if d["kind"] == OPTED_OUT
    ]
    ours = removed_by_engine(ctx, integration_id, unsubscribed)
    for difference in differences:
        pair = (difference["list_id"], difference["customer"]["email"].lower())
        if difference["kind"] == OPTED_OUT and pair in ours:
            difference["kind"] = MISSING


def _in_flight(ctx: Context, integration_id: int) -> set[tuple[str, str]]:
    """(list, customer) pairs with work still pending: the provider may not show it yet."""
    query = select(Delivery.list_id, Delivery.email_key).where(
        Delivery.integration_id == integration_id, Delivery.status == PENDING
    )
    return {(list_id, email_key) for list_id, email_key in ctx.session.execute(query)}


def _forget_old_checks(ctx: Context, integration_id: int) -> None:
    db = ctx.session
    keep = select(Check.id).where(Check.integration_id == integration_id)
    keep = keep.order_by(Check.started_at.desc(), Check.id.desc()).limit(KEEP_CHECKS)
    kept = list(db.scalars(keep))
    db.execute(
        delete(Check)
        .where(Check.integration_id == integration_id, Check.id.not_in(kept))
        .execution_options(synchronize_session=False)
    )
    db.commit()
