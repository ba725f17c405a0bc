"""Without JavaScript every screen still works: what htmx does in place, a plain link or form
does with a page of its own. (The flows, clicked through in Chromium with JavaScript off, are in
tests/browser/test_without_javascript.py.)"""

from __future__ import annotations

import json
import re

import pytest
from flask import url_for
from sqlalchemy import func, select

from addon.store.models import Delivery, Rule
from tests import test_views_support as support
from tests.conftest import USERNAME, configure, list_id, purchase

merchant = support.merchant


def plain_post(merchant, endpoint: str, data: dict, **values):
    """A browser's form post: the CSRF token in the form, no htmx headers."""
    return merchant.post(
        endpoint, {**data, "csrf_token": merchant.token}, htmx=False, csrf=False, **values
    )


def link_to(page: str, text: str) -> str:
    """The href of the link whose text contains ``text``."""
    for href, inner in re.findall(r'<a [^>]*href="([^"]*)"[^>]*>(.*?)</a>', page, re.S):
        if text in inner:
            return href.replace("&amp;", "&")
    raise AssertionError(f"no link {text!r}")


@pytest.fixture
def failed(engine, purchase_rule, icontact, run_jobs):
    """Acme's log: ann delivered, then bob and cy failed (their list was deleted)."""
    purchase(engine, "ann@example.com")
    run_jobs()
    icontact.delete_list(list_id(icontact, "Customers"))
    purchase(engine, "bob@example.com")
    purchase(engine, "cy@example.com")
    run_jobs()
    return engine.db.session.scalars(
        select(Delivery).where(Delivery.status == "failed").order_by(Delivery.id)
    ).all()


# -- a product's Integrations tab -------------------------------------------------------------


def test_the_product_page_offers_its_tab_as_a_link_and_loads_the_add_ons_own_files(
    client, merchant
):
    page = client.get("/merchant/products/101").text
    noscript = " ".join(re.findall(r"<noscript>(.*?)</noscript>", page, re.S))
    assert link_to(noscript, "Open this product") == "/integrations/products/101"
    # What only a script fills is hidden without one.
    assert 'class="muted demo-js-only">Loading' in page
    assert "demo-nojs.css" in page
    # The add-on's assets in a host page are the add-on's, not the host's static files.
    assets = re.findall(r'(?:href|src)="(/[^"]*\.(?:css|js))"', page)
    assert "/integrations/static/addon/addon.css" in assets
    for asset in assets:
        assert client.get(asset).status_code == 200, asset


def test_the_tab_as_a_page_names_the_product_and_leads_back_to_the_host_page(merchant):
    page = merchant.get("addon.product_tab", product_id="101").text
    assert '<h1 class="addon-title">Single-Origin Sampler</h1>' in page
    assert link_to(page, "Back to Single-Origin Sampler") == "/merchant/products/101"
    # Embedded in the product page (htmx), the tab is the screen alone: the page has the rest.
    fragment = merchant.get("addon.product_tab", htmx=True, product_id="101").text
    assert "<h1" not in fragment and "Back to" not in fragment


@pytest.mark.parametrize("endpoint", [None, "no_such_endpoint"])
def test_without_a_product_page_to_go_back_to_the_tab_has_no_way_back(app, merchant, endpoint):
    """No ADDON_PRODUCT_ENDPOINT, or one that the app does not have."""
    configure(app, ADDON_PRODUCT_ENDPOINT=endpoint)
    page = merchant.get("addon.product_tab", product_id="101")
    assert page.status_code == 200
    assert '<h1 class="addon-title">Single-Origin Sampler</h1>' in page.text
    assert "Back to Single-Origin Sampler" not in page.text


# -- the rule wizard's list Refresh -----------------------------------------------------------


def test_list_refresh_submits_the_step_and_answers_it_whole_with_the_choices_kept(
    engine, merchant, integration, icontact
):
    icontact.add_list(icontact.accounts[USERNAME], {"name": "Summer Promo"})
    step = {"trigger": "product.purchased", "integration_id": integration.id, "action": "add"}
    answer = plain_post(
        merchant,
        "addon.new_rule",
        {**step, "list_id": "", "list_name": "Summer", "refresh": "lists"},
        step="list",
    )
    assert answer.status_code == 200
    assert "<html" in answer.text and "Global Rules" in answer.text  # the whole page
    assert ">Summer Promo</option>" in answer.text and "4 lists in Main iContact" in answer.text
    assert 'name="list_name" type="text" value="Summer"' in answer.text
    assert engine.db.session.scalar(select(func.count()).select_from(Rule)) == 0
    # Enter in a field presses the step's Submit, which comes before Refresh in the form.
    form = answer.text[answer.text.index('<form class="addon-form" method="post"') :]
    first_submit = re.search(r'<button [^>]*type="submit"[^>]*>', form).group(0)
    assert "addon-default-button" in first_submit and "name=" not in first_submit


def test_a_list_refresh_that_icontact_refuses_says_so_in_the_step(merchant, integration, icontact):
    icontact.change_password(USERNAME, "changed-in-icontact")
    step = {"trigger": "product.purchased", "integration_id": integration.id, "action": "add"}
    answer = plain_post(merchant, "addon.new_rule", {**step, "refresh": "lists"}, step="list")
    assert answer.status_code == 200
    assert 'class="addon-row-error"' in answer.text and "<html" in answer.text


# -- Logs ---------------------------------------------------------------------------------


def test_an_opened_entry_offers_its_details_as_a_page_that_keeps_the_search(merchant, failed):
    page = merchant.get("addon.logs", status="failed", q="example").text
    assert "Loading details" not in page
    detail = link_to(page, "What was sent and answered")
    assert detail == url_for(
        "addon.log_entry", entry_id=failed[-1].id, q="example", status="failed"
    )

    entry = merchant.client.get(detail).text
    assert "Why it failed." in entry and "What was sent, and the answers" in entry
    assert link_to(entry, "Back to the search") == url_for(
        "addon.logs", q="example", status="failed"
    )


def test_the_details_page_leads_back_to_the_same_page_of_results_and_drops_a_bad_filter(
    merchant, failed
):
    entry = merchant.get(
        "addon.log_entry", entry_id=failed[0].id, status="failed", page=2, integration_id="x"
    ).text
    assert link_to(entry, "Back to the search") == url_for("addon.logs", status="failed", page=2)
    plain = merchant.get("addon.log_entry", entry_id=failed[0].id).text
    assert link_to(plain, "All logs") == url_for("addon.logs")


def test_refresh_logs_is_a_link_to_the_same_search(merchant, failed):
    page = merchant.get("addon.logs", q="bob", status="failed").text
    refresh = re.search(r'<a [^>]*id="addon-refresh-logs"[^>]*>', page).group(0)
    assert f'href="{url_for("addon.logs", q="bob", status="failed")}"' in refresh.replace(
        "&amp;", "&"
    )


# -- what only a script can do waits for it -------------------------------------------------


def test_the_copy_button_comes_hidden_for_the_script_to_show(merchant, icontact):
    page = merchant.get("addon.configure_integration", provider="icontact").text
    button = re.search(r"<button [^>]*data-addon-copy[^>]*>", page).group(0)
    assert " hidden" in button


def test_htmx_is_told_to_write_no_inline_style(merchant):
    """A strict Content-Security-Policy refuses inline styles: htmx adds no indicator <style>,
    and does not copy a style attribute onto the fields it swaps in."""
    page = merchant.get("addon.settings").text
    meta = re.search(r"<meta name=\"htmx-config\" content='([^']*)'>", page).group(1)
    config = json.loads(meta)
    assert config["includeIndicatorStyles"] is False
    assert "style" not in config["attributesToSettle"]
