"""Why didn't this fire? Every stored event can be found from the Logs, those no rule acted on
included, and each says in plain words why nothing happened; one customer's story (issue 17)."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from sqlalchemy import select

from addon.engine import history
from addon.store.models import Event
from tests import test_views_support as support
from tests.conftest import configure, list_id, purchase

merchant = support.merchant


def refund(engine, email: str, product_id: str = "101", event_id: str | None = None) -> str:
    return engine.emit(
        "product.refunded",
        marketplace_id="acme",
        customer={"email": email},
        product_id=product_id,
        event_id=event_id,
    )


def add_rule(engine, integration, trigger="product.purchased", product_id=None, **values):
    values.setdefault("action", "add")
    values.setdefault("list_name", "Customers")
    return engine.add_rule(
        "acme", trigger=trigger, integration_id=integration.id, product_id=product_id, **values
    )


def events_view(merchant, **args):
    return merchant.get("addon.logs", show="events", **args).text


def test_an_event_no_rule_acted_on_is_found_by_email_and_says_why(
    merchant, engine, purchase_rule, run_jobs
):
    refund(engine, "jane@example.com", event_id="order-900")
    run_jobs()
    # The entries have none of it, and say where to look.
    entries = merchant.get("addon.logs", q="jane@").text
    assert "No entries match this search." in entries
    assert "1 event matches, with why each did or did not act" in entries
    page = events_view(merchant, q="jane@")
    assert "jane@example.com" in page and "order-900" in page
    assert "∅</span> None" in page
    assert (
        "Product Refunded for Single-Origin Sampler: no rule for this trigger; "
        "1 rule acts on Product Purchased." in page
    )


@pytest.mark.parametrize("q", ["ORDER-9", "101", "JANE"])
def test_events_are_found_by_event_id_product_or_email_in_any_case(
    merchant, engine, purchase_rule, run_jobs, q
):
    refund(engine, "jane@example.com", event_id="order-900")
    refund(engine, "other@example.com", product_id="102", event_id="x-1")
    run_jobs()
    page = events_view(merchant, q=q)
    assert "jane@example.com" in page and "other@example.com" not in page


def test_a_rule_for_another_product_is_named(merchant, engine, integration, run_jobs):
    add_rule(engine, integration, "product.refunded", product_id="102")
    refund(engine, "jane@example.com", product_id="101")
    run_jobs()
    assert (
        "no rule for this product; 1 rule acts on Product Refunded for other products "
        "(Espresso Subscription)." in events_view(merchant)
    )


def test_a_rule_made_after_the_event_acts_on_later_events_only(
    merchant, engine, integration, run_jobs
):
    refund(engine, "jane@example.com")
    run_jobs()
    add_rule(engine, integration, "product.refunded")
    assert "no rule acted on it when it arrived. 1 rule made since" in events_view(merchant)


def test_rules_that_went_with_a_deleted_integration_are_named(
    merchant, engine, integration, run_jobs
):
    add_rule(engine, integration, "product.refunded")
    refund(engine, "ann@example.com")
    run_jobs()
    merchant.post("addon.delete_integration", integration_id=integration.id)
    refund(engine, "jane@example.com")
    engine.db.session.commit()  # the test's session had a transaction open: emit joined it
    run_jobs()
    page = events_view(merchant, q="jane")
    assert "its rules went with the deleted integration “Main iContact”" in page
    # The entry of the earlier event says it too.
    page = events_view(merchant, q="ann")
    assert "Its integration, “Main iContact”, has been deleted since." in page


def test_no_rules_at_all_says_where_to_add_one(merchant, engine, integration, run_jobs):
    purchase(engine, "jane@example.com")
    run_jobs()
    assert "there are no rules yet. Add one on Global Rules" in events_view(merchant)


def test_an_event_not_looked_at_for_long_says_the_background_processing_seems_stopped(
    app, merchant, engine, purchase_rule
):
    purchase(engine, "jane@example.com")  # no worker runs
    page = events_view(merchant)
    assert "just received; the rules are being checked" in page
    with app.app_context():
        session = engine.db.session
        for event in session.scalars(select(Event)):
            event.created_at -= dt.timedelta(hours=1)
        session.commit()
    why = events_view(merchant)
    # In the merchant's words, as Health says it: no "worker".
    assert "background processing seems to be stopped" in why and "worker" not in why


def test_entries_cleared_from_a_full_log_are_said_to_be(
    app, merchant, engine, purchase_rule, run_jobs
):
    configure(app, ADDON_LOG_LIMIT=1)
    purchase(engine, "jane@example.com")
    run_jobs()
    purchase(engine, "bob@example.com")
    run_jobs()
    page = events_view(merchant, q="jane")
    assert "its log entries were cleared: the Logs keep the latest 1 entries" in page


def test_an_event_with_entries_sums_up_what_its_rules_did(
    merchant, engine, purchase_rule, integration, run_jobs
):
    add_rule(engine, integration, list_name="Abandoned Carts")
    purchase(engine, "ann@example.com", product_id="101")
    run_jobs()
    page = events_view(merchant)
    assert "2 rules acted on it: 2 done." in page
    assert "ann@example.com’s story" in page


def test_events_view_keeps_the_log_entries_view_apart(merchant, engine, purchase_rule, run_jobs):
    refund(engine, "jane@example.com")
    purchase(engine, "ann@example.com")
    run_jobs()
    entries = merchant.get("addon.logs").text
    assert "1 entry" in entries and "jane@example.com" not in entries
    assert "2 events" in events_view(merchant)


# -- one customer's story ------------------------------------------------------------------


def test_a_customers_story_shows_their_events_and_the_lists_they_should_be_on(
    merchant, engine, integration, purchase_rule, run_jobs
):
    add_rule(engine, integration, "product.refunded", action="remove")
    purchase(engine, "Ann@Example.com")
    run_jobs()
    refund(engine, "ann@example.com", product_id="102")
    purchase(engine, "bob@example.com")
    run_jobs()
    page = merchant.get("addon.customer_story", email="ann@example.com").text
    assert "ann@example.com’s story" in page
    assert page.index("Product Refunded for Espresso Subscription") < page.index(
        "Product Purchased for Single-Origin Sampler"
    )  # newest first
    assert "bob@example.com" not in page
    lists = page.split("Lists the rules say they should be on now")[1].split("Their events")[0]
    assert "Customers" in lists and "Off the list" in lists and "On the list" not in lists


def test_a_customers_story_is_offered_from_an_entry_and_a_search_by_email(
    merchant, engine, purchase_rule, run_jobs
):
    purchase(engine, "ann@example.com")
    run_jobs()
    assert "ann@example.com’s story →" in merchant.get("addon.logs", q="ann@example.com").text
    entry = merchant.get("addon.logs").text
    entry_id = re.search(r'id="addon-log-(\d+)"', entry).group(1)
    detail = merchant.get("addon.log_entry", entry_id=entry_id).text
    assert "/integrations/logs/customer?email=ann@example.com" in detail


@pytest.mark.parametrize(
    "email", ["nobody", "a@b", "x" * 300 + "@example.com", "a\x01@example.com"]
)
def test_a_story_of_an_address_that_is_no_email_is_400_with_the_form(merchant, email):
    response = merchant.get("addon.customer_story", email=email)
    assert response.status_code == 400
    assert "Enter a customer's whole email address" in response.text.replace("&#39;", "'")


def test_the_story_without_an_email_asks_for_one(merchant):
    page = merchant.get("addon.customer_story")
    assert page.status_code == 200 and "Customer email" in page.text


def test_another_marketplaces_customer_has_no_story_here(client, engine, purchase_rule, run_jobs):
    purchase(engine, "ann@example.com")
    run_jobs()
    other = support.Merchant(client, "bolt")
    page = other.get("addon.customer_story", email="ann@example.com").text
    assert "No event of this customer was received." in page


def test_list_states_ignore_skipped_entries():
    class Row:
        def __init__(self, pk, action, status, at):
            self.id, self.action, self.status = pk, action, status
            self.sequence_at = dt.datetime(2026, 1, 1, at)
            self.integration_label, self.list_id, self.list_name = "Main", "L1", "Buyers"

    states = history.list_states(
        [Row(1, "add", "success", 1), Row(2, "remove", "skipped", 2)]  # type: ignore[list-item]
    )
    assert [(s.list_name, s.on_list) for s in states] == [("Buyers", True)]


def test_the_events_view_filters_by_trigger_and_by_the_outcome_of_their_entries(
    merchant, engine, purchase_rule, icontact, run_jobs
):
    purchase(engine, "ann@example.com")
    run_jobs()
    icontact.delete_list(list_id(icontact, "Customers"))
    purchase(engine, "bob@example.com")
    refund(engine, "jane@example.com")
    run_jobs()
    failed = events_view(merchant, status="failed")
    assert "bob@example.com" in failed and "ann@example.com" not in failed
    assert "jane@example.com" not in failed
    refunds = events_view(merchant, trigger="product.refunded")
    assert "jane@example.com" in refunds and "bob@example.com" not in refunds
