"""Nothing lost: a Redis outage at emit time, a killed worker's leases, rejected credentials."""

import datetime as dt

from sqlalchemy import select

from addon.jobs import sweep
from addon.models import Delivery, Event
from addon.sweeper import sweep_once
from tests.conftest import APP_ID, USERNAME, list_id, purchase


def add_rule(engine, integration, trigger="product.purchased", action="add"):
    return engine.add_rule(
        "acme", trigger=trigger, integration_id=integration.id, action=action, list_name="Customers"
    )


def age_everything(engine, seconds=3600):
    """Pretend the stored work has waited ``seconds``."""
    past = dt.timedelta(seconds=seconds)
    session = engine.db.session
    for event in session.scalars(select(Event)):
        event.created_at -= past
    for delivery in session.scalars(select(Delivery)):
        if delivery.lease_until:
            delivery.lease_until -= past
    session.commit()


def test_events_stored_during_a_redis_outage_are_swept_later(
    app, engine, integration, icontact, run_jobs
):
    add_rule(engine, integration)
    queue = engine.state(app).queue
    real_enqueue = queue.enqueue
    queue.enqueue = lambda *a, **k: (_ for _ in ()).throw(ConnectionError("redis down"))
    try:
        purchase(engine)
    finally:
        queue.enqueue = real_enqueue
    assert queue.count == 0
    age_everything(engine)
    assert "1 marketplace" in sweep()
    run_jobs()
    assert icontact.subscribers(list_id(icontact, "Customers")) == {"ann@example.com": "normal"}


def test_a_killed_workers_leases_expire_and_the_work_is_done_once(
    engine, integration, icontact, run_jobs
):
    from addon import deliveries

    add_rule(engine, integration)
    purchase(engine)
    # Expand and lease as a worker would, then "die" before applying.
    deliveries.expand_events("acme")
    [claimed] = deliveries.claim(integration.id, "dead-worker", 10)
    engine.state().queue.empty()
    run_jobs()
    assert engine.logs("acme")[0].status == "pending"  # still leased by the dead worker
    age_everything(engine)
    assert "1 integration" in sweep()
    run_jobs()
    [entry] = engine.logs("acme")
    assert entry.status == "success" and entry.attempts == 1
    assert icontact.subscribers(list_id(icontact, "Customers")) == {"ann@example.com": "normal"}


def test_only_one_worker_sweeps_per_interval(app, engine):
    engine.state(app).queue.connection.delete("addon:sweep:lock")
    assert sweep_once(app) is not None
    assert sweep_once(app) is None


def test_rejected_credentials_hold_work_until_the_merchant_fixes_them(
    engine, integration, icontact, run_jobs
):
    add_rule(engine, integration)
    icontact.change_password(USERNAME, "new-app-password", app_id=APP_ID)
    purchase(engine, "a@example.com")
    purchase(engine, "b@example.com")
    run_jobs()
    engine.db.session.refresh(integration)
    assert integration.status == "needs_attention"
    entries = engine.logs("acme")
    assert [e.status for e in entries] == ["pending", "pending"]
    assert any("held" in e.message for e in entries)
    from addon.integrations import update_integration

    update_integration("acme", integration.id, password="new-app-password")
    run_jobs()
    engine.db.session.expire_all()
    assert [e.status for e in engine.logs("acme")] == ["success", "success"]
    assert integration.status == "connected"


def test_held_work_asked_for_again_still_resumes_as_soon_as_the_credentials_are_fixed(
    app, engine, integration, icontact, run_jobs
):
    """A drain that finds the integration held (here asked for by a retry) clears its
    coalescing flag all the same, so fixing the credentials starts the work at once rather
    than when the sweeper comes by."""
    from addon.integrations import update_integration
    from addon.queue import enqueue_drain

    add_rule(engine, integration)
    icontact.change_password(USERNAME, "new-app-password", app_id=APP_ID)
    purchase(engine, "a@example.com")
    run_jobs()
    enqueue_drain(engine.queue, integration.id)  # what a retry of a held entry asks for
    run_jobs()
    assert [e.status for e in engine.logs("acme")] == ["pending"]
    update_integration("acme", integration.id, password="new-app-password")
    run_jobs()
    engine.db.session.expire_all()
    assert [e.status for e in engine.logs("acme")] == ["success"]


def test_temporary_failures_retry_with_backoff_and_show_the_attempt(
    app, engine, integration, icontact, run_jobs
):
    add_rule(engine, integration)
    icontact.faults.update(error_503_rate=1.0)
    purchase(engine)
    run_jobs()
    [entry] = engine.logs("acme")
    assert entry.status == "pending" and entry.attempts == 1
    assert "Temporary failure on attempt 1" in entry.message and "Next try at" in entry.message
    assert 15 <= (entry.next_attempt_at - entry.created_at).total_seconds() <= 31
    icontact.faults.update(error_503_rate=0.0)
    entry.next_attempt_at = entry.created_at
    engine.db.session.commit()
    sweep()
    run_jobs()
    engine.db.session.expire_all()
    [entry] = engine.logs("acme")
    assert entry.status == "success" and entry.attempts == 2


def test_temporary_failures_give_up_after_the_retry_window(
    app, engine, integration, icontact, run_jobs
):
    app.config["ADDON_RETRY_WINDOW"] = 10
    add_rule(engine, integration)
    icontact.faults.update(error_500_rate=1.0)
    purchase(engine)
    run_jobs()
    [entry] = engine.logs("acme")
    assert entry.status == "failed" and "Gave up after 1 attempts" in entry.message


def test_a_list_deleted_in_icontact_fails_at_once_saying_what_to_do(
    engine, integration, icontact, run_jobs
):
    add_rule(engine, integration)
    icontact.delete_list(list_id(icontact, "Customers"))
    purchase(engine)
    run_jobs()
    [entry] = engine.logs("acme")
    assert entry.status == "failed" and entry.attempts == 1
    assert "was not found in iContact" in entry.message and "Refresh the lists" in entry.message


def test_retrying_a_failed_entry_keeps_its_place_and_applies_once(
    engine, integration, icontact, run_jobs
):
    from addon.retries import retry_delivery, retry_failed

    add_rule(engine, integration)
    icontact.faults.update(error_500_rate=1.0)
    engine.state().queue.connection.flushdb()
    from flask import current_app

    current_app.config["ADDON_RETRY_WINDOW"] = 1
    purchase(engine, "a@example.com")
    purchase(engine, "b@example.com")
    run_jobs()
    assert [e.status for e in engine.logs("acme")] == ["failed", "failed"]
    icontact.faults.update(error_500_rate=0.0)
    first = engine.logs("acme")[1]
    retry_delivery("acme", first.id)
    assert retry_failed("acme") == 1
    run_jobs()
    engine.db.session.expire_all()
    assert [e.status for e in engine.logs("acme")] == ["success", "success"]
    assert len(engine.logs("acme")) == 2


def test_a_failed_entry_keeps_what_was_sent_and_answered(engine, integration, icontact, run_jobs):
    add_rule(engine, integration)
    icontact.delete_list(list_id(icontact, "Customers"))
    purchase(engine)
    run_jobs()
    [entry] = engine.logs("acme")
    paths = [call["path"] for call in entry.detail["calls"]]
    assert any(path.endswith("/subscriptions") for path in paths)


def test_a_temporary_failure_part_way_keeps_what_was_done(
    app, engine, integration, icontact, run_jobs
):
    """The subscribe call fails after the contacts were created: only it is retried."""
    add_rule(engine, integration)
    from addon.providers.base import TemporaryFailure
    from addon.providers.icontact import IContactClient

    real_subscribe = IContactClient.subscribe
    IContactClient.subscribe = lambda self, pairs, status="normal": (_ for _ in ()).throw(
        TemporaryFailure("iContact answered 503")
    )
    try:
        purchase(engine, "a@example.com")
        run_jobs()
    finally:
        IContactClient.subscribe = real_subscribe
    [entry] = engine.logs("acme")
    assert entry.status == "pending" and "Temporary failure on attempt 1" in entry.message
    assert any(call["path"].endswith("/contacts") for call in entry.detail["calls"])


def test_a_retried_entry_that_a_later_event_overtook_is_skipped(
    app, engine, integration, icontact, run_jobs
):
    """Retrying an old purchase after the refund that followed it must not re-add them."""
    from addon.retries import retry_delivery

    app.config["ADDON_RETRY_WINDOW"] = 1
    add_rule(engine, integration)
    add_rule(engine, integration, trigger="product.refunded", action="remove")
    purchase(engine, "a@example.com")
    run_jobs()
    icontact.faults.update(error_500_rate=1.0)
    purchase(engine, "a@example.com", event_id="second-purchase")
    run_jobs()
    icontact.faults.update(error_500_rate=0.0)
    engine.emit(
        "product.refunded",
        marketplace_id="acme",
        customer={"email": "a@example.com"},
        product_id="101",
    )
    run_jobs()
    failed = engine.logs("acme", status="failed")[0]
    retry_delivery("acme", failed.id)
    run_jobs()
    engine.db.session.expire_all()
    entry = engine.logs("acme", q="second-purchase")[0]
    assert entry.status == "skipped" and "later event" in entry.message
    assert icontact.subscribers(list_id(icontact, "Customers")) == {"a@example.com": "unsubscribed"}
