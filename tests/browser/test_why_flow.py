"""Why didn't this fire? A merchant looks for a customer no rule acted on, reads why, and
follows that customer's story (issue 17)."""

from __future__ import annotations

import re

from playwright.sync_api import expect

from tests.conftest import purchase


def test_find_an_event_no_rule_acted_on_and_read_why_then_the_customers_story(
    signed_in, live_url, engine, purchase_rule, run_jobs, shot
):
    purchase(engine, "jane@example.com", product_id="102")
    engine.emit(
        "product.refunded",
        marketplace_id="acme",
        customer={"email": "jane@example.com"},
        product_id="101",
        event_id="order-900",
    )
    run_jobs()
    page = signed_in
    page.goto(f"{live_url}/integrations/logs")
    page.get_by_label("Search").press_sequentially("order-900", delay=20)
    expect(page.get_by_text("No entries match this search.")).to_be_visible()
    page.get_by_role("link", name=re.compile("1 event matches, with why")).click()
    expect(page).to_have_url(re.compile(r"show=events"))
    expect(page.get_by_label("Show")).to_have_value("events")
    event = page.locator(".addon-log-event")
    expect(event).to_have_count(1)
    expect(event.locator(".addon-log__status")).to_have_text("∅ None")
    expect(event).to_contain_text(
        "Product Refunded for Single-Origin Sampler: no rule for this trigger; "
        "1 rule acts on Product Purchased."
    )
    event.locator("summary").click()
    shot("why-nothing-happened")

    event.get_by_role("link", name=re.compile("jane@example.com’s story")).click()
    expect(page.get_by_role("heading", name="jane@example.com’s story")).to_be_visible()
    timeline = page.locator(".addon-timeline__event")
    expect(timeline).to_have_count(2)
    expect(timeline.first).to_contain_text("Product Refunded")  # newest first
    expect(timeline.nth(1)).to_contain_text("1 rule acted on it: 1 done.")
    lists = page.get_by_role("table", name="Lists the rules say they should be on now")
    expect(lists.get_by_role("row", name=re.compile("Main iContact"))).to_contain_text(
        "On the list"
    )
    shot("customer-story")

    # A search by email offers the story too.
    page.get_by_label("Customer email").fill("nobody")
    page.get_by_label("Customer email").fill("ann@example.com")
    page.get_by_role("button", name="Show their story").click()
    expect(page.get_by_text("No event of this customer was received.")).to_be_visible()
    expect(page).to_have_url(re.compile(r"/integrations/logs/customer\?email=ann"))
