"""While a burst drains, Integration Setup shows how many updates wait for each integration and
how long they take at its iContact allowance (issue 18)."""

from __future__ import annotations

from addon.engine.backlog import backlog
from addon.state import context
from tests import test_views_support as support
from tests.conftest import configure

merchant = support.merchant


def purchases(engine, count):
    engine.add_rule(
        "acme", trigger="product.purchased", integration_id=1, action="add", list_name="Customers"
    )
    for n in range(count):
        engine.emit(
            "product.purchased",
            marketplace_id="acme",
            customer={"email": f"b{n}@example.com"},
            product_id="101",
            purchase_type="primary",
        )


def expand(app):
    from addon.engine.expansion import expand_events

    with app.app_context():
        expand_events(context(), "acme")


def test_nothing_waiting_shows_nothing(app, merchant, integration, run_jobs):
    run_jobs()
    with app.app_context():
        assert backlog(context(), integration) is None
    assert "waiting to be sent" not in merchant.get("addon.settings").text


def test_the_row_shows_the_updates_waiting_and_their_time_at_the_allowance(
    app, engine, merchant, integration
):
    configure(app, ADDON_ICONTACT_CALLS_PER_MINUTE=2, ADDON_CLAIM_BATCH=10)
    purchases(engine, 30)
    expand(app)
    with app.app_context():
        waiting = backlog(context(), integration)
    # Not synced yet: a lookup each plus a create and a subscribe per claim of 10.
    assert (waiting.waiting, waiting.calls, waiting.minutes) == (30, 36, 18)
    page = merchant.get("addon.settings").text
    assert "30 updates waiting to be sent: ≈ 18 min at 2 calls/minute" in page


def test_synced_contacts_need_no_lookups_so_the_wait_is_shorter(
    app, engine, merchant, integration, run_jobs
):
    run_jobs()  # the contact sync of the connect
    configure(app, ADDON_ICONTACT_CALLS_PER_MINUTE=2)
    purchases(engine, 30)
    expand(app)
    with app.app_context():
        waiting = backlog(context(), integration)
    assert (waiting.waiting, waiting.calls, waiting.minutes) == (30, 2, 1)
