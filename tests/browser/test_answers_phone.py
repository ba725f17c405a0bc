"""On a phone (360 px) the screens of issue 17 fit: the Logs' events with why, a customer's
story, and a rule's Test dialog with its dry run."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from tests.conftest import purchase


@pytest.mark.browser_context_args(viewport={"width": 360, "height": 780})
def test_events_story_and_test_dialog_fit_the_phone(
    signed_in, live_url, engine, purchase_rule, run_jobs, no_overflow, shot
):
    purchase(engine, "a.customer.with.a.rather.long.address@example-company.com")
    engine.emit(
        "product.refunded",
        marketplace_id="acme",
        customer={"email": "jane@example.com"},
        product_id="101",
    )
    run_jobs()
    page = signed_in
    page.goto(f"{live_url}/integrations/logs?show=events")
    events = page.locator(".addon-log-event")
    expect(events).to_have_count(2)
    events.first.locator("summary").click()
    no_overflow()
    shot("events-360")

    page.goto(
        f"{live_url}/integrations/logs/customer"
        "?email=a.customer.with.a.rather.long.address@example-company.com"
    )
    expect(page.locator(".addon-timeline__event")).to_have_count(1)
    no_overflow()
    shot("story-360")

    page.goto(f"{live_url}/integrations/rules")
    page.get_by_role("link", name=re.compile("^Test rule")).click()
    dialog = page.get_by_role("dialog", name="Test this rule")
    dialog.get_by_label("Customer email").fill(
        "a.customer.with.a.rather.long.address@example-company.com"
    )
    dialog.get_by_role("button", name="Dry run").click()
    expect(dialog.locator(".addon-plan > li")).to_have_count(4)
    no_overflow()
    shot("dry-run-360")
