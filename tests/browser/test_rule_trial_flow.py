"""A merchant tests a rule before trusting it: a dry run for a customer shows the calls it would
make, then Send to a test contact applies it for real (issue 17 §3)."""

from __future__ import annotations

import re

from playwright.sync_api import expect

from tests.conftest import list_id


def test_dry_run_then_send_to_a_test_contact(signed_in, live_url, purchase_rule, icontact, shot):
    page = signed_in
    page.goto(f"{live_url}/integrations/rules")
    row = page.get_by_role("row", name=re.compile("Product Purchased"))
    row.get_by_role("link", name=re.compile("^Test rule")).click()
    dialog = page.get_by_role("dialog", name="Test this rule")
    expect(dialog).to_be_visible()

    dialog.get_by_label("Customer email").fill("jane@example.com")
    dialog.get_by_role("button", name="Dry run").click()
    plan = dialog.locator(".addon-plan > li")
    expect(plan).to_have_count(4)
    expect(plan.nth(0)).to_contain_text("GET /a/")
    expect(plan.nth(2)).to_contain_text("Create the contact, only if the lookup finds no contact")
    expect(plan.nth(3)).to_contain_text("POST /a/")
    expect(plan.nth(3)).to_contain_text('"status": "normal"')
    shot("dry-run")
    assert icontact.subscribers(list_id(icontact, "Customers")) == {}

    dialog.get_by_label("Test contact email").fill("me@example.com")
    dialog.get_by_role("button", name="Send to a test contact").click()
    result = dialog.get_by_role("status")
    expect(result).to_contain_text("Sent to me@example.com")
    expect(result).to_contain_text("Success")
    expect(result).to_contain_text("HTTP 200")
    shot("test-send")
    assert icontact.subscribers(list_id(icontact, "Customers")) == {"me@example.com": "normal"}

    page.keyboard.press("Escape")
    expect(page.get_by_role("dialog")).to_have_count(0)
    expect(page).to_have_url(f"{live_url}/integrations/rules")
