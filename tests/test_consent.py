"""Consent (issue 16): the engine never subscribes a person who opted out, yet puts back the
customers it removed itself; end to end through the iContact simulator.

The person acts on the simulator (its control API, as its page's links do); the engine learns of
it only by reading iContact's subscription states, once per list and batch.
"""

from __future__ import annotations

import re

import pytest

from addon.providers.icontact.client import IContactClient
from addon.sandbox import person_confirms, person_unsubscribes, set_contact_status
from addon.state import context
from addon.store.bookkeeping import EngineRemoval
from tests.conftest import (
    APP_ID,
    PASSWORD,
    USERNAME,
    customers_rule,
    find_contact,
    list_id,
    purchase,
)
from tests.test_batching import call_log as call_log  # noqa: F401 - a fixture
from tests.test_batching import calls


@pytest.fixture
def rules(engine, integration):
    """Purchases add to Customers; refunds remove from it (a rule of the engine's own)."""
    for trigger, action in [("product.purchased", "add"), ("product.refunded", "remove")]:
        engine.add_rule(
            "acme",
            trigger=trigger,
            integration_id=integration.id,
            action=action,
            list_name="Customers",
        )


def refund(engine, email="ann@example.com"):
    engine.emit(
        "product.refunded", marketplace_id="acme", customer={"email": email}, product_id="101"
    )


def status(icontact, email="ann@example.com", name="Customers"):
    contact = find_contact(icontact, email)
    return icontact.subscribers(list_id(icontact, name)).get(contact["email"]) if contact else None


def latest(engine, trigger="product.purchased"):
    [entry] = engine.logs("acme", trigger=trigger, limit=1)
    # Reading the log leaves db.session's transaction open: a later emit would join it.
    engine.db.session.rollback()
    return entry


def test_a_person_who_unsubscribed_herself_is_not_added_again(engine, rules, icontact, run_jobs):
    purchase(engine)
    run_jobs()
    person_unsubscribes(icontact, list_id(icontact, "Customers"), email="ann@example.com")
    purchase(engine, product_id="102")
    run_jobs()
    assert status(icontact) == "unsubscribed"
    entry = latest(engine)
    assert entry.status == "skipped"
    assert re.fullmatch(
        r"skipped: ann@example\.com unsubscribed from Customers in iContact "
        r"\(seen on \d{4}-\d\d-\d\d\); not added again",
        entry.message,
    )
    assert icontact.consent.as_dict()["overrides"] == []


def test_a_customer_the_refund_rule_removed_is_added_back_by_the_next_purchase(
    app, engine, rules, icontact, run_jobs
):
    purchase(engine)
    run_jobs()
    refund(engine)
    run_jobs()
    assert status(icontact) == "unsubscribed"
    with app.app_context():
        [removal] = context().session.query(EngineRemoval).all()
        refund_entry = latest(engine, "product.refunded")
        assert (removal.email_key, removal.event_id) == ("ann@example.com", refund_entry.event_id)
    purchase(engine, product_id="102")
    run_jobs()
    assert status(icontact) == "normal"
    assert latest(engine).status == "success"
    with app.app_context():
        # Back on the list: a later unsubscribe would be hers again.
        assert context().session.query(EngineRemoval).count() == 0


def test_after_the_engine_put_her_back_her_own_unsubscribe_is_respected(
    engine, rules, icontact, run_jobs
):
    purchase(engine)
    run_jobs()
    refund(engine)
    run_jobs()
    purchase(engine, product_id="102")
    run_jobs()
    person_unsubscribes(icontact, list_id(icontact, "Customers"), email="ann@example.com")
    purchase(engine, product_id="103")
    run_jobs()
    assert status(icontact) == "unsubscribed"
    assert latest(engine).status == "skipped"


@pytest.mark.parametrize("marked", ["donotcontact", "bounced"])
def test_a_contact_iContact_will_not_mail_is_never_subscribed(
    engine, rules, icontact, run_jobs, marked
):
    purchase(engine)
    run_jobs()
    refund(engine)
    run_jobs()
    set_contact_status(icontact, marked, email="ann@example.com")
    # The engine removed her itself, and still does not put her back: iContact blocks her.
    purchase(engine, product_id="102")
    run_jobs()
    assert status(icontact) == "unsubscribed"
    entry = latest(engine)
    assert entry.status == "skipped"
    assert entry.message.startswith("skipped: ann@example.com was not added to Customers:")
    assert icontact.consent.as_dict()["overrides"] == []


def test_a_donotcontact_contact_the_engine_never_saw_is_skipped_with_the_reason(
    engine, rules, icontact, run_jobs
):
    # Known to iContact (another shop's signup), new to the engine: found by a lookup, or by
    # the contact sync's check for contacts created since, which does not say its status.
    client = IContactClient(icontact.base_url, APP_ID, USERNAME, PASSWORD)
    client.create_contacts([{"email": "ann@example.com"}])
    set_contact_status(icontact, "donotcontact", email="ann@example.com")
    purchase(engine)
    run_jobs()
    assert status(icontact) is None
    entry = latest(engine)
    assert entry.status == "skipped" and "do not contact" in entry.message


def test_subscription_states_are_read_once_per_batch_not_per_delivery(
    engine, integration, icontact, run_jobs, call_log
):
    for name in ("Customers", "Refunds"):
        engine.add_rule(
            "acme",
            trigger="product.purchased",
            integration_id=integration.id,
            action="add",
            list_name=name,
        )
    for n in range(30):
        purchase(engine, f"c{n}@example.com")
    run_jobs()
    # New contacts have no subscription to read.
    assert calls(icontact, "GET", "/subscriptions") == []
    first = len(call_log)
    call_log.clear()
    for n in range(30):
        purchase(engine, f"c{n}@example.com", product_id="102")
    run_jobs()
    assert len(calls(icontact, "GET", "/subscriptions")) == 1  # for 60 deliveries, two lists
    # Returning customers: one read and one subscribe call, no lookup, for 60 deliveries,
    # against 30 lookups, one create and one subscribe for the first 60.
    assert len(call_log) == 2 < first


def test_double_opt_in_asks_the_person_and_subscribes_only_once_she_confirms(
    engine, integration, icontact, run_jobs
):
    rule = customers_rule(engine, integration, double_opt_in=True)
    assert rule.double_opt_in
    purchase(engine)
    run_jobs()
    assert status(icontact) == "pending"
    assert latest(engine).message.startswith("Asked contact")
    purchase(engine, product_id="102")
    run_jobs()
    assert status(icontact) == "pending"
    assert "not yet confirmed" in latest(engine).message
    person_confirms(icontact, list_id(icontact, "Customers"), email="ann@example.com")
    purchase(engine, product_id="103")
    run_jobs()
    assert status(icontact) == "normal"
    assert "already on Customers" in latest(engine).message
