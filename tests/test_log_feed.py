"""The Logs' pictures and feeds: entries per day as a chart (with its table), the filtered log
as CSV, and new entries while the tab is open (issue 17)."""

from __future__ import annotations

import csv
import io
import re

import pytest
from sqlalchemy import select

from addon.store.models import Delivery
from tests import test_views_support as support
from tests.conftest import list_id, purchase

merchant = support.merchant


@pytest.fixture
def log(engine, purchase_rule, icontact, run_jobs):
    """ann and bob delivered, then cy failed (the list was deleted)."""
    purchase(engine, "ann@example.com")
    purchase(engine, "bob@example.com", product_id="102")
    run_jobs()
    icontact.delete_list(list_id(icontact, "Customers"))
    purchase(engine, "cy@example.com")
    run_jobs()


def test_the_logs_show_entries_per_day_by_outcome_as_a_chart_with_its_table(merchant, log):
    page = merchant.get("addon.logs").text
    assert 'role="img" aria-labelledby="addon-chart-title"' in page
    assert len(re.findall(r'class="addon-chart__bar addon-chart__bar--success"', page)) == 1
    assert len(re.findall(r'class="addon-chart__bar addon-chart__bar--failed"', page)) == 1
    table = page.split('class="addon-chart__table"')[1].split("</table>")[0]
    # Today's row: success, skipped, pending, failed, all.
    assert re.search(r"</time></th><td>2</td><td>0</td><td>0</td><td>1</td><td>3</td>", table)
    # The chart is not redrawn by a search (htmx swaps the results alone).
    results = merchant.get("addon.logs", htmx=True, headers={"HX-Target": "addon-log-results"})
    assert "addon-chart" not in results.text


def test_without_entries_the_chart_says_so(merchant, integration):
    assert "No entries in the last 30 days." in merchant.get("addon.logs").text


def test_export_csv_is_the_filtered_log(merchant, log):
    response = merchant.get("addon.export_logs", status="success")
    assert response.status_code == 200
    assert response.mimetype == "text/csv"
    assert "attachment" in response.headers["Content-Disposition"]
    rows = list(csv.reader(io.StringIO(response.text)))
    assert rows[0][:5] == ["Time (UTC)", "Status", "Trigger", "Event id", "Customer"]
    assert sorted(row[4] for row in rows[1:]) == ["ann@example.com", "bob@example.com"]
    assert {row[6] for row in rows[1:]} == {"Single-Origin Sampler", "Espresso Subscription"}
    everything = merchant.get("addon.export_logs").text
    assert len(list(csv.reader(io.StringIO(everything)))) == 4


def test_the_logs_offer_export_with_the_search_in_force(merchant, log):
    page = merchant.get("addon.logs", q="ann").text
    assert 'href="/integrations/logs/export.csv?q=ann"' in page


def test_a_cell_that_a_spreadsheet_would_run_is_kept_as_text(
    merchant, engine, purchase_rule, run_jobs
):
    purchase(engine, "=cmd@example.com")
    run_jobs()
    rows = list(csv.reader(io.StringIO(merchant.get("addon.export_logs").text)))
    assert rows[1][4] == "'=cmd@example.com"


def test_export_with_an_invalid_filter_is_refused(merchant, log):
    response = merchant.get("addon.export_logs", date_from="2024-02-30")
    assert response.status_code == 400
    assert "Nothing was exported." in response.text


def test_new_entries_arrive_above_the_list_while_the_tab_is_open(
    merchant, engine, purchase_rule, run_jobs
):
    purchase(engine, "ann@example.com")
    run_jobs()
    page = merchant.get("addon.logs").text
    newest = engine.db.session.scalar(select(Delivery.id).order_by(Delivery.id.desc()))
    assert f"/integrations/logs/new?after={newest}" in page
    poll = {"HX-Target": "addon-log-rows"}
    assert (
        merchant.get("addon.new_log_entries", htmx=True, headers=poll, after=newest).status_code
        == 204
    )
    purchase(engine, "bob@example.com")
    purchase(engine, "zed@example.com")
    engine.db.session.commit()  # the test's session had a transaction open: emit joined it
    run_jobs()
    fresh = merchant.get("addon.new_log_entries", htmx=True, headers=poll, after=newest, q="bob")
    assert fresh.status_code == 200
    assert "bob@example.com" in fresh.text and "zed@example.com" not in fresh.text
    assert "ann@example.com" not in fresh.text
    assert "addon-log-entry--new" in fresh.text
    # The poller comes along, asking for what is newer than these.
    assert 'id="addon-log-poll"' in fresh.text and 'hx-swap-oob="true"' in fresh.text
    assert f"after={newest + 1}" in fresh.text or f"after={newest + 2}" in fresh.text


def test_the_count_and_retry_all_failed_above_the_list_take_new_entries_in(
    merchant, engine, icontact, purchase_rule, run_jobs
):
    purchase(engine, "ann@example.com")
    run_jobs()
    page = merchant.get("addon.logs").text
    assert "1 entry" in page and "Retry all failed" not in page
    newest = engine.db.session.scalar(select(Delivery.id).order_by(Delivery.id.desc()))
    icontact.delete_list(list_id(icontact, "Customers"))
    purchase(engine, "bob@example.com")
    engine.db.session.commit()
    run_jobs()
    poll = {"HX-Target": "addon-log-rows"}
    fresh = merchant.get("addon.new_log_entries", htmx=True, headers=poll, after=newest).text
    summary = fresh[fresh.index('id="addon-log-summary"') :]
    assert 'hx-swap-oob="true"' in summary[:80]
    assert "2 entries" in summary and "Retry all failed (1)" in summary


def test_an_empty_list_gets_its_first_entries_as_whole_results(
    merchant, engine, purchase_rule, run_jobs
):
    assert "/integrations/logs/new?after=0" in merchant.get("addon.logs").text
    purchase(engine, "ann@example.com")
    engine.db.session.commit()
    run_jobs()
    fresh = merchant.get("addon.new_log_entries", htmx=True, after=0)
    assert fresh.headers["HX-Retarget"] == "#addon-log-results"
    assert 'id="addon-log-results"' in fresh.text and "ann@example.com" in fresh.text


@pytest.mark.parametrize("after", ["", "-1", "x", "2147483648", "١٢"])
def test_an_odd_newest_entry_is_400(merchant, after):
    response = merchant.get("addon.new_log_entries", htmx=True, after=after)
    assert response.status_code == 400


@pytest.mark.parametrize("after", [{"after": 5}, {}, {"after": ""}, {"after": "x"}])
def test_the_poll_address_without_javascript_leads_to_the_logs(merchant, after):
    """Opened by hand, from a bookmark or by a host walking every screen: no 400 for a missing
    or odd ``after``, which only the poll sends."""
    response = merchant.get("addon.new_log_entries", q="ann", **after)
    assert response.status_code == 303
    assert response.headers["Location"].endswith("/integrations/logs?q=ann")


def test_no_poller_past_the_first_page_or_among_events(merchant, engine, purchase_rule, run_jobs):
    purchase(engine, "ann@example.com")
    run_jobs()
    assert 'id="addon-log-poll"' not in merchant.get("addon.logs", show="events").text
