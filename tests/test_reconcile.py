"""Check against the provider: what the rules imply from the stored events beside what the
lists hold; missing, extra and opted out found exactly; Fix restores the fixable ones as
ordinary deliveries (cause 'reconcile') and leaves the opted-out alone."""

import pytest

from addon.engine.expansion import expand_events
from addon.engine.reconcile import latest_check, perform_check, start_check
from addon.engine.reconcile_fix import fix_check
from addon.engine.rules import delete_rule
from addon.sandbox.by_hand import adds_by_hand, removes_by_hand
from addon.sandbox.consent import person_unsubscribes
from addon.state import context
from addon.store.models import Integration
from tests.conftest import USERNAME, list_id, purchase


@pytest.fixture
def drifted(engine, icontact, integration, purchase_rule, run_jobs):
    """Five buyers on 'Customers'; one refunded (a rule takes refunds off); then drift."""
    engine.add_rule(
        "acme",
        trigger="product.refunded",
        integration_id=integration.id,
        action="remove",
        list_name="Customers",
    )
    for name in ("ann", "bob", "cy", "dee", "eve"):
        purchase(engine, f"{name}@example.com", event_id=f"o-{name}")
    engine.emit(
        "product.refunded",
        marketplace_id="acme",
        customer={"email": "dee@example.com"},
        product_id="101",
        event_id="r-dee",
    )
    # A customer whose only event fires no rule.
    engine.emit(
        "prospect.created",
        marketplace_id="acme",
        customer={"email": "fay@example.com"},
        product_id="101",
        prospect_id="p-fay",
        event_id="p-fay",
    )
    run_jobs()
    customers = list_id(icontact, "Customers")
    removes_by_hand(icontact, customers, email="ann@example.com")  # missing
    adds_by_hand(icontact, customers, "dee@example.com")  # extra: refunded
    adds_by_hand(icontact, customers, "fay@example.com")  # extra: no rule put her there
    person_unsubscribes(icontact, customers, email="cy@example.com")  # opted out
    return customers


def _check(app, integration_id):
    ctx = app.extensions["addon"].state(app).context
    return ctx, start_check(ctx, ctx.session.get(Integration, integration_id))


def _found(check):
    return sorted((d["kind"], d["email"]) for d in check.differences)


def test_a_check_finds_exactly_the_drift(app, drifted, integration, run_jobs):
    with app.app_context():
        ctx, check = _check(app, integration.id)
    run_jobs()
    with app.app_context():
        check = latest_check(ctx, integration.id)
        assert check.status == "done", check.message
        assert _found(check) == [
            ("extra", "dee@example.com"),
            ("extra", "fay@example.com"),
            ("missing", "ann@example.com"),
            ("opted_out", "cy@example.com"),
        ]
        assert (check.missing, check.extra, check.opted_out) == (1, 2, 1)
        assert check.customers == 6 and check.calls >= 2


def test_fix_restores_the_fixable_and_leaves_the_opted_out_alone(
    app, engine, icontact, drifted, integration, run_jobs
):
    with app.app_context():
        ctx, check = _check(app, integration.id)
    run_jobs()
    with app.app_context():
        check = latest_check(ctx, integration.id)
        assert fix_check(ctx, check) == 3
        assert fix_check(ctx, check) == 0  # a second click queues nothing twice
    run_jobs()
    held = icontact.subscribers(drifted)
    assert held["ann@example.com"] == "normal"
    assert held["cy@example.com"] == "unsubscribed"  # their own choice stands
    assert held["dee@example.com"] == "unsubscribed"
    assert held["fay@example.com"] == "unsubscribed"
    fixes = [e for e in engine.logs("acme") if e.cause == "reconcile"]
    assert sorted((e.action, e.email, e.status) for e in fixes) == [
        ("add", "ann@example.com", "success"),
        ("remove", "dee@example.com", "success"),
        ("remove", "fay@example.com", "success"),
    ]
    assert {e.trigger for e in fixes} == {"reconcile"}
    with app.app_context():
        ctx, _again = _check(app, integration.id)
    run_jobs()
    with app.app_context():
        assert _found(latest_check(ctx, integration.id)) == [("opted_out", "cy@example.com")]


def test_work_still_pending_is_not_called_a_difference(app, engine, integration, purchase_rule):
    purchase(engine, "new@example.com", event_id="o-new")  # no worker ran: still pending
    with app.app_context():
        ctx = app.extensions["addon"].state(app).context
        ctx.session.commit()
        expand_events(ctx, "acme")
        _ctx, check = _check(app, integration.id)
        check = perform_check(ctx, check)
        assert check.differences == []


def test_the_lists_are_read_in_pages_whatever_page_size_icontact_serves(
    app, icontact, drifted, integration, run_jobs
):
    icontact.faults.update(max_page_size=2)
    with app.app_context():
        ctx, check = _check(app, integration.id)
    run_jobs()
    with app.app_context():
        check = latest_check(ctx, integration.id)
        assert len(_found(check)) == 4
        assert check.calls >= 6  # several pages of contacts and of the list


def test_an_unsubscribe_the_engine_made_itself_is_missing_not_opted_out(
    app, engine, icontact, integration, purchase_rule, run_jobs
):
    refunds = engine.add_rule(
        "acme",
        trigger="product.refunded",
        integration_id=integration.id,
        action="remove",
        list_name="Customers",
    )
    purchase(engine, "ann@example.com", event_id="o-ann")
    engine.emit(
        "product.refunded",
        marketplace_id="acme",
        customer={"email": "ann@example.com"},
        product_id="101",
        event_id="r-ann",
    )
    run_jobs()
    with app.app_context():
        delete_rule(context(), "acme", refunds.id)  # now the rules keep her on the list
    with app.app_context():
        ctx, check = _check(app, integration.id)
    run_jobs()
    with app.app_context():
        check = latest_check(ctx, integration.id)
        assert _found(check) == [("missing", "ann@example.com")]
        assert fix_check(ctx, check) == 1
    run_jobs()
    assert icontact.subscribers(list_id(icontact, "Customers"))["ann@example.com"] == "normal"


def test_a_check_refused_for_the_password_puts_the_integration_in_need_of_attention(
    app, drifted, integration, icontact, run_jobs
):
    icontact.change_password(USERNAME, "a-new-password")
    with app.app_context():
        ctx, check = _check(app, integration.id)
    run_jobs()
    with app.app_context():
        check = latest_check(ctx, integration.id)
        assert check.status == "failed"
        assert "rejected" in check.message
        row = ctx.session.get(Integration, integration.id)
        assert row.status == "needs_attention" and row.status_reason == check.message
