"""With JavaScript off, every flow works as plain HTML: links, GET forms for the wizards' steps
and filters, POST forms that redirect with a notice. Dialogs arrive open, over their screen."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from addon.web.views import logs as log_views
from tests.conftest import PASSWORD, USERNAME, list_id, purchase

pytestmark = pytest.mark.browser_context_args(java_script_enabled=False)


def notice(page, text: str):
    """The storefront's flashed message (the add-on flashes after a plain form post)."""
    return page.get_by_role("status").filter(has_text=text)


def test_connect_refresh_and_edit_an_integration(signed_in, live_url, icontact, console):
    console.expect(422)  # the refused password
    page = signed_in
    page.get_by_role("link", name="Integrations", exact=True).first.click()
    page.get_by_role("link", name="New Integration").click()
    expect(page).to_have_url(f"{live_url}/integrations/new")
    dialog = page.get_by_role("dialog", name="New Integration")
    expect(dialog.get_by_label("iContact")).to_be_checked()
    dialog.get_by_role("button", name="Next Step").click()
    expect(page).to_have_url(f"{live_url}/integrations/new/icontact")
    # Copying needs a script: no button that would do nothing.
    expect(dialog.get_by_text("Copy", exact=True)).to_be_hidden()

    dialog.get_by_label("Integration label").fill("Main iContact")
    dialog.get_by_label("iContact username").fill(USERNAME)
    dialog.get_by_label("Application password").fill("not-it")
    dialog.get_by_role("button", name="Save Integration").click()
    expect(
        dialog.get_by_text("did not accept that username and application password")
    ).to_be_visible()
    expect(dialog.get_by_label("Integration label")).to_have_value("Main iContact")
    dialog.get_by_label("Application password").fill(PASSWORD)
    dialog.get_by_role("button", name="Save Integration").click()

    expect(page).to_have_url(f"{live_url}/integrations/")
    expect(notice(page, "Connected 'Main iContact': 3 lists found.")).to_be_visible()
    row = page.get_by_role("row", name=re.compile("Main iContact"))
    expect(row).to_contain_text("Connected")

    icontact.add_list(icontact.accounts[USERNAME], {"name": "Newsletter"})
    row.get_by_role("button", name="Refresh the lists of Main iContact").click()
    expect(notice(page, "Lists refreshed: 4.")).to_be_visible()
    expect(page.get_by_role("row", name=re.compile("Main iContact"))).to_contain_text("4 lists")

    page.get_by_role("link", name="Edit Main iContact").click()
    dialog = page.get_by_role("dialog", name="Edit Main iContact")
    dialog.get_by_label("Integration label").fill("Coffee Club")
    dialog.get_by_role("button", name="Save Changes").click()
    expect(notice(page, "Saved 'Coffee Club'.")).to_be_visible()
    expect(page.get_by_role("dialog")).to_have_count(0)


def test_write_edit_and_delete_a_rule_with_the_list_refresh(
    signed_in, live_url, integration, icontact, console
):
    page = signed_in
    page.goto(f"{live_url}/integrations/rules")
    page.get_by_role("link", name="New Rule").click()
    dialog = page.get_by_role("dialog", name="New Rule (global)")
    dialog.get_by_label("Product Purchased").check()
    dialog.get_by_role("button", name="Next Step").click()
    expect(dialog.get_by_label("Add Subscriber to List")).to_be_checked()
    dialog.get_by_role("button", name="Next Step").click()
    picker = dialog.get_by_label("List", exact=True)
    expect(picker.locator("option")).to_have_count(4)

    # Refresh is a submit of the step: the whole step comes back with the new list, and what
    # was typed is still there.
    icontact.add_list(icontact.accounts[USERNAME], {"name": "Summer Promo"})
    dialog.get_by_label("Or type a list name").fill("Summer")
    dialog.get_by_role("button", name="Refresh").click()
    dialog = page.get_by_role("dialog", name="New Rule (global)")
    expect(dialog.get_by_text("4 lists in Main iContact")).to_be_visible()
    expect(dialog.get_by_label("List", exact=True).locator("option")).to_have_count(5)
    expect(dialog.get_by_label("Or type a list name")).to_have_value("Summer")

    dialog.get_by_label("Or type a list name").fill("")
    dialog.get_by_label("List", exact=True).select_option(label="Summer Promo")
    dialog.get_by_role("button", name="Submit").click()
    expect(page).to_have_url(f"{live_url}/integrations/rules")
    expect(notice(page, "Added the rule.")).to_be_visible()
    row = page.get_by_role("row", name=re.compile("Product Purchased"))
    expect(row).to_contain_text("Summer Promo")

    row.get_by_role("link", name=re.compile("^Edit rule")).click()
    dialog = page.get_by_role("dialog", name="Edit Rule")
    expect(dialog.get_by_label("Product Purchased")).to_be_checked()
    dialog.get_by_label("Product Refunded").check()
    dialog.get_by_role("button", name="Next Step").click()
    dialog.get_by_label("Remove Subscriber from List").check()
    dialog.get_by_role("button", name="Next Step").click()
    expect(dialog.get_by_label("List", exact=True)).to_have_value(list_id(icontact, "Summer Promo"))
    dialog.get_by_label("List", exact=True).select_option(label="Refunds")
    dialog.get_by_role("button", name="Submit").click()
    expect(notice(page, "Saved the rule.")).to_be_visible()
    row = page.get_by_role("row", name=re.compile("Product Refunded"))
    expect(row).to_contain_text("Remove Subscriber from List")
    expect(row).to_contain_text("Refunds")

    row.get_by_role("link", name=re.compile("^Delete rule")).click()
    page.get_by_role("dialog", name="Delete this rule?").get_by_role(
        "button", name="Delete Rule"
    ).click()
    expect(notice(page, "Deleted the rule.")).to_be_visible()
    expect(page.get_by_text("No rules yet")).to_be_visible()


def test_a_products_tab_opens_as_its_own_page_and_leads_back(
    signed_in, live_url, integration, console
):
    page = signed_in
    page.get_by_role("link", name="Single-Origin Sampler").click()
    expect(page.get_by_text("Loading this product's integrations")).to_be_hidden()
    page.get_by_role("link", name="Open this product's integrations").click()
    expect(page).to_have_url(f"{live_url}/integrations/products/101")
    # The product's name over its tab, in the storefront's layout.
    expect(page.get_by_role("heading", level=1, name="Single-Origin Sampler")).to_be_visible()
    expect(page.get_by_role("link", name="Fire events")).to_be_visible()

    page.get_by_role("link", name="New Rule").click()
    dialog = page.get_by_role("dialog", name="New Rule for Single-Origin Sampler")
    dialog.get_by_label("Product Purchased").check()
    dialog.get_by_role("button", name="Next Step").click()
    dialog.get_by_role("button", name="Next Step").click()
    dialog.get_by_label("List", exact=True).select_option(label="Customers")
    dialog.get_by_role("button", name="Submit").click()
    expect(page).to_have_url(f"{live_url}/integrations/products/101")
    expect(notice(page, "Added the rule.")).to_be_visible()
    expect(page.get_by_role("row", name=re.compile("Product Purchased"))).to_contain_text(
        "Customers"
    )

    page.get_by_role("link", name="Back to Single-Origin Sampler").click()
    expect(page).to_have_url(f"{live_url}/merchant/products/101")


def test_logs_filter_page_open_details_retry_and_retry_all(
    signed_in, live_url, engine, purchase_rule, icontact, run_jobs, monkeypatch, console
):
    monkeypatch.setattr(log_views, "PAGE_SIZE", 2)
    purchase(engine, "ann@example.com")
    purchase(engine, "bob@example.com")
    run_jobs()
    icontact.delete_list(list_id(icontact, "Customers"))
    purchase(engine, "cy@example.com")
    purchase(engine, "dee@example.com")
    run_jobs()

    page = signed_in
    page.goto(f"{live_url}/integrations/logs")
    entries = page.locator(".addon-log-entry")
    expect(page.get_by_text("Page 1 of 2")).to_be_visible()
    page.get_by_role("link", name="Older →").click()
    expect(page.get_by_text("Page 2 of 2")).to_be_visible()
    expect(entries.first).to_contain_text("bob@example.com")

    page.get_by_label("Status").select_option(label="Failed")
    page.get_by_role("button", name="Search").click()
    expect(page).to_have_url(re.compile(r"status=failed"))
    expect(entries).to_have_count(2)
    page.get_by_role("link", name="Refresh Logs").click()
    expect(page).to_have_url(re.compile(r"status=failed"))
    expect(entries).to_have_count(2)

    # An opened entry offers its details as a page, which leads back to this search.
    entries.first.locator("summary").click()
    entries.first.get_by_role("link", name=re.compile("What was sent and answered")).click()
    expect(page).to_have_url(re.compile(r"/integrations/logs/\d+\?status=failed"))
    expect(page.get_by_text("Why it failed.")).to_be_visible()
    expect(page.get_by_text("What was sent, and the answers")).to_be_visible()
    back = page.get_by_role("link", name="← Back to the search")
    expect(back).to_have_attribute("href", re.compile(r"/integrations/logs\?status=failed"))
    page.get_by_role("button", name="Retry").click()
    expect(notice(page, "Queued the entry again.")).to_be_visible()

    page.goto(f"{live_url}/integrations/logs?status=failed")
    expect(entries).to_have_count(1)
    page.get_by_role("button", name="Retry all failed (1)").click()
    expect(notice(page, "Queued 1 failed entry again.")).to_be_visible()
    expect(page).to_have_url(re.compile(r"/integrations/logs"))
    page.goto(f"{live_url}/integrations/logs?status=pending")
    expect(entries).to_have_count(2)
    expect(page.get_by_role("link", name="← Newer")).to_have_count(0)
