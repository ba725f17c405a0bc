"""The log: newest first, searchable, pruned to ADDON_LOG_LIMIT without losing pending work."""

from sqlalchemy import select

from addon.state import context
from addon.store.models import Event
from tests.conftest import configure, customers_rule, purchase


def test_log_entries_say_what_happened(engine, purchase_rule, run_jobs):
    purchase(engine, "ann@example.com", event_id="o-1")
    run_jobs()
    [entry] = engine.logs("acme")
    assert entry.event_id == "o-1" and entry.event_type == "product.purchased"
    assert entry.trigger == "product.purchased" and entry.product_id == "101"
    assert entry.email == "ann@example.com" and entry.rule_scope == "global"
    assert entry.integration_label == "Main iContact" and entry.action == "add"
    assert entry.list_name == "Customers" and entry.status == "success"
    assert entry.message.startswith("Created contact ") and "subscribed it to list" in entry.message
    assert entry.created_at is not None
    calls = entry.detail["calls"]
    assert [c["method"] for c in calls] == ["GET", "POST", "POST"]
    assert "app-password" not in str(entry.detail)


def test_logs_are_newest_first_and_searchable(engine, purchase_rule, run_jobs):
    for n in range(3):
        purchase(engine, f"user{n}@example.com", event_id=f"o-{n}", product_id=f"p{n}")
        run_jobs()
    assert [e.email for e in engine.logs("acme")] == [
        "user2@example.com",
        "user1@example.com",
        "user0@example.com",
    ]
    assert [e.email for e in engine.logs("acme", q="USER1")] == ["user1@example.com"]
    assert [e.event_id for e in engine.logs("acme", q="o-2")] == ["o-2"]
    assert [e.product_id for e in engine.logs("acme", q="p0")] == ["p0"]
    assert len(engine.logs("acme", q="customers")) == 3
    assert len(engine.logs("acme", q="created contact")) == 3
    assert len(engine.logs("acme", status="success")) == 3
    assert engine.logs("acme", status="failed") == []
    assert len(engine.logs("acme", trigger="product.purchased", limit=2)) == 2


def test_logs_keep_the_newest_entries_up_to_the_limit(app, engine, purchase_rule, run_jobs):
    configure(app, ADDON_LOG_LIMIT=3)
    for n in range(5):
        purchase(engine, f"user{n}@example.com", event_id=f"o-{n}")
    run_jobs()
    assert [e.event_id for e in engine.logs("acme", limit=10)] == ["o-4", "o-3", "o-2"]
    # A pruned event's id stays known: re-sending it does nothing.
    purchase(engine, "user0@example.com", event_id="o-0")
    run_jobs()
    assert len(engine.logs("acme", limit=10)) == 3
    assert engine.db.session.scalar(select(Event).where(Event.event_id == "o-0")) is not None


def test_pruning_never_drops_pending_work(app, engine, integration, run_jobs):
    configure(app, ADDON_LOG_LIMIT=1)
    engine.add_rule(
        "acme",
        trigger="prospect.created",
        integration_id=integration.id,
        action="add",
        list_name="Abandoned Carts",
    )
    customers_rule(engine, integration)
    engine.emit(
        "prospect.created",
        marketplace_id="acme",
        customer={"email": "p@example.com"},
        prospect_id="x",
        product_id="101",
    )
    for n in range(3):
        purchase(engine, f"user{n}@example.com")
    run_jobs()
    statuses = sorted(e.status for e in engine.logs("acme", limit=10))
    assert statuses == ["pending", "success"]


def test_log_counts_tell_how_many_match_and_how_many_of_those_failed(
    app, engine, purchase_rule, run_jobs
):
    from addon.engine.logs import count_logs_and_failed

    purchase(engine, "good@example.com", event_id="o-1")
    purchase(engine, "bad@example", event_id="o-2")  # not a deliverable address: fails
    run_jobs()
    with app.app_context():
        assert count_logs_and_failed(context(), "acme") == (2, 1)
        assert count_logs_and_failed(context(), "acme", q="good") == (1, 0)
        assert count_logs_and_failed(context(), "acme", status="success") == (1, 0)
        assert count_logs_and_failed(context(), "acme", status="failed") == (1, 1)
        assert count_logs_and_failed(context(), "other") == (0, 0)
