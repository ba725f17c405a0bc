"""The nine triggers, one test per rule of the product description."""

import time

import pytest

from addon.engine.events import PURCHASE_TYPES
from tests.conftest import configure, find_contact, list_id

CUSTOMER = {"email": "Ann@Example.com", "first_name": "Ann", "last_name": "Lee", "phone": "555"}


@pytest.fixture
def rule(engine, integration):
    def make(trigger, action="add", list_name="Customers", product_id=None):
        return engine.add_rule(
            "acme",
            trigger=trigger,
            integration_id=integration.id,
            action=action,
            list_name=list_name,
            product_id=product_id,
        )

    return make


@pytest.fixture
def emit(engine):
    def fire(event_type, customer=CUSTOMER, **fields):
        fields.setdefault("product_id", "101")
        if event_type == "product.purchased":
            fields.setdefault("purchase_type", "primary")
        if event_type.startswith("subscription."):
            fields.setdefault("subscription_id", "sub-1")
        if event_type == "prospect.created":
            fields.setdefault("prospect_id", "pr-1")
        return engine.emit(event_type, marketplace_id="acme", customer=customer, **fields)

    return fire


@pytest.fixture
def members(icontact):
    def on(list_name):
        found = icontact.subscribers(list_id(icontact, list_name))
        return {email.lower(): status for email, status in found.items()}

    return on


def statuses(engine):
    return [(e.trigger, e.status, e.message) for e in engine.logs("acme")]


@pytest.mark.parametrize("purchase_type", PURCHASE_TYPES)
def test_product_purchased_fires_for_every_purchase_type(
    purchase_type, rule, emit, run_jobs, members, engine
):
    rule("product.purchased")
    emit("product.purchased", purchase_type=purchase_type)
    run_jobs()
    assert members("Customers") == {"ann@example.com": "normal"}
    [entry] = engine.logs("acme")
    assert entry.status == "success" and entry.trigger == "product.purchased"


def test_add_creates_the_contact_with_the_customers_names(rule, emit, run_jobs, icontact):
    rule("product.purchased")
    emit("product.purchased")
    run_jobs()
    contact = find_contact(icontact, "ann@example.com")
    assert (contact["firstName"], contact["lastName"], contact["phone"]) == ("Ann", "Lee", "555")


def test_add_never_blanks_an_existing_contact(rule, emit, run_jobs, icontact):
    rule("product.purchased")
    emit("product.purchased")
    run_jobs()
    emit("product.purchased", customer={"email": "ann@example.com"})
    run_jobs()
    contact = find_contact(icontact, "ann@example.com")
    assert (contact["firstName"], contact["lastName"]) == ("Ann", "Lee")


def test_product_refunded_removes_from_the_list(rule, emit, run_jobs, members):
    rule("product.purchased")
    rule("product.refunded", action="remove")
    emit("product.purchased")
    run_jobs()
    emit("product.refunded")
    run_jobs()
    assert members("Customers") == {"ann@example.com": "unsubscribed"}


def test_product_partially_refunded(rule, emit, run_jobs, members):
    rule("product.partially_refunded", list_name="Refunds")
    emit("product.partially_refunded", amount=5)
    run_jobs()
    assert members("Refunds") == {"ann@example.com": "normal"}


def test_remove_of_an_unknown_contact_is_skipped_with_the_reason(rule, emit, run_jobs, engine):
    rule("product.refunded", action="remove")
    emit("product.refunded")
    run_jobs()
    [entry] = engine.logs("acme")
    assert entry.status == "skipped" and "no iContact contact" in entry.message


def test_remove_of_a_contact_not_on_the_list_is_skipped(rule, emit, run_jobs, engine):
    rule("product.purchased", list_name="Refunds")
    rule("product.refunded", action="remove", list_name="Customers")
    emit("product.purchased")
    emit("product.refunded")
    run_jobs()
    refund = next(e for e in engine.logs("acme") if e.trigger == "product.refunded")
    assert refund.status == "skipped" and "not on this list" in refund.message


def test_unsubscribed_customer_is_resubscribed_by_a_new_purchase(rule, emit, run_jobs, members):
    rule("product.purchased")
    rule("product.refunded", action="remove")
    for kind in ("product.purchased", "product.refunded", "product.purchased"):
        emit(kind)
        run_jobs()
    assert members("Customers") == {"ann@example.com": "normal"}


def test_prospect_created_fires_two_hours_later(app, rule, emit, run_jobs, engine, members):
    rule("prospect.created", list_name="Abandoned Carts")
    emit("prospect.created")
    run_jobs()
    [entry] = engine.logs("acme")
    assert entry.status == "pending"
    assert (entry.next_attempt_at - entry.event_created_at).total_seconds() == 7200
    queue = engine.state(app).queue
    [job_id] = queue.scheduled_job_registry.get_job_ids()
    scheduled = queue.scheduled_job_registry.get_scheduled_time(job_id)
    assert 7190 < (scheduled.replace(tzinfo=None) - entry.event_created_at).total_seconds() <= 7201
    assert members("Abandoned Carts") == {}


def test_prospect_created_applies_when_the_delay_ends(app, rule, emit, run_jobs, engine, members):
    configure(app, ADDON_PROSPECT_DELAY=1)
    rule("prospect.created", list_name="Abandoned Carts")
    emit("prospect.created")
    run_jobs()
    time.sleep(1.2)
    run_jobs()
    assert members("Abandoned Carts") == {"ann@example.com": "normal"}
    assert statuses(engine)[0][1] == "success"


@pytest.mark.parametrize(
    "purchase",
    [
        {"prospect_id": "pr-1", "customer": {"email": "other@example.com"}},
        {"customer": {"email": "ANN@example.COM"}},
    ],
    ids=["same prospect id", "same email, any case"],
)
def test_prospect_is_skipped_when_they_bought_before_the_delay(
    app, rule, emit, run_jobs, engine, members, purchase
):
    configure(app, ADDON_PROSPECT_DELAY=1)
    rule("prospect.created", list_name="Abandoned Carts")
    emit("prospect.created")
    emit("product.purchased", **purchase)
    run_jobs()
    time.sleep(1.2)
    run_jobs()
    assert members("Abandoned Carts") == {}
    [entry] = engine.logs("acme")
    assert entry.status == "skipped"
    assert entry.message == "skipped: purchased before the abandonment delay"


def test_a_purchase_in_another_marketplace_does_not_suppress(
    app, rule, emit, run_jobs, engine, members
):
    configure(app, ADDON_PROSPECT_DELAY=1)
    rule("prospect.created", list_name="Abandoned Carts")
    emit("prospect.created")
    engine.emit(
        "product.purchased",
        marketplace_id="bolt",
        customer=CUSTOMER,
        product_id="201",
        purchase_type="primary",
    )
    run_jobs()
    time.sleep(1.2)
    run_jobs()
    assert members("Abandoned Carts") == {"ann@example.com": "normal"}


@pytest.mark.parametrize("event_type", ["subscription.canceled", "subscription.delinquent"])
def test_subscription_canceled_fires_on_canceled_and_on_delinquent(
    event_type, rule, emit, run_jobs, engine, members
):
    rule("subscription.charged")
    rule("subscription.canceled", action="remove")
    emit("subscription.charged")
    emit(event_type)
    run_jobs()
    assert members("Customers") == {"ann@example.com": "unsubscribed"}
    canceled = [e for e in engine.logs("acme") if e.trigger == "subscription.canceled"]
    assert [(e.event_type, e.status) for e in canceled] == [(event_type, "success")]


@pytest.mark.parametrize(
    "trigger",
    [
        "subscription.charged",
        "subscription.delinquent",
        "subscription.recovered",
        "subscription.restarted",
    ],
)
def test_subscription_triggers(trigger, rule, emit, run_jobs, members, engine):
    rule(trigger)
    emit(trigger)
    run_jobs()
    assert members("Customers") == {"ann@example.com": "normal"}
    assert [e.trigger for e in engine.logs("acme")] == [trigger]


def test_delinquent_fires_both_its_own_and_canceled_rules_once_each(rule, emit, run_jobs, engine):
    rule("subscription.delinquent", list_name="Refunds")
    rule("subscription.canceled", list_name="Customers")
    emit("subscription.delinquent")
    emit("subscription.delinquent", event_id=None)
    run_jobs()
    triggers = sorted(e.trigger for e in engine.logs("acme"))
    assert triggers == ["subscription.canceled"] * 2 + ["subscription.delinquent"] * 2


def test_product_rules_fire_only_for_their_product(rule, emit, run_jobs, members):
    rule("product.purchased", product_id="102")
    emit("product.purchased", product_id="101")
    run_jobs()
    assert members("Customers") == {}
    emit("product.purchased", product_id="102")
    run_jobs()
    assert members("Customers") == {"ann@example.com": "normal"}


def test_global_rules_fire_for_every_product_and_all_matching_rules_fire(
    rule, emit, run_jobs, members, engine
):
    rule("product.purchased", list_name="Customers")
    rule("product.purchased", list_name="Refunds", product_id="101")
    emit("product.purchased", product_id="101")
    emit("product.purchased", product_id="unknown-product", customer={"email": "bo@example.com"})
    run_jobs()
    assert members("Customers") == {"ann@example.com": "normal", "bo@example.com": "normal"}
    assert members("Refunds") == {"ann@example.com": "normal"}
    scopes = sorted(e.rule_scope for e in engine.logs("acme"))
    assert scopes == ["global", "global", "product"]


def test_rules_of_another_marketplace_never_fire(rule, emit, engine, run_jobs, members):
    rule("product.purchased")
    engine.emit(
        "product.purchased",
        marketplace_id="bolt",
        customer=CUSTOMER,
        product_id="101",
        purchase_type="primary",
    )
    run_jobs()
    assert members("Customers") == {}
    assert engine.logs("bolt") == []


def test_a_purchase_followed_at_once_by_a_refund_leaves_the_customer_off(
    rule, emit, run_jobs, members
):
    rule("product.purchased")
    rule("product.refunded", action="remove")
    emit("product.purchased")
    emit("product.refunded")
    run_jobs()
    assert members("Customers") == {"ann@example.com": "unsubscribed"}


def test_re_emitting_an_event_id_applies_it_once(rule, emit, run_jobs, engine, icontact):
    rule("product.purchased")
    first = emit("product.purchased", event_id="order-42")
    second = emit("product.purchased", event_id="order-42")
    run_jobs()
    emit("product.purchased", event_id="order-42")
    run_jobs()
    assert first == second == "order-42"
    assert len(engine.logs("acme")) == 1


def test_invalid_email_fails_without_calling_icontact(rule, emit, run_jobs, engine, icontact):
    rule("product.purchased")
    run_jobs()  # the contact sync of the connect
    before = icontact.stats.total_calls
    emit("product.purchased", customer={"email": "not-an-email"})
    run_jobs()
    [entry] = engine.logs("acme")
    assert entry.status == "failed" and "invalid email address" in entry.message
    assert icontact.stats.total_calls == before
