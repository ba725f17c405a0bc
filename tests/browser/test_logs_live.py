"""The Logs tab at a glance: the chart of entries per day with its table, Export CSV of the
search, and new entries that appear on their own while the tab is open (issue 17)."""

from __future__ import annotations

import re

from playwright.sync_api import expect

from tests.conftest import list_id, purchase


def test_chart_export_and_new_entries_on_their_own(
    signed_in, live_url, engine, purchase_rule, icontact, run_jobs, shot, tmp_path
):
    purchase(engine, "ann@example.com")
    purchase(engine, "bob@example.com")
    run_jobs()
    icontact.delete_list(list_id(icontact, "Customers"))
    purchase(engine, "cy@example.com")
    run_jobs()
    page = signed_in
    page.goto(f"{live_url}/integrations/logs")
    chart = page.get_by_role("img", name="Entries per day, last 30 days")
    expect(chart).to_be_visible()
    expect(chart.locator("rect")).to_have_count(2)  # today: success and failed
    page.get_by_text("The numbers, as a table").click()
    today = page.get_by_role("table").get_by_role("row").nth(1)
    expect(today).to_contain_text("2")
    expect(page.locator(".addon-chart__table td").last).to_have_text("3")
    shot("chart")

    # Export CSV of the search in force.
    page.get_by_label("Search").press_sequentially("bob", delay=20)
    expect(page.locator(".addon-log-entry")).to_have_count(1)
    with page.expect_download() as download:
        page.get_by_role("link", name=re.compile("Export CSV")).click()
    saved = tmp_path / "logs.csv"
    download.value.save_as(saved)
    lines = saved.read_text().splitlines()
    assert len(lines) == 2 and "bob@example.com" in lines[1]

    # New entries appear on their own, above the list (the pointer is elsewhere).
    page.get_by_label("Search").fill("")
    entries = page.locator(".addon-log-entry")
    expect(entries).to_have_count(3)
    page.mouse.move(5, 5)
    page.locator("body").focus()
    purchase(engine, "dee@example.com")
    run_jobs()
    expect(entries).to_have_count(4, timeout=15_000)
    expect(entries.first).to_contain_text("dee@example.com")
    expect(entries.first).to_have_class(re.compile("addon-log-entry--new"))
    shot("new-entry")
