"""Rules: Global Rules, a product's Integrations tab, and the New/Edit Rule wizard."""

from __future__ import annotations

import re

import pytest
from markupsafe import escape
from sqlalchemy import select

from addon.engine.triggers import TRIGGERS
from addon.store.models import Rule
from tests import test_views_support as support
from tests.conftest import USERNAME, customers_rule, list_id
from tests.test_views_support import fresh

merchant = support.merchant

PURCHASE = {"trigger": "product.purchased"}


@pytest.fixture
def second(engine, icontact):
    """Another integration whose label sorts before "Main iContact"."""
    return engine.connect("acme", label="Backup", username=USERNAME, password="app-password-1")


def chosen(integration, **extra):
    return {**PURCHASE, "integration_id": integration.id, "action": "add", **extra}


def test_step_one_lists_the_nine_triggers_with_their_descriptions(merchant, integration):
    dialog = merchant.get("addon.new_rule", htmx=True).text
    for trigger in TRIGGERS:
        assert f'value="{trigger.name}"' in dialog
        assert trigger.title in dialog and escape(trigger.description) in dialog
    assert "Next Step" in dialog and "Step 1 of 3" in dialog


def test_step_two_needs_a_trigger(merchant, integration):
    answer = merchant.get("addon.new_rule", htmx=True, step="integration")
    assert answer.status_code == 422
    assert "Choose when the rule should run." in answer.text and "Step 1 of 3" in answer.text


def test_step_two_offers_integrations_sorted_by_label_and_both_actions(
    merchant, integration, second
):
    dialog = merchant.get("addon.new_rule", htmx=True, step="integration", **PURCHASE).text
    assert dialog.index(">Backup<") < dialog.index(">Main iContact<")
    assert "Add Subscriber to List" in dialog and "Remove Subscriber from List" in dialog
    assert 'type="hidden" name="trigger" value="product.purchased"' in dialog


def test_step_three_lists_the_cached_lists_with_a_refresh_button(merchant, integration):
    dialog = merchant.get("addon.new_rule", htmx=True, step="list", **chosen(integration)).text
    for name in ("Customers", "Refunds", "Abandoned Carts"):
        assert f">{name}</option>" in dialog
    assert 'id="addon-refresh-lists"' in dialog and "Or type a list name" in dialog


def test_step_three_sends_an_incomplete_choice_back_to_step_two(merchant, integration):
    answer = merchant.get("addon.new_rule", htmx=True, step="list", **PURCHASE)
    assert answer.status_code == 422 and "Step 2 of 3" in answer.text
    assert "Choose the integration to use." in answer.text


def test_every_step_is_a_page_of_its_own_on_reload(merchant, integration):
    for step, args in (("trigger", {}), ("integration", PURCHASE), ("list", chosen(integration))):
        page = merchant.get("addon.new_rule", step=step, **args)
        assert page.status_code == 200
        assert "<html" in page.text and "Global Rules" in page.text and "<dialog" in page.text


def test_submit_adds_a_global_rule_that_appears_in_the_list(
    merchant, engine, icontact, integration
):
    data = chosen(integration, list_id=list_id(icontact, "Customers"))
    answer = merchant.post("addon.new_rule", data, step="list")
    assert answer.status_code == 200 and answer.headers["HX-Retarget"] == "#addon-screen"
    assert answer.headers["HX-Push-Url"] == "/integrations/rules"
    assert "Added the rule." in answer.text and "<dialog" not in answer.text
    assert "Product Purchased" in answer.text and "Customers" in answer.text
    rule = engine.db.session.scalar(select(Rule))
    assert rule.product_id is None and rule.list_name == "Customers"


def test_a_product_rule_is_added_on_the_products_tab(merchant, engine, icontact, integration):
    data = chosen(integration, list_name="refunds")
    answer = merchant.post("addon.new_rule", data, step="list", product_id="101")
    assert answer.status_code == 200
    assert answer.headers["HX-Push-Url"] == "/integrations/products/101"
    assert "Product Integrations" in answer.text and "Refunds" in answer.text
    rule = engine.db.session.scalar(select(Rule))
    assert rule.product_id == "101" and rule.list_id == list_id(icontact, "Refunds")


def test_a_list_created_in_icontact_since_is_found_by_name(merchant, engine, icontact, integration):
    icontact.add_list(icontact.accounts[USERNAME], {"name": "VIP"})
    answer = merchant.post("addon.new_rule", chosen(integration, list_name="VIP"), step="list")
    assert answer.status_code == 200
    assert engine.db.session.scalar(select(Rule)).list_id == list_id(icontact, "VIP")


def test_typed_list_that_does_not_exist_offers_to_create_it(
    merchant, engine, icontact, integration
):
    answer = merchant.post(
        "addon.new_rule", chosen(integration, list_name="VIP Buyers"), step="list"
    )
    assert answer.status_code == 422
    assert "has no list named “VIP Buyers”" in answer.text
    assert 'name="create_list" value="VIP Buyers"' in answer.text
    assert engine.db.session.scalar(select(Rule)) is None

    data = chosen(integration, list_name="VIP Buyers", create_list="VIP Buyers")
    answer = merchant.post("addon.new_rule", data, step="list")
    assert answer.status_code == 200
    rule = engine.db.session.scalar(select(Rule))
    assert rule.list_name == "VIP Buyers" and rule.list_id == list_id(icontact, "VIP Buyers")


def test_no_list_at_all_is_an_error_next_to_the_field(merchant, integration):
    answer = merchant.post("addon.new_rule", chosen(integration), step="list")
    assert answer.status_code == 422
    assert 'id="addon-list_name-error"' in answer.text
    assert "Choose a list, or type the name of one." in answer.text


def test_list_refresh_answers_the_dropdown_with_the_new_list_kept_selected(
    merchant, icontact, integration
):
    customers = list_id(icontact, "Customers")
    icontact.add_list(icontact.accounts[USERNAME], {"name": "Fresh List"})
    answer = merchant.post(
        "addon.refresh_list_picker", {"list_id": customers}, integration_id=integration.id
    )
    assert answer.status_code == 200
    assert 'id="addon-list-picker"' in answer.text and ">Fresh List</option>" in answer.text
    assert f'<option selected value="{customers}">' in answer.text
    assert "4 lists in Main iContact" in answer.text


def test_edit_reopens_the_wizard_filled_in_and_saves(merchant, engine, icontact, integration):
    rule = engine.add_rule(
        "acme",
        trigger="product.refunded",
        integration_id=integration.id,
        action="remove",
        list_name="Customers",
        product_id="102",
    )
    step1 = merchant.get("addon.edit_rule", htmx=True, rule_id=rule.id).text
    assert "Edit Rule" in step1
    assert re.search(r'<input[^>]* checked [^>]*value="product.refunded"', step1)
    step3 = merchant.get(
        "addon.edit_rule",
        htmx=True,
        rule_id=rule.id,
        step="list",
        trigger="product.refunded",
        integration_id=integration.id,
        action="remove",
    ).text
    assert f'<option selected value="{list_id(icontact, "Customers")}">' in step3

    data = {
        "trigger": "product.partially_refunded",
        "integration_id": integration.id,
        "action": "remove",
        "list_id": list_id(icontact, "Refunds"),
    }
    answer = merchant.post("addon.edit_rule", data, rule_id=rule.id, step="list")
    assert answer.status_code == 200 and "Saved the rule." in answer.text
    assert answer.headers["HX-Push-Url"] == "/integrations/products/102"
    saved = fresh(engine, Rule, rule.id)
    assert saved.trigger == "product.partially_refunded" and saved.list_name == "Refunds"
    assert saved.product_id == "102"


def test_delete_rule_asks_then_removes_it(merchant, engine, integration):
    rule = customers_rule(engine, integration)
    dialog = merchant.get("addon.delete_rule", htmx=True, rule_id=rule.id).text
    assert "Delete this rule?" in dialog and "Product Purchased" in dialog
    answer = merchant.post("addon.delete_rule", rule_id=rule.id)
    assert answer.status_code == 200 and "Deleted the rule." in answer.text
    assert fresh(engine, Rule, rule.id) is None


def test_product_tab_lists_only_that_products_rules(merchant, engine, integration):
    for product_id, list_name in (("101", "Customers"), ("102", "Refunds"), (None, "Customers")):
        engine.add_rule(
            "acme",
            trigger="product.purchased",
            integration_id=integration.id,
            action="add",
            list_name=list_name,
            product_id=product_id,
        )
    fragment = merchant.get("addon.product_tab", htmx=True, product_id="101").text
    assert fragment.lstrip().startswith('<div id="addon-screen"')
    assert "Single-Origin Sampler" in fragment and "Customers" in fragment
    assert "Refunds" not in fragment
    assert "1 <a" in fragment and "global rule</a> also applies" in fragment


def test_the_embedded_tab_does_not_push_urls_into_the_hosts_history(merchant, integration):
    host_page = {"HX-Current-URL": "http://localhost/merchant/products/101"}
    embedded = merchant.get("addon.product_tab", htmx=True, product_id="101", headers=host_page)
    assert 'hx-push-url="false"' in embedded.text and 'hx-push-url="true"' not in embedded.text
    standalone = merchant.get("addon.product_tab", htmx=True, product_id="101")
    assert 'hx-push-url="true"' in standalone.text


def test_unknown_product_is_not_found(merchant, integration):
    assert merchant.get("addon.product_tab", product_id="999").status_code == 404
    assert merchant.get("addon.new_rule", product_id="999").status_code == 404


def test_an_add_rule_may_ask_customers_to_confirm_first(merchant, engine, icontact, integration):
    dialog = merchant.get("addon.new_rule", htmx=True, step="list", **chosen(integration)).text
    assert "Ask customers to confirm first (double opt-in)" in dialog
    data = chosen(integration, list_id=list_id(icontact, "Customers"), double_opt_in="y")
    answer = merchant.post("addon.new_rule", data, step="list")
    assert "once they confirm" in answer.text
    rule = engine.db.session.scalar(select(Rule))
    assert rule.double_opt_in is True
    edit = merchant.get("addon.edit_rule", rule_id=rule.id, step="list", **chosen(integration))
    assert re.search(
        r'<input checked id="addon-double-opt-in"|id="addon-double-opt-in"[^>]*checked', edit.text
    )


def test_a_remove_rule_is_not_offered_double_opt_in(merchant, engine, icontact, integration):
    args = chosen(integration, action="remove")
    assert "double opt-in" not in merchant.get("addon.new_rule", step="list", **args).text
    data = {**args, "list_id": list_id(icontact, "Customers"), "double_opt_in": "y"}
    merchant.post("addon.new_rule", data, step="list")
    assert engine.db.session.scalar(select(Rule)).double_opt_in is False


def test_a_provider_that_cannot_ask_is_not_offered_double_opt_in(
    merchant, integration, monkeypatch
):
    from dataclasses import replace

    from addon.providers import PROVIDERS

    monkeypatch.setitem(PROVIDERS, "icontact", replace(PROVIDERS["icontact"], double_opt_in=False))
    dialog = merchant.get("addon.new_rule", htmx=True, step="list", **chosen(integration)).text
    assert "double opt-in" not in dialog
