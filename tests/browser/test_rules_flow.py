"""A merchant writes rules: one for a product from its page in the storefront (with list Refresh
and a typed list that gets created), and a global one that they edit and delete."""

from __future__ import annotations

import re

from playwright.sync_api import expect

from tests.conftest import USERNAME, list_id


def test_product_rule_with_list_refresh_and_a_typed_list(
    signed_in, live_url, integration, icontact, shot, console
):
    console.expect(422)  # the offer to create the typed list
    page = signed_in
    page.get_by_role("link", name="Single-Origin Sampler").click()
    tab = page.locator("#addon-screen")
    expect(tab.get_by_role("heading", name="Product Integrations")).to_be_visible()
    expect(tab.get_by_text("No rules yet")).to_be_visible()

    tab.get_by_role("link", name="New Rule").click()
    dialog = page.get_by_role("dialog", name="New Rule for Single-Origin Sampler")
    dialog.get_by_label("Product Purchased").check()
    dialog.get_by_role("button", name="Next Step").click()
    expect(dialog.get_by_label("Integration")).to_have_value(str(integration.id))
    expect(dialog.get_by_label("Add Subscriber to List")).to_be_checked()
    dialog.get_by_role("button", name="Next Step").click()

    # A list made in iContact meanwhile appears after Refresh, without leaving the wizard.
    picker = dialog.get_by_label("List", exact=True)
    expect(picker.locator("option")).to_have_count(4)  # "Choose a list…" and three lists
    icontact.add_list(icontact.accounts[USERNAME], {"name": "Summer Promo"})
    dialog.get_by_role("button", name="Refresh").click()
    expect(picker.locator("option", has_text="Summer Promo")).to_have_count(1)
    expect(dialog.get_by_text("4 lists in Main iContact")).to_be_visible()

    # A typed name iContact does not have: offered, then created.
    dialog.get_by_label("Or type a list name").fill("Sampler Buyers")
    dialog.get_by_role("button", name="Submit").click()
    offer = dialog.get_by_role(
        "button", name="Create “Sampler Buyers” in iContact and save the rule"
    )
    expect(offer).to_be_visible()
    shot("offer-to-create-list")
    offer.click()
    expect(page.get_by_role("dialog")).to_have_count(0)
    row = tab.get_by_role("row", name=re.compile("Product Purchased"))
    expect(row).to_contain_text("Sampler Buyers")
    expect(row).to_contain_text("Add Subscriber to List")
    # Embedded in the storefront's product page: the storefront keeps its own URL.
    expect(page).to_have_url(f"{live_url}/merchant/products/101")
    assert "Sampler Buyers" in [item["name"] for item in icontact.lists(USERNAME)]
    shot("product-tab")


def test_global_rule_created_edited_and_deleted(
    signed_in, live_url, integration, icontact, shot, console
):
    console.expect(422)  # Submit without a list
    page = signed_in
    page.goto(f"{live_url}/integrations/")
    page.get_by_role("link", name="Global Rules").click()
    expect(page).to_have_url(f"{live_url}/integrations/rules")
    expect(page.get_by_role("link", name="Global Rules")).to_have_attribute("aria-current", "page")

    page.get_by_role("link", name="New Rule").click()
    dialog = page.get_by_role("dialog", name="New Rule (global)")
    dialog.get_by_role("button", name="Next Step").click()  # nothing chosen: the browser asks
    expect(page).to_have_url(f"{live_url}/integrations/rules/new")
    dialog.get_by_label("Product Refunded").check()
    dialog.get_by_role("button", name="Next Step").click()
    expect(page).to_have_url(re.compile(r"/integrations/rules/new/integration\?trigger="))
    dialog.get_by_label("Remove Subscriber from List").check()
    dialog.get_by_role("button", name="Next Step").click()
    dialog.get_by_role("button", name="Submit").click()  # no list yet
    expect(dialog.get_by_text("Choose a list, or type the name of one.")).to_be_visible()
    dialog.get_by_label("List", exact=True).select_option(label="Customers")
    dialog.get_by_role("button", name="Submit").click()
    expect(page.get_by_role("dialog")).to_have_count(0)
    expect(page).to_have_url(f"{live_url}/integrations/rules")
    row = page.get_by_role("row", name=re.compile("Product Refunded"))
    expect(row).to_contain_text("Remove Subscriber from List")
    expect(row).to_contain_text("Customers")

    # Edit reopens the wizard filled in; the reload of a step shows the same step.
    row.get_by_role("link", name=re.compile("^Edit rule")).click()
    dialog = page.get_by_role("dialog", name="Edit Rule")
    expect(dialog.get_by_label("Product Refunded")).to_be_checked()
    dialog.get_by_label("Product Partially Refunded").check()
    dialog.get_by_role("button", name="Next Step").click()
    expect(dialog.get_by_label("Remove Subscriber from List")).to_be_checked()
    page.reload()
    dialog = page.get_by_role("dialog", name="Edit Rule")
    expect(dialog.get_by_label("Remove Subscriber from List")).to_be_checked()
    dialog.get_by_role("button", name="Next Step").click()
    # The rule's list is selected, as before.
    expect(dialog.get_by_label("List", exact=True)).to_have_value(list_id(icontact, "Customers"))
    dialog.get_by_label("List", exact=True).select_option(label="Refunds")
    shot("edit-rule-list-step")
    dialog.get_by_role("button", name="Submit").click()
    expect(page.get_by_role("dialog")).to_have_count(0)
    row = page.get_by_role("row", name=re.compile("Product Partially Refunded"))
    expect(row).to_contain_text("Refunds")
    expect(page.get_by_text("Saved the rule.")).to_be_visible()

    row.get_by_role("link", name=re.compile("^Delete rule")).click()
    dialog = page.get_by_role("dialog", name="Delete this rule?")
    dialog.get_by_role("button", name="Delete Rule").click()
    expect(page.get_by_role("dialog")).to_have_count(0)
    expect(page.get_by_text("No rules yet")).to_be_visible()

    # Back and forward through tabs: each URL shows its screen.
    page.get_by_role("link", name="Logs").click()
    expect(page).to_have_url(f"{live_url}/integrations/logs")
    page.go_back()
    expect(page).to_have_url(f"{live_url}/integrations/rules")
    expect(page.get_by_role("heading", name="Global Rules")).to_be_visible()
    shot("global-rules")


def test_a_step_answered_with_errors_keeps_the_policy_when_the_browser_styled_its_fields(
    signed_in, live_url, integration, console
):
    """Browsers and their extensions (autofill, password managers) style form fields through
    the DOM. htmx once copied those styles onto the fields of the answer, an inline style that
    the screens' Content-Security-Policy refuses: five violations for each 422."""
    console.expect(422)
    page = signed_in
    response = page.goto(f"{live_url}/integrations/rules/new")
    assert "style-src 'self'" in response.headers["content-security-policy"]
    dialog = page.get_by_role("dialog", name="New Rule (global)")
    dialog.get_by_label("Product Purchased").check()
    dialog.get_by_role("button", name="Next Step").click()
    dialog.get_by_role("button", name="Next Step").click()
    expect(dialog.get_by_label("List", exact=True)).to_be_visible()
    page.evaluate(
        "document.querySelectorAll('#addon-dialog [id]')"
        ".forEach(field => { field.style.backgroundColor = 'rgb(232, 240, 254)'; })"
    )
    dialog.get_by_role("button", name="Submit").click()
    expect(dialog.get_by_text("Choose a list, or type the name of one.")).to_be_visible()
    # The answer's fields are the server's, unstyled.
    assert page.evaluate("document.querySelectorAll('#addon-dialog [style]').length") == 0
