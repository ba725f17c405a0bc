"""Apply to past events: a rule made after the sales applied to them since a date; previewed,
paced in slices, resumable after a killed worker, never doubled, cancellable; refunded
customers stay off; past events from the host's hook too. Entries say 'backfill'."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import func, select

from addon.engine import backfill as backfills
from addon.engine import backfill_preview
from addon.store.bookkeeping import Backfill
from addon.store.models import Delivery, Rule
from tests.conftest import list_id, purchase

LONG_AGO = dt.datetime(2020, 1, 1)


def _ctx(app):
    return app.extensions["addon"].state(app).context


def _rule(engine, integration, action="add", trigger="product.purchased", product_id=None):
    rule = engine.add_rule(
        "acme",
        trigger=trigger,
        integration_id=integration.id,
        action=action,
        list_name="Customers",
        product_id=product_id,
    )
    return rule.id


@pytest.fixture
def past_sales(engine, integration, run_jobs):
    for n in range(6):
        purchase(engine, f"buyer{n}@example.com", event_id=f"o-{n}")
    purchase(engine, "buyer0@example.com", event_id="o-again")  # a returning customer
    run_jobs()  # no rule yet: nothing happens


def test_preview_then_apply_puts_each_past_customer_on_the_list_once(
    app, engine, icontact, integration, past_sales, run_jobs
):
    rule_id = _rule(engine, integration)
    with app.app_context():
        ctx = _ctx(app)
        rule = ctx.session.get(Rule, rule_id)
        seen = backfill_preview.preview(ctx, rule, LONG_AGO)
        assert seen.customers == 6 and seen.calls >= 6 and seen.seconds > 0
        backfills.start_backfill(ctx, rule, LONG_AGO)
    run_jobs()
    held = icontact.subscribers(list_id(icontact, "Customers"))
    assert sorted(held) == [f"buyer{n}@example.com" for n in range(6)]
    entries = engine.logs("acme")
    assert len(entries) == 6 and {e.cause for e in entries} == {"backfill"}
    assert {e.status for e in entries} == {"success"}
    with app.app_context():
        ctx = _ctx(app)
        last = backfills.active_backfill(ctx, rule_id)
        assert backfills.progress(ctx, last).status == "done"
        # A rerun finds nothing left to do, and writes nothing twice.
        rule = ctx.session.get(Rule, rule_id)
        backfills.start_backfill(ctx, rule, LONG_AGO)
    run_jobs()
    assert len(engine.logs("acme")) == 6


def test_a_customer_refunded_since_is_not_put_back(app, engine, integration, past_sales, run_jobs):
    _rule(engine, integration, action="remove", trigger="product.refunded")
    engine.emit(
        "product.refunded",
        marketplace_id="acme",
        customer={"email": "buyer3@example.com"},
        product_id="101",
        event_id="r-3",
    )
    run_jobs()
    rule_id = _rule(engine, integration)
    with app.app_context():
        ctx = _ctx(app)
        found = backfill_preview.candidates(ctx, ctx.session.get(Rule, rule_id), LONG_AGO)
        assert "buyer3@example.com" not in found and len(found) == 5


def test_only_events_since_the_date_count(app, engine, integration, past_sales):
    rule_id = _rule(engine, integration)
    with app.app_context():
        ctx = _ctx(app)
        tomorrow = ctx.clock.now() + dt.timedelta(days=1)
        assert (
            backfill_preview.preview(ctx, ctx.session.get(Rule, rule_id), tomorrow).customers == 0
        )


def test_killed_mid_way_it_resumes_and_never_doubles(
    app, engine, icontact, integration, past_sales, run_jobs, monkeypatch
):
    monkeypatch.setattr(backfills, "_slice_size", lambda ctx, integration: 2)
    monkeypatch.setattr(backfills, "_ask", lambda ctx, backfill_id: None)  # no job: by hand
    rule_id = _rule(engine, integration)
    with app.app_context():
        ctx = _ctx(app)
        job_id = backfills.start_backfill(ctx, ctx.session.get(Rule, rule_id), LONG_AGO).id
        backfills.write_slice(ctx, job_id)
        assert backfills.write_slice(ctx, job_id).startswith("waiting")  # paced: 2 at a time
    run_jobs()
    with app.app_context():
        ctx = _ctx(app)
        real = backfills.delivery_row
        calls = []

        def dies_half_way(*args, **kwargs):
            calls.append(1)
            if len(calls) == 2:
                raise SystemExit("worker killed")
            return real(*args, **kwargs)

        monkeypatch.setattr(backfills, "delivery_row", dies_half_way)
        with pytest.raises(SystemExit):
            backfills.write_slice(ctx, job_id)
        ctx.session.rollback()
        monkeypatch.setattr(backfills, "delivery_row", real)
    with app.app_context():
        ctx = _ctx(app)
        for _ in range(5):
            backfills.write_slice(ctx, job_id)
            run_jobs()
        db = ctx.session
        per_customer = db.execute(
            select(Delivery.email_key, func.count()).group_by(Delivery.email_key)
        ).all()
        assert len(per_customer) == 6 and {count for _e, count in per_customer} == {1}
        assert backfills.progress(ctx, db.get(Backfill, job_id)).status == "done"
    held = icontact.subscribers(list_id(icontact, "Customers"))
    assert len(held) == 6 and set(held.values()) == {"normal"}


def test_cancel_stops_it_and_skips_what_waits(app, engine, integration, past_sales, monkeypatch):
    monkeypatch.setattr(backfills, "_slice_size", lambda ctx, integration: 2)
    monkeypatch.setattr(backfills, "_ask", lambda ctx, backfill_id: None)
    rule_id = _rule(engine, integration)
    with app.app_context():
        ctx = _ctx(app)
        job = backfills.start_backfill(ctx, ctx.session.get(Rule, rule_id), LONG_AGO)
        backfills.write_slice(ctx, job.id)
        assert backfills.cancel_backfill(ctx, job) == 2
        assert backfills.write_slice(ctx, job.id) == "nothing to write"
        assert backfills.progress(ctx, job).status == "cancelled"
    assert {e.status for e in engine.logs("acme")} == {"skipped"}


def test_past_events_from_the_hosts_hook_are_stored_and_applied(
    app, engine, icontact, integration, run_jobs
):
    seen = []

    @engine.past_events
    def orders_before_the_add_on(marketplace_id, trigger, since):
        seen.append((marketplace_id, trigger, since))
        yield {
            "event_id": "legacy-1",
            "occurred_at": dt.datetime(2024, 5, 1, tzinfo=dt.UTC),
            "customer": {"email": "old@example.com", "first_name": "Olga"},
            "product_id": "101",
            "purchase_type": "primary",
        }
        yield {"event_id": "broken", "customer": {}}  # skipped, not fatal

    rule_id = _rule(engine, integration)
    with app.app_context():
        ctx = _ctx(app)
        rule = ctx.session.get(Rule, rule_id)
        assert backfill_preview.preview(ctx, rule, LONG_AGO, from_host=True).customers == 1
        backfills.start_backfill(ctx, rule, LONG_AGO, from_host=True)
    run_jobs()
    assert seen[0][:2] == ("acme", "product.purchased")
    assert icontact.subscribers(list_id(icontact, "Customers")) == {"old@example.com": "normal"}
    [entry] = engine.logs("acme")
    assert entry.cause == "backfill" and entry.event_id == "legacy-1"


def test_the_demo_storefront_offers_its_orders_from_before_the_add_on(
    app, engine, icontact, integration, run_jobs
):
    rule_id = _rule(engine, integration, product_id="101")
    with app.app_context():
        ctx = _ctx(app)
        rule = ctx.session.get(Rule, rule_id)
        seen = backfill_preview.preview(ctx, rule, LONG_AGO, from_host=True)
        assert seen.customers == seen.from_host == 8
        backfills.start_backfill(ctx, rule, LONG_AGO, from_host=True)
    run_jobs()
    assert len(icontact.subscribers(list_id(icontact, "Customers"))) == 8


def test_a_failing_past_events_hook_is_a_clear_error_in_the_preview_and_fails_the_run(
    app, engine, icontact, integration, run_jobs
):
    @engine.past_events
    def orders_before_the_add_on(marketplace_id, trigger, since):
        yield {"event_id": "legacy-1"}  # skipped: no date
        raise ConnectionError("the shop's order database is away")

    rule_id = _rule(engine, integration)
    with app.app_context():
        ctx = _ctx(app)
        rule = ctx.session.get(Rule, rule_id)
        with pytest.raises(backfills.IntegrationError, match="could not read its orders"):
            backfill_preview.preview(ctx, rule, LONG_AGO, from_host=True)
        backfills.start_backfill(ctx, rule, LONG_AGO, from_host=True)
    run_jobs()
    with app.app_context():
        [run] = _ctx(app).session.scalars(select(Backfill)).all()
        assert run.status == "failed" and "could not read its orders" in run.message
    assert engine.logs("acme") == []
