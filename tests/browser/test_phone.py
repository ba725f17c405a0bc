"""On a phone (360 and 390 px wide) nothing scrolls sideways and every action is in reach:
tables become cards, the log's rows stack, the filters wrap."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from tests.conftest import list_id, purchase


def phone(width: int):
    return pytest.param(
        width,
        marks=pytest.mark.browser_context_args(viewport={"width": width, "height": 780}),
        id=f"{width}px",
    )


@pytest.fixture
def busy_merchant(engine, integration, purchase_rule, icontact, run_jobs):
    """Acme with rules, a long email address among its customers, and a failed entry."""
    engine.add_rule(
        "acme",
        trigger="subscription.canceled",
        integration_id=integration.id,
        action="remove",
        list_name="Abandoned Carts",
        product_id="101",
    )
    purchase(engine, "a.customer.with.a.rather.long.address@example-company.com")
    purchase(engine, "bob@example.com", product_id="102")
    run_jobs()
    icontact.delete_list(list_id(icontact, "Customers"))
    purchase(engine, "cy@example.com")
    run_jobs()


@pytest.mark.parametrize("width", [phone(360), phone(390)])
def test_the_three_tabs_and_a_products_tab_fit_the_phone(
    width, signed_in, live_url, busy_merchant, no_overflow, shot
):
    page = signed_in
    page.goto(f"{live_url}/integrations/")
    expect(page.get_by_role("row", name=re.compile("Main iContact"))).to_contain_text("Connected")
    no_overflow()
    shot(f"setup-{width}")

    page.get_by_role("link", name="Global Rules").click()
    expect(page.get_by_role("row", name=re.compile("Product Purchased"))).to_be_visible()
    no_overflow()
    shot(f"global-rules-{width}")

    page.get_by_role("link", name="Logs").click()
    entries = page.locator(".addon-log-entry")
    expect(entries).to_have_count(3)
    entries.first.locator("summary").click()
    expect(entries.first).to_contain_text("Why it failed.")
    no_overflow()
    shot(f"logs-{width}")

    page.goto(f"{live_url}/merchant/products/101")
    tab = page.locator("#addon-screen")
    expect(tab.get_by_role("row", name=re.compile("Subscription Canceled"))).to_be_visible()
    no_overflow()
    shot(f"product-{width}")


@pytest.mark.parametrize("width", [phone(360)])
def test_edit_a_rule_and_retry_on_the_phone(
    width, signed_in, live_url, busy_merchant, icontact, no_overflow, shot
):
    """The cards' buttons work: Edit a rule through its wizard, then Retry all failed."""
    page = signed_in
    page.goto(f"{live_url}/integrations/rules")
    row = page.get_by_role("row", name=re.compile("Product Purchased"))
    row.get_by_role("link", name=re.compile("^Edit rule")).click()
    dialog = page.get_by_role("dialog", name="Edit Rule")
    expect(dialog.get_by_label("Product Purchased")).to_be_checked()
    no_overflow()
    dialog.get_by_role("button", name="Next Step").click()
    dialog.get_by_role("button", name="Next Step").click()
    dialog.get_by_label("List", exact=True).select_option(label="Refunds")
    no_overflow()
    shot("edit-rule-list-step")
    dialog.get_by_role("button", name="Submit").click()
    expect(page.get_by_role("dialog")).to_have_count(0)
    expect(page.get_by_role("row", name=re.compile("Product Purchased"))).to_contain_text("Refunds")

    page.get_by_role("link", name="Logs").click()
    page.get_by_role("button", name="Retry all failed (1)").click()
    expect(page.get_by_text("Queued 1 failed entry again.")).to_be_visible()
    no_overflow()


@pytest.mark.parametrize("width", [phone(360)])
def test_a_rule_test_keeps_its_summary_and_results_inside_the_dialog_margins(
    width, signed_in, live_url, purchase_rule, no_overflow, shot
):
    page = signed_in
    page.goto(f"{live_url}/integrations/rules/{purchase_rule.id}/test")
    dialog = page.get_by_role("dialog", name="Test this rule")
    dialog.get_by_role("button", name="Dry run").click()
    expect(dialog.locator(".addon-plan > li").first).to_be_visible()
    dialog.get_by_label("Test contact email").fill("me@example.com")
    dialog.get_by_role("button", name="Send to a test contact").click()
    expect(dialog.get_by_role("status")).to_contain_text("Sent to me@example.com")
    no_overflow()
    shot(f"rule-test-{width}")
    # The label's left edge is the dialog's inset: the text outside its forms keeps it too.
    inset = dialog.get_by_text("Test contact email", exact=True).bounding_box()["x"]
    for part in (dialog.locator("> p").first, dialog.locator(".addon-trial").first):
        assert part.bounding_box()["x"] >= inset - 1


@pytest.mark.parametrize("width", [phone(360)])
def test_entries_that_arrive_while_the_logs_are_open_join_the_list_and_its_count(
    width, signed_in, live_url, engine, purchase_rule, run_jobs, no_overflow, shot
):
    page = signed_in
    page.goto(f"{live_url}/integrations/logs")
    entries = page.locator(".addon-log-entry")
    purchase(engine, "first@example.com", event_id="p-1")
    run_jobs()
    expect(entries).to_have_count(1, timeout=15_000)  # the poll asks every 5 s
    purchase(engine, "second@example.com", event_id="p-2")
    run_jobs()
    expect(entries).to_have_count(2, timeout=15_000)
    expect(entries.first).to_contain_text("second@example.com")
    expect(page.locator("#addon-log-summary")).to_contain_text("2 entries")
    page.mouse.move(0, 0)
    no_overflow()
    shot(f"logs-polled-{width}")
