"""A merchant fires storefront events from the demo, then finds them in the Logs."""

from __future__ import annotations

import re

from playwright.sync_api import expect

from tests.conftest import customers_rule, list_id, purchase


def fire(page, live_url, email: str, product: str) -> None:
    page.goto(f"{live_url}/merchant/events")
    page.get_by_label("Event", exact=True).select_option(label="Product Purchased")
    page.get_by_label("Customer email").fill(email)
    page.get_by_label("Product", exact=True).select_option(label=product)
    page.get_by_role("button", name="Send event").click()
    expect(page.get_by_text("Event product.purchased sent")).to_be_visible()


def test_fire_events_and_find_them_with_the_log_search(
    signed_in, live_url, engine, integration, icontact, run_jobs, shot
):
    customers_rule(engine, integration)
    page = signed_in
    fire(page, live_url, "ann@example.com", "Single-Origin Sampler")
    fire(page, live_url, "bob@example.com", "Espresso Subscription")
    run_jobs()
    # One more whose list is gone in iContact by the time it runs: it fails.
    icontact.delete_list(list_id(icontact, "Customers"))
    fire(page, live_url, "cy@example.com", "Pour-Over Masterclass")
    run_jobs()

    page.get_by_role("link", name="Integrations", exact=True).first.click()
    page.get_by_role("link", name="Logs").click()
    entries = page.locator(".addon-log-entry")
    expect(entries).to_have_count(3)
    expect(entries.first).to_contain_text("cy@example.com")  # newest first
    expect(page.get_by_role("button", name="Retry all failed (1)")).to_be_visible()

    # Search as you type: the results follow, the address bar too.
    page.get_by_label("Search").press_sequentially("bob@", delay=30)
    expect(entries).to_have_count(1)
    expect(entries.first).to_contain_text("bob@example.com")
    expect(entries.first).to_contain_text("Espresso Subscription")
    expect(page).to_have_url(re.compile(r"/integrations/logs\?q=bob%40"))

    # Each row opens to what was sent and what iContact answered.
    entries.first.locator("summary").click()
    detail = entries.first.locator(".addon-log-detail")
    expect(detail).to_contain_text("What was sent, and the answers")
    expect(detail).to_contain_text("HTTP 200")
    expect(detail).to_contain_text("Global rule")
    shot("log-search-and-details")

    # Filters: the failed one, with its explanation and a Retry.
    page.get_by_label("Search").fill("")
    page.get_by_label("Status").select_option(label="Failed")
    expect(entries).to_have_count(1)
    expect(entries.first).to_contain_text("cy@example.com")
    entries.first.locator("summary").click()
    expect(entries.first).to_contain_text("Why it failed.")
    entries.first.get_by_role("button", name="Retry").click()
    expect(entries.first).to_contain_text("Queued again")
    expect(entries.first).to_contain_text("Pending")
    shot("retried")

    # Refresh Logs shows what the worker did since.
    run_jobs()
    page.get_by_label("Status").select_option(label="Any status")
    page.get_by_role("link", name="Refresh Logs").click()
    expect(entries).to_have_count(3)
    expect(page).to_have_url(re.compile(r"status=&"))


def test_retry_all_failed_queues_every_failed_entry_of_the_search(
    signed_in, live_url, engine, purchase_rule, icontact, run_jobs
):
    purchase(engine, "ann@example.com")
    run_jobs()
    icontact.delete_list(list_id(icontact, "Customers"))
    purchase(engine, "bob@example.com")
    purchase(engine, "cy@example.com")
    run_jobs()

    page = signed_in
    page.goto(f"{live_url}/integrations/logs")
    entries = page.locator(".addon-log-entry")
    expect(entries.filter(has_text="Failed")).to_have_count(2)
    page.get_by_role("button", name="Retry all failed (2)").click()
    expect(page.get_by_text("Queued 2 failed entries again.")).to_be_visible()
    expect(entries.filter(has_text="Pending")).to_have_count(2)
    expect(page.get_by_role("button", name=re.compile("Retry all failed"))).to_have_count(0)

    # The worker tries them again; the list is still gone, so they fail again, once more.
    run_jobs()
    page.get_by_role("link", name="Refresh Logs").click()
    expect(entries.filter(has_text="Failed")).to_have_count(2)
    entries.first.locator("summary").click()
    expect(entries.first.locator(".addon-facts")).to_contain_text("Attempts2")


def test_quick_filter_changes_on_a_slow_network_keep_the_console_clean(
    signed_in, live_url, engine, purchase_rule, icontact, run_jobs, page
):
    """A filter changed while the last search is on its way waits for it: aborting it made
    htmx log an error (htmx:sendAbort) for each change."""
    purchase(engine, "ann@example.com")
    run_jobs()
    icontact.delete_list(list_id(icontact, "Customers"))
    purchase(engine, "bob@example.com")
    run_jobs()
    page.goto(f"{live_url}/integrations/logs")
    # Deferred scripts run before DOMContentLoaded. (Not wait_for_function: the page's CSP
    # forbids the string evaluation it polls with, and it failed now and then.)
    page.wait_for_load_state("domcontentloaded")
    network = page.context.new_cdp_session(page)
    network.send("Network.enable")
    network.send(
        "Network.emulateNetworkConditions",
        {"offline": False, "latency": 400, "downloadThroughput": -1, "uploadThroughput": -1},
    )
    status = page.get_by_label("Status")
    for label in ("Failed", "Success", "Any status", "Failed"):
        status.select_option(label=label)
    page.get_by_label("Search").press_sequentially("bo", delay=20)
    entries = page.locator(".addon-log-entry")
    expect(page).to_have_url(re.compile(r"q=bo&status=failed"), timeout=10_000)
    expect(entries).to_have_count(1)
    expect(entries.first).to_contain_text("bob@example.com")
