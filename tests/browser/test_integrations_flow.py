"""A merchant connects iContact through the wizard, then edits, refreshes and deletes it."""

from __future__ import annotations

import re

from playwright.sync_api import expect

from tests.conftest import APP_ID, PASSWORD, USERNAME, customers_rule


def test_connect_through_the_wizard_failing_once_with_a_wrong_password(
    signed_in, live_url, icontact, shot, context, console
):
    console.expect(422)  # the refused password
    page = signed_in
    context.grant_permissions(["clipboard-read", "clipboard-write"], origin=live_url)
    page.get_by_role("link", name="Integrations", exact=True).first.click()
    expect(page.get_by_role("heading", name="Integration Setup")).to_be_visible()
    expect(page.get_by_text("No integrations yet")).to_be_visible()

    # Escape closes the dialog and gives focus back to the button that opened it.
    opener = page.get_by_role("link", name="New Integration")
    opener.click()
    dialog = page.get_by_role("dialog", name="New Integration")
    expect(dialog).to_be_visible()
    expect(page).to_have_url(f"{live_url}/integrations/new")
    page.keyboard.press("Escape")
    expect(dialog).to_have_count(0)
    expect(page).to_have_url(f"{live_url}/integrations/")
    expect(opener).to_be_focused()

    opener.click()
    expect(dialog.get_by_label("iContact")).to_be_checked()
    dialog.get_by_role("button", name="Next Step").click()
    expect(page).to_have_url(f"{live_url}/integrations/new/icontact")
    expect(dialog.get_by_text(APP_ID)).to_be_visible()
    dialog.get_by_role("button", name="Copy the App ID").click()
    expect(dialog.get_by_text("Copied")).to_be_visible()
    assert page.evaluate("navigator.clipboard.readText()") == APP_ID

    # Tab stays inside the dialog.
    for _ in range(12):
        page.keyboard.press("Tab")
        assert page.evaluate("document.querySelector('dialog').contains(document.activeElement)")

    dialog.get_by_label("Integration label").fill("Main iContact")
    dialog.get_by_label("iContact username").fill(USERNAME)
    dialog.get_by_label("Application password").fill("my-login-password")
    dialog.get_by_role("button", name="Save Integration").click()
    expect(
        dialog.get_by_text("did not accept that username and application password")
    ).to_be_visible()
    expect(dialog.get_by_label("Integration label")).to_have_value("Main iContact")
    expect(dialog.get_by_label("iContact username")).to_have_value(USERNAME)
    expect(dialog.get_by_label("Application password")).to_have_value("")
    expect(dialog.get_by_label("Application password")).to_be_focused()
    shot("wrong-password")

    # While iContact is checked, a progress indicator shows and the buttons are disabled.
    icontact.faults.update(latency=0.3)
    dialog.get_by_label("Application password").fill(PASSWORD)
    save = dialog.get_by_role("button", name="Save Integration")
    save.click()
    expect(dialog.get_by_text("Checking with iContact…")).to_be_visible()
    expect(save).to_be_disabled()
    expect(page.get_by_role("dialog")).to_have_count(0)
    expect(page).to_have_url(f"{live_url}/integrations/")
    row = page.get_by_role("row", name=re.compile("Main iContact"))
    expect(row).to_contain_text("Connected")
    expect(row).to_contain_text("3 lists")
    expect(page.get_by_role("status").filter(has_text="Connected 'Main iContact'")).to_be_visible()
    shot("connected")


def test_edit_refresh_and_delete_an_integration(
    signed_in, live_url, engine, integration, icontact, shot
):
    customers_rule(engine, integration, product_id="101")
    page = signed_in
    page.goto(f"{live_url}/integrations/")
    row = page.get_by_role("row", name=re.compile("Main iContact"))
    expect(row).to_contain_text("3 lists")

    icontact.add_list(icontact.accounts[USERNAME], {"name": "Newsletter"})
    refresh = row.get_by_role("button", name="Refresh the lists of Main iContact")
    refresh.click()
    expect(row).to_contain_text("4 lists")
    expect(row).to_contain_text("Lists refreshed: 4.")
    expect(refresh).to_be_focused()

    row.get_by_role("link", name="Edit Main iContact").click()
    dialog = page.get_by_role("dialog", name="Edit Main iContact")
    expect(dialog.get_by_label("New application password")).to_have_value("")
    dialog.get_by_label("Integration label").fill("Coffee Club")
    dialog.get_by_role("button", name="Save Changes").click()
    expect(page.get_by_role("dialog")).to_have_count(0)
    row = page.get_by_role("row", name=re.compile("Coffee Club"))
    expect(row).to_contain_text("Connected")
    shot("edited")

    row.get_by_role("link", name="Delete Coffee Club").click()
    dialog = page.get_by_role("dialog", name="Delete Coffee Club?")
    expect(dialog).to_contain_text("This rule uses Coffee Club and will be deleted with it")
    expect(dialog).to_contain_text("Product Purchased")
    expect(dialog).to_contain_text("Single-Origin Sampler")
    expect(dialog.get_by_role("link", name="Cancel")).to_be_focused()
    shot("delete-confirmation")
    dialog.get_by_role("button", name="Delete integration and 1 rule").click()
    expect(page.get_by_role("dialog")).to_have_count(0)
    expect(page.get_by_text("No integrations yet")).to_be_visible()
    expect(
        page.get_by_role("status").filter(has_text="Deleted 'Coffee Club' and 1 rule.")
    ).to_be_visible()


def test_a_dialog_is_modal_from_the_moment_it_arrives_and_escape_closes_it_in_place(
    signed_in, live_url
):
    """htmx finishes with new content only after its settle delay. A dialog must be a modal,
    and its Close link htmx's, from the swap on: pressed in between, Escape once did nothing
    (a plain open box) or followed the link with a full page load (focus lost)."""
    page = signed_in
    page.get_by_role("link", name="Integrations", exact=True).first.click()
    expect(page.get_by_role("heading", name="Integration Setup")).to_be_visible()
    # The scripts are deferred: the heading can show before htmx has run, but not after
    # DOMContentLoaded. (Not wait_for_function: the page's CSP forbids the string evaluation
    # it polls with, and it failed now and then.)
    page.wait_for_load_state("domcontentloaded")
    page.evaluate("htmx.config.defaultSettleDelay = 2000; window.samePage = true")

    opener = page.get_by_role("link", name="New Integration")
    opener.click()
    dialog = page.get_by_role("dialog", name="New Integration")
    expect(dialog).to_be_visible()
    assert page.evaluate("document.querySelector('dialog').matches(':modal')")
    page.keyboard.press("Escape")
    expect(dialog).to_have_count(0)
    expect(page).to_have_url(f"{live_url}/integrations/")
    expect(opener).to_be_focused(timeout=5000)
    assert page.evaluate("window.samePage === true")  # no full page load


def test_typing_before_the_script_arrives_stays_in_the_field_typed_in(
    signed_in, live_url, integration
):
    """On a slow connection the Edit page shows its dialog before the script has come: a
    merchant already typing the new password must not see the rest land in the label when the
    script makes the dialog modal."""
    page = signed_in
    held = []
    page.route("**/addon/addon.js", lambda route: held.append(route))
    page.goto(f"{live_url}/integrations/{integration.id}/edit", wait_until="commit")
    dialog = page.locator("dialog")
    password = dialog.get_by_label("New application password")
    password.fill("app-password-2")
    page.wait_for_timeout(50)  # the held script's route reaches this side
    assert held, "the script was requested"
    held[0].continue_()
    expect(dialog).to_have_js_property("open", True)
    expect(page.locator("dialog:modal")).to_have_count(1)
    page.keyboard.type("!")
    expect(password).to_have_value("app-password-2!")
    expect(dialog.get_by_label("Integration label")).to_have_value("Main iContact")
    expect(password).to_be_focused()


def test_typing_before_htmx_settles_the_dialog_stays_in_the_field_typed_in(
    signed_in, live_url, integration
):
    """htmx focuses [autofocus] when it settles a swap, a moment after the dialog is shown: on a
    busy machine a merchant (or a test) already typing the new password lost the rest of it to
    the label. The settle is slowed here so that the moment is long enough to type in."""
    page = signed_in
    page.goto(f"{live_url}/integrations/")
    page.evaluate("htmx.config.defaultSettleDelay = 1500")
    page.get_by_role("link", name="Edit Main iContact").click()
    dialog = page.get_by_role("dialog", name="Edit Main iContact")
    expect(dialog).to_be_visible()
    password = dialog.get_by_label("New application password")
    password.fill("app-password-2")
    settling = page.evaluate("document.querySelector('.htmx-settling') !== null")
    assert settling, "typed before the swap settled"
    expect(page.locator(".htmx-settling")).to_have_count(0, timeout=5000)
    page.keyboard.type("!")
    expect(password).to_have_value("app-password-2!")
    expect(dialog.get_by_label("Integration label")).to_have_value("Main iContact")
    expect(password).to_be_focused()
