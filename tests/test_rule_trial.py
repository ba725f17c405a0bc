"""Test a rule before trusting it: a dry run shows exactly the calls it would make (nothing
sent, nothing written), and Send to a test contact applies it for real; for product and
global rules alike (issue 17 §3)."""

from __future__ import annotations

import re

import pytest
from flask import current_app
from sqlalchemy import func, select

from addon.engine import trials
from addon.providers.icontact.plan import CONTACT
from addon.state import context
from addon.store.models import Delivery, Rule
from tests import test_views_support as support
from tests.conftest import find_contact, list_id, purchase

merchant = support.merchant


@pytest.fixture
def product_rule(engine, integration):
    return engine.add_rule(
        "acme",
        trigger="product.refunded",
        integration_id=integration.id,
        action="remove",
        list_name="Customers",
        product_id="101",
    )


def deliveries(engine) -> int:
    return engine.db.session.scalar(select(func.count()).select_from(Delivery))


def planned(app, rule_id: int, email: str):
    with app.test_request_context():
        rule = current_app.extensions["addon"].db.session.get(Rule, rule_id)
        return trials.dry_run(context(), rule, email)


def test_a_dry_run_shows_the_calls_and_sends_nothing(merchant, engine, icontact, purchase_rule):
    page = merchant.get("addon.test_rule", rule_id=purchase_rule.id, email="new@example.com")
    assert page.status_code == 200
    text = page.text
    customers = list_id(icontact, "Customers")
    assert re.search(r"GET /a/\d+/c/\d+/contacts</code>\s*<code[^>]*>email=new%40example.com", text)
    assert "Create the contact, only if the lookup finds no contact" in text
    assert re.search(r"POST /a/\d+/c/\d+/subscriptions</code>", text)
    assert f"&#34;listId&#34;: &#34;{customers}&#34;" in text
    assert "A dry run sends nothing" in text
    # Nothing was sent, nothing written.
    assert find_contact(icontact, "new@example.com") is None
    assert deliveries(engine) == 0


def test_a_blank_email_dry_runs_a_sample_customer(merchant, purchase_rule):
    text = merchant.get("addon.test_rule", rule_id=purchase_rule.id, email="").text
    assert f"Dry run for {trials.SAMPLE_EMAIL}" in text


def test_a_real_customer_remembered_skips_the_lookup(
    app, merchant, engine, icontact, purchase_rule, run_jobs
):
    purchase(engine, "ann@example.com")
    run_jobs()
    contact = find_contact(icontact, "ann@example.com")["contactId"]
    dry = planned(app, purchase_rule.id, "Ann@Example.com")
    assert dry.known_customer
    lookup, check, create, subscribe = dry.calls
    assert (
        lookup.skipped
        == create.skipped
        == (f"skipped: contact {contact} is remembered from an earlier delivery")
    )
    assert check.params["status"] == "unsubscribed" and check.condition is None
    assert subscribe.body[0]["contactId"] == contact


def test_a_product_rule_that_removes_plans_its_reads_and_the_unsubscribe(app, product_rule):
    dry = planned(app, product_rule.id, "jane@example.com")
    assert [(c.method, c.path.split("/c/")[1].split("/", 1)[1]) for c in dry.calls] == [
        ("GET", "contacts"),
        ("GET", f"subscriptions/{product_rule.list_id}_{CONTACT}"),
        ("POST", f"subscriptions/{product_rule.list_id}_{CONTACT}"),
    ]
    assert dry.calls[-1].body == {"status": "unsubscribed"}


def test_the_plan_is_what_a_real_send_does(app, merchant, icontact, purchase_rule):
    """The calls made are the plan's, in its order, those 'only if' it did not need left out."""
    dry = planned(app, purchase_rule.id, "zoe@example.com")
    response = merchant.post(
        "addon.test_rule", {"test_email": "zoe@example.com"}, rule_id=purchase_rule.id
    )
    made = re.findall(r"<code>(GET|POST) (/a/[^<]*)</code>", response.text.split("Sent to")[1])
    plan = [(c.method, c.path) for c in dry.calls if not c.skipped]
    assert made and all(call in plan for call in made)
    assert [plan.index(call) for call in made] == sorted(plan.index(call) for call in made)


def test_send_to_a_test_contact_applies_the_rule_for_real(
    merchant, engine, icontact, purchase_rule
):
    response = merchant.post(
        "addon.test_rule", {"test_email": "me+test@example.com"}, rule_id=purchase_rule.id
    )
    assert response.status_code == 200
    assert "Sent to me+test@example.com" in response.text
    assert "Created contact" in response.text and "HTTP 200" in response.text
    customers = icontact.subscribers(list_id(icontact, "Customers"))
    assert customers == {"me+test@example.com": "normal"}
    assert deliveries(engine) == 0  # a test is not a storefront event


def test_send_to_a_test_contact_works_for_a_product_rule(merchant, icontact, product_rule):
    response = merchant.post(
        "addon.test_rule", {"test_email": "me@example.com"}, rule_id=product_rule.id
    )
    assert response.status_code == 200
    assert "Nothing to remove" in response.text or "no iContact contact" in response.text


def test_a_plain_form_post_shows_the_result_on_the_page(merchant, purchase_rule):
    response = merchant.post(
        "addon.test_rule",
        {"test_email": "me@example.com", "csrf_token": merchant.token},
        htmx=False,
        csrf=False,
        rule_id=purchase_rule.id,
    )
    assert response.status_code == 200
    assert "<html" in response.text and "Sent to me@example.com" in response.text


@pytest.mark.parametrize("email", ["nobody", "a@b", "x\x01@example.com", "x" * 250 + "@ex.com"])
def test_odd_emails_are_refused_before_anything_is_sent(merchant, engine, purchase_rule, email):
    dry = merchant.get("addon.test_rule", rule_id=purchase_rule.id, email=email)
    assert dry.status_code == 400
    sent = merchant.post("addon.test_rule", {"test_email": email}, rule_id=purchase_rule.id)
    assert sent.status_code == 422
    assert "Enter the email address of a test contact you own." in sent.text


def test_another_marketplaces_rule_cannot_be_tested(client, engine, purchase_rule):
    other = support.Merchant(client, "bolt")
    assert other.get("addon.test_rule", rule_id=purchase_rule.id).status_code == 404
    response = other.post(
        "addon.test_rule", {"test_email": "a@example.com"}, rule_id=purchase_rule.id
    )
    assert response.status_code == 404


def test_each_rule_offers_test(merchant, purchase_rule, product_rule):
    assert f"/integrations/rules/{purchase_rule.id}/test" in merchant.get("addon.global_rules").text
    tab = merchant.get("addon.product_tab", product_id="101").text
    assert f"/integrations/rules/{product_rule.id}/test" in tab
