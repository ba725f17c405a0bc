"""Issue 16's two figures: a check against iContact with injected drift, and a backfill of past
purchases killed twice and resumed.

    python -m bench.history [--contacts 10000] [--purchases 10000] [--scale 60]

Both run against the simulator in a process of its own with the account's allowance of 60
calls a minute, time-scaled by ``--scale`` k: the add-on's allowance and the simulator's throttle
are both 60 × k calls a (real) minute, so a run takes 1/k of its real time, and the durations
printed are scaled back (measured seconds × k). (Shrinking the simulator's window instead would
not be the same account: the shared limiter lets a tenth of a minute's allowance through at
once, which a window of 1/k minute would count against a fraction of it.) The simulator refuses
(503) any call beyond the allowance: "never exceeds" is its count of refusals, 0, and its
busiest minute, at most 60 × k.
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sqlalchemy import func, insert, select  # noqa: E402

from addon.engine import backfill as backfills  # noqa: E402
from addon.engine import backfill_preview, reconcile, reconcile_fix  # noqa: E402
from addon.store.models import PENDING, Delivery, Event, Integration, Rule  # noqa: E402
from addon.workers import SimpleWorker  # noqa: E402
from bench.stack import APP_ID, PASSWORD, USERNAME, Stack  # noqa: E402

MARKETPLACE = "acme"
ALLOWANCE = 60  # calls a minute: iContact's, and the add-on's default
LIST = "Customers"
PAGE = 500


def _days_ago(days: int) -> dt.datetime:
    # Within the events' retention (400 days), as a merchant's recent history is.
    return dt.datetime.now(dt.UTC).replace(tzinfo=None, microsecond=0) - dt.timedelta(days=days)


def _settings(scale: int) -> dict:
    return {
        "ADDON_ICONTACT_CALLS_PER_MINUTE": ALLOWANCE * scale,
        # A killed worker's leases lapse after 10 s (10 × scale s at real speed).
        "ADDON_LEASE_SECONDS": 10,
        "ADDON_SWEEP_INTERVAL": 1,
        "ADDON_LOG_LIMIT": 10_000_000,
        # The nightly run would check and prune in the middle of a measurement.
        "ADDON_CHECK_HOUR": None,
    }


def _connect(stack: Stack, scale: int, with_rule: bool = True) -> tuple[int, int | None, str]:
    lists = stack.register_account([LIST])
    stack.set_faults(calls_per_minute=ALLOWANCE * scale)
    with stack.app.app_context():
        engine = stack.app.extensions["addon"]
        integration = engine.connect(
            MARKETPLACE, label="Bench iContact", username=USERNAME, password=PASSWORD
        )
        rule = None
        if with_rule:
            rule = engine.add_rule(
                MARKETPLACE,
                trigger="product.purchased",
                integration_id=integration.id,
                action="add",
                list_name=LIST,
            )
    return integration.id, rule.id if rule else None, lists[LIST]


def _store_events(stack: Stack, events: list[tuple[str, str, dt.datetime]]) -> None:
    """``(type, email, when)`` stored as already-matched events (their work long done)."""
    rows = []
    for n, (kind, email, when) in enumerate(events):
        fields = {"product_id": "101"}
        fields.update(
            {"purchase_type": "primary"}
            if kind == "product.purchased"
            else {"prospect_id": f"p{n}"}
        )
        rows.append(
            {
                "marketplace_id": MARKETPLACE,
                "event_id": f"past-{n}",
                "type": kind,
                "product_id": "101",
                "prospect_id": fields.get("prospect_id"),
                "email_key": email,
                "payload": {"customer": {"email": email}, **fields},
                "created_at": when,
                "expanded_at": when,
                "cause": "event",
            }
        )
    with stack.app.app_context():
        db = stack.app.extensions["addon"].db
        db.session.execute(insert(Event), rows)
        db.session.commit()


def _api(stack: Stack, method: str, path: str, **kw):
    headers = {
        "API-AppId": APP_ID,
        "API-Username": USERNAME,
        "API-Password": PASSWORD,
        "API-Version": "2.2",
        "Accept": "application/json",
    }
    url = f"{stack.simulator_url}/icp{stack.account_path}{path}"
    for _try in range(100):
        answer = stack.sim.request(method, url, headers=headers, **kw)
        if answer.status_code != 503:  # the throttle: wait for the window
            answer.raise_for_status()
            return answer.json()
        time.sleep(0.2)
    raise RuntimeError("the simulator kept throttling")


def _put_on_list(stack: Stack, list_id: str, emails: list[str]) -> None:
    for start in range(0, len(emails), PAGE):
        chunk = emails[start : start + PAGE]
        made = _api(stack, "POST", "/contacts", json=[{"email": e} for e in chunk])["contacts"]
        subs = [{"contactId": c["contactId"], "listId": list_id, "status": "normal"} for c in made]
        _api(stack, "POST", "/subscriptions", json=subs)


def _members(stack: Stack, list_id: str) -> dict[str, str]:
    ids: dict[str, str] = {}
    offset = 0
    while True:
        page = _api(
            stack, "GET", "/contacts", params={"status": "total", "limit": PAGE, "offset": offset}
        )
        ids.update({c["contactId"]: c["email"].lower() for c in page["contacts"]})
        offset += len(page["contacts"])
        if not page["contacts"] or offset >= page["total"]:
            break
    held: dict[str, str] = {}
    offset = 0
    while True:
        page = _api(
            stack,
            "GET",
            "/subscriptions",
            params={"listId": list_id, "limit": PAGE, "offset": offset},
        )
        for sub in page["subscriptions"]:
            held[ids[sub["contactId"]]] = sub["status"]
        offset += len(page["subscriptions"])
        if not page["subscriptions"] or offset >= page["total"]:
            break
    return held


def _control(stack: Stack, name: str, body: dict) -> None:
    stack.sim.post(f"{stack.simulator_url}/icp/_sandbox/{name}", json=body).raise_for_status()


def _run_jobs(stack: Stack) -> None:
    """Work the queue in this process until no delivery is left pending."""
    with stack.app.app_context():
        state = stack.app.extensions["addon"].state(stack.app)
        queue = state.queue
        db = state.context.session
        while True:
            SimpleWorker([queue], connection=queue.connection, job_class=queue.job_class).work(
                burst=True, with_scheduler=True
            )
            waiting = db.scalar(select(func.count()).where(Delivery.status == PENDING))
            db.commit()
            if not waiting:
                return
            time.sleep(0.2)


def reconcile_figure(contacts: int, scale: int) -> None:
    with Stack(settings=_settings(scale)) as stack:
        integration_id, _rule_id, list_id = _connect(stack, scale)
        since = _days_ago(300)
        buyers = [f"buyer{n}@example.com" for n in range(contacts)]
        browsers = [f"browser{n}@example.com" for n in range(50)]  # no rule acts on them
        _store_events(
            stack,
            [
                ("product.purchased", e, since + dt.timedelta(minutes=n))
                for n, e in enumerate(buyers)
            ]
            + [("prospect.created", e, since) for e in browsers],
        )
        _put_on_list(stack, list_id, buyers)
        removed, unsubscribed = set(buyers[:100]), set(buyers[100:120])
        for email in removed:
            _control(stack, "remove-by-hand", {"list_id": list_id, "email": email})
        for email in browsers:
            _control(stack, "add-by-hand", {"list_id": list_id, "email": email})
        for email in unsubscribed:
            _control(stack, "unsubscribe", {"list_id": list_id, "email": email})

        def check() -> reconcile.Check:
            with stack.app.app_context():
                ctx = stack.app.extensions["addon"].state(stack.app).context
                reconcile.start_check(ctx, ctx.session.get(Integration, integration_id))
            _run_jobs(stack)
            with stack.app.app_context():
                ctx = stack.app.extensions["addon"].state(stack.app).context
                found = reconcile.latest_check(ctx, integration_id)
                ctx.session.expunge(found)
                return found

        found = check()
        kinds = {
            kind: {d["email"] for d in found.differences or [] if d["kind"] == kind}
            for kind in ("missing", "extra", "opted_out")
        }
        exact = (
            kinds["missing"] == removed
            and kinds["extra"] == set(browsers)
            and kinds["opted_out"] == unsubscribed
        )
        before = stack.stats()["total_calls"]
        began = time.monotonic()
        with stack.app.app_context():
            ctx = stack.app.extensions["addon"].state(stack.app).context
            queued = reconcile_fix.fix_check(ctx, ctx.session.get(reconcile.Check, found.id))
        _run_jobs(stack)
        fix_seconds = (time.monotonic() - began) * scale
        fix_calls = stack.stats()["total_calls"] - before
        again = check()
        held = _members(stack, list_id)
        print(f"Reconcile: {contacts:,} contacts; drift injected: 100 removed by hand, 50 added")
        print("  by hand, 20 unsubscribed by the person")
        print(
            f"  check found {found.missing} missing, {found.extra} extra, "
            f"{found.opted_out} opted out: {'exactly' if exact else 'NOT'} the injected drift"
        )
        print(f"  check used {found.calls} iContact calls")
        print(
            f"  Fix queued {queued}; applied with {fix_calls} calls in "
            f"{fix_seconds / 60:.1f} min at {ALLOWANCE} calls/minute"
        )
        restored = all(held.get(e) == "normal" for e in removed)
        gone = all(held.get(e) != "normal" for e in browsers)
        alone = all(held.get(e) == "unsubscribed" for e in unsubscribed)
        print(
            f"  after Fix: the 100 back {restored}, the 50 off {gone}, the 20 left alone {alone}; "
            f"a second check finds {again.missing} missing, {again.extra} extra, "
            f"{again.opted_out} opted out"
        )


def backfill_figure(purchases: int, scale: int) -> None:
    with Stack(settings=_settings(scale)) as stack:
        # The purchases happen before the rule is made.
        integration_id, _none, list_id = _connect(stack, scale, with_rule=False)
        customers = max(1, purchases * 4 // 5)  # a fifth are returning customers
        start = _days_ago(300)
        _store_events(
            stack,
            [
                (
                    "product.purchased",
                    f"buyer{n % customers}@example.com",
                    start + dt.timedelta(minutes=n),
                )
                for n in range(purchases)
            ],
        )
        with stack.app.app_context():
            engine = stack.app.extensions["addon"]
            rule_id = engine.add_rule(
                MARKETPLACE,
                trigger="product.purchased",
                integration_id=integration_id,
                action="add",
                list_name=LIST,
            ).id
            ctx = engine.state(stack.app).context
            rule = ctx.session.get(Rule, rule_id)
            preview = backfill_preview.preview(ctx, rule, start)
        stack.start_workers(1)
        began = time.monotonic()
        with stack.app.app_context():
            ctx = stack.app.extensions["addon"].state(stack.app).context
            job_id = backfills.start_backfill(ctx, ctx.session.get(Rule, rule_id), start).id
        kills = 0
        while True:
            time.sleep(0.1)
            with stack.app.app_context():
                ctx = stack.app.extensions["addon"].state(stack.app).context
                progress = backfills.progress(ctx, ctx.session.get(backfills.Backfill, job_id))
                ctx.session.commit()
            if progress.status in ("done", "failed", "cancelled"):
                break
            if (
                kills < 2
                and progress.customers
                # Mid-way: a third, then two thirds of the deliveries written.
                and progress.written >= progress.customers * (kills + 1) / 3
            ):
                killed = stack.workers[-1]
                killed.kill()  # SIGKILL: no goodbye; leases and a slice in flight
                killed.wait()
                # Meant to go: the stack's start-up check must not take it for a crash
                # (and the next worker gets a name of its own).
                killed.returncode = 0
                kills += 1
                stack.start_workers(1)
        seconds = (time.monotonic() - began) * scale
        stats = stack.stats()
        stack.stop_workers()
        with stack.app.app_context():
            db = stack.app.extensions["addon"].db.session
            per_customer = db.execute(
                select(Delivery.email_key, func.count())
                .where(Delivery.rule_id == rule_id)
                .group_by(Delivery.email_key)
            ).all()
        held = _members(stack, list_id)
        doubled = sum(n > 1 for _e, n in per_customer)
        once = len(per_customer) == customers and not doubled
        on_list = sum(status == "normal" for status in held.values())
        print(
            f"Backfill: {purchases:,} past purchases by {customers:,} customers, "
            f"at {ALLOWANCE} calls/minute (run ×{scale} time-scaled)"
        )
        print(
            f"  preview: {preview.customers:,} customers, at most ~{preview.calls:,} calls, "
            f"at most ~{preview.seconds * scale / 60:.0f} min"
        )
        print(f"  worker killed {kills} times mid-way and resumed; ended {progress.status}")
        print(
            f"  one delivery per customer: {once} ({len(per_customer):,} customers, "
            f"{doubled} with more than one); "
            f"{on_list:,} of {customers:,} customers on the list"
        )
        print(
            f"  iContact calls: {stats['total_calls']:,}; busiest minute "
            f"{stats['max_per_minute'] / scale:.0f} scaled (allowance {ALLOWANCE}); "
            f"refused by the throttle: {stats['throttled']}"
        )
        print(f"  duration: {seconds / 60:.1f} min ({seconds / 3600:.2f} h)")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--contacts", type=int, default=10_000)
    parser.add_argument("--purchases", type=int, default=10_000)
    parser.add_argument("--scale", type=int, default=60, help="time scale (1 = real time)")
    args = parser.parse_args(argv)
    reconcile_figure(args.contacts, args.scale)
    backfill_figure(args.purchases, args.scale)


if __name__ == "__main__":
    main()
