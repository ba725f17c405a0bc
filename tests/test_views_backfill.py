"""Apply to past events from a rule's row: date, preview, apply, a progress bar that polls
itself while it runs (and a refresh link without JavaScript), done at the end."""

from __future__ import annotations

import pytest

from tests import test_views_support as support
from tests.conftest import customers_rule, purchase
from tests.test_no_5xx import addon_tables

merchant = support.merchant


def test_preview_apply_and_watch_it_finish_without_javascript(
    merchant, engine, icontact, integration, run_jobs
):
    for n in range(3):
        purchase(engine, f"buyer{n}@example.com", event_id=f"o-{n}")
    run_jobs()
    rule = customers_rule(engine, integration)
    rules_page = merchant.get("addon.global_rules").text
    assert f"/integrations/rules/{rule.id}/past" in rules_page
    assert "Apply to past events" in rules_page

    form = merchant.get("addon.backfill_rule", rule_id=rule.id).text
    assert 'type="date"' in form and 'id="addon-preview-backfill"' in form
    preview = merchant.get("addon.backfill_rule", rule_id=rule.id, since="2020-01-01").text
    assert "<strong>3</strong> customers" in preview and "Apply to 3 customers" in preview

    started = merchant.post(
        "addon.start_backfill", {"since": "2020-01-01"}, htmx=False, rule_id=rule.id
    )
    assert started.status_code == 303
    running = merchant.get("addon.backfill_rule", rule_id=rule.id).text
    assert 'hx-trigger="every 2s"' in running and ">Refresh</a>" in running
    assert 'id="addon-cancel-backfill"' in running
    run_jobs()
    done = merchant.get("addon.backfill_rule", rule_id=rule.id).text
    assert "3 of 3 customers done" in done and "every 2s" not in done
    assert 'value="100"' in done
    assert [e.cause for e in engine.logs("acme")] == ["backfill"] * 3


def test_a_run_not_counted_yet_or_cancelled_early_shows_an_empty_bar(
    merchant, engine, integration, purchase_rule
):
    started = merchant.post(
        "addon.start_backfill", {"since": "2020-01-01"}, htmx=False, rule_id=purchase_rule.id
    )
    assert started.status_code == 303
    queued = merchant.get("addon.backfill_rule", rule_id=purchase_rule.id).text
    assert "getting ready" in queued and 'value="0"' in queued and 'value="100"' not in queued
    merchant.post("addon.cancel_backfill", htmx=False, rule_id=purchase_rule.id)
    cancelled = merchant.get("addon.backfill_rule", rule_id=purchase_rule.id).text
    assert "cancelled after 0 of 0" in cancelled and 'value="100"' not in cancelled


@pytest.mark.parametrize("since", ["9999-12-31", "2999-01-01"])
def test_a_date_still_to_come_starts_nothing(merchant, engine, integration, purchase_rule, since):
    before = addon_tables(engine)
    answer = merchant.post(
        "addon.start_backfill", {"since": since}, htmx=False, rule_id=purchase_rule.id
    )
    assert answer.status_code == 303
    assert "Choose a date that has passed." in merchant.client.get(answer.location).text
    assert addon_tables(engine) == before


def test_a_failing_past_events_hook_reads_as_a_message_not_an_error_page(
    merchant, engine, integration, purchase_rule
):
    @engine.past_events
    def orders_before_the_add_on(marketplace_id, trigger, since):
        raise RuntimeError("boom")
        yield

    page = merchant.get(
        "addon.backfill_rule", rule_id=purchase_rule.id, since="2020-01-01", from_host="1"
    )
    assert page.status_code == 200
    assert "could not read its orders" in page.text
