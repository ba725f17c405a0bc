"""Logs: newest first, search as you type, filters, paging, details, Refresh and Retry."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select

from addon.store.models import Delivery
from addon.web.views import logs as log_views
from tests import test_views_support as support
from tests.conftest import PASSWORD, list_id
from tests.conftest import purchase as emit_purchase
from tests.test_views_support import fresh

merchant = support.merchant


@pytest.fixture
def rule(purchase_rule):
    return purchase_rule


@pytest.fixture
def purchase(engine, rule):
    def emit(email: str, product_id: str = "101", event_id: str | None = None) -> str:
        return emit_purchase(engine, email, product_id, event_id=event_id)

    return emit


@pytest.fixture
def three(purchase, run_jobs):
    """Three successful entries, ann (101), bob (102) and cy (101), oldest first."""
    for email, product in (("ann@example.com", "101"), ("bob@example.com", "102")):
        purchase(email, product)
    purchase("cy@example.com", "101", event_id="order-77")
    run_jobs()


@pytest.fixture
def failed(engine, icontact, purchase, run_jobs):
    """Two entries that failed: their list was deleted in iContact."""
    icontact.delete_list(list_id(icontact, "Customers"))
    purchase("fay@example.com")
    purchase("gus@example.com")
    run_jobs()
    return engine.db.session.scalars(select(Delivery).order_by(Delivery.id)).all()


def emails(text: str) -> list[str]:
    found = []
    for name in ("ann", "bob", "cy", "fay", "gus"):
        at = text.find(f'class="addon-log__email">{name}@example.com')
        if at >= 0:
            found.append((at, name))
    return [name for _, name in sorted(found)]


def test_logs_page_and_fragment_from_the_same_url(merchant, three):
    page = merchant.get("addon.logs")
    assert "<html" in page.text and 'hx-history="false"' in page.text
    assert emails(page.text) == ["cy", "bob", "ann"]  # newest first
    screen = merchant.get("addon.logs", htmx=True)
    assert screen.text.lstrip().startswith('<div id="addon-screen"') and "<html" not in screen.text
    results = merchant.get("addon.logs", htmx=True, headers={"HX-Target": "addon-log-results"})
    assert results.text.lstrip().startswith('<div id="addon-log-results"')
    assert "addon-log-filters" not in results.text
    assert {"HX-Request", "HX-Target"} <= set(results.headers["Vary"].replace(" ", "").split(","))


def test_search_matches_email_list_product_and_message(merchant, three):
    def search(q):
        return emails(merchant.get("addon.logs", htmx=True, q=q).text)

    assert search("BOB@") == ["bob"]
    assert search("order-77") == ["cy"]
    assert search("102") == ["bob"]
    assert search("customers") == ["cy", "bob", "ann"]
    assert search("created contact") == ["cy", "bob", "ann"]
    assert search("nobody") == []
    assert "No entries match this search." in merchant.get("addon.logs", q="nobody").text


def test_filters_status_trigger_integration_and_dates(merchant, integration, three, failed):
    def shown(**filters):
        return emails(merchant.get("addon.logs", htmx=True, **filters).text)

    assert shown(status="failed") == ["gus", "fay"]
    assert shown(status="success") == ["cy", "bob", "ann"]
    assert shown(trigger="product.refunded") == []
    assert len(shown(trigger="product.purchased")) == 5
    assert len(shown(integration_id=integration.id)) == 5
    today = dt.datetime.now(dt.UTC).date()
    assert len(shown(date_from=today.isoformat(), date_to=today.isoformat())) == 5
    assert shown(date_to=(today - dt.timedelta(days=1)).isoformat()) == []


def test_an_invalid_filter_is_reported_and_ignored(merchant, three):
    page = merchant.get("addon.logs", status="bogus", date_to="not-a-date").text
    assert 'id="addon-status-error"' in page and 'id="addon-date_to-error"' in page
    assert emails(page) == ["cy", "bob", "ann"]


def test_paging_keeps_the_search(merchant, monkeypatch, three):
    monkeypatch.setattr(log_views, "PAGE_SIZE", 2)
    first = merchant.get("addon.logs", htmx=True, q="example.com").text
    assert emails(first) == ["cy", "bob"]
    assert "3 entries, showing 1–2" in first and "Page 1 of 2" in first
    assert 'href="/integrations/logs?page=2&amp;q=example.com"' in first
    second = merchant.get("addon.logs", htmx=True, q="example.com", page=2).text
    assert emails(second) == ["ann"] and "← Newer" in second


def test_details_show_what_was_sent_and_answered_without_credentials(merchant, engine, three):
    entry = engine.db.session.scalars(select(Delivery).order_by(Delivery.id)).first()
    detail = merchant.get("addon.log_entry", htmx=True, entry_id=entry.id).text
    assert "ann@example.com" in detail and "Single-Origin Sampler" in detail
    assert "Global rule" in detail and "Product Purchased" in detail
    assert "/contacts" in detail and "HTTP 200" in detail
    assert PASSWORD not in detail and "API-Password" not in detail
    page = merchant.get("addon.log_entry", entry_id=entry.id).text
    assert "<html" in page and "All logs" in page and "/contacts" in page


def test_a_failure_is_explained_with_a_retry_button(merchant, failed):
    detail = merchant.get("addon.log_entry", htmx=True, entry_id=failed[0].id).text
    assert "Why it failed." in detail and "Refresh the lists" in detail
    assert f'id="addon-retry-{failed[0].id}"' in detail


def test_retry_puts_a_failed_entry_back_in_the_queue(merchant, engine, failed):
    answer = merchant.post("addon.retry_entry", entry_id=failed[0].id)
    assert answer.status_code == 200
    assert answer.text.lstrip().startswith("<details") and " open>" in answer.text
    assert "Queued again" in answer.text and "Pending" in answer.text
    assert fresh(engine, Delivery, failed[0].id).status == "pending"


def test_retrying_an_entry_that_did_not_fail_is_refused_in_words(merchant, engine, three):
    entry = engine.db.session.scalars(select(Delivery)).first()
    answer = merchant.post("addon.retry_entry", entry_id=entry.id)
    assert answer.status_code == 409
    assert answer.headers["HX-Retarget"] == "#addon-alert"
    assert "Only failed entries can be retried." in answer.text


def test_retry_all_failed_counts_and_retries_what_the_filters_show(merchant, engine, three, failed):
    page = merchant.get("addon.logs").text
    assert "Retry all failed (2)" in page
    assert "Retry all failed (1)" in merchant.get("addon.logs", q="fay").text
    assert "Retry all failed" not in merchant.get("addon.logs", status="success").text
    answer = merchant.post("addon.retry_failed", {"q": "fay"})
    assert answer.status_code == 200 and "Queued 1 failed entry again." in answer.text
    assert answer.text.lstrip().startswith('<div id="addon-log-results"')
    engine.db.session.expire_all()
    statuses = {d.email: d.status for d in engine.db.session.scalars(select(Delivery))}
    assert statuses["fay@example.com"] == "pending" and statuses["gus@example.com"] == "failed"


def test_refresh_logs_button_reloads_the_results_with_the_filters(merchant, three):
    page = merchant.get("addon.logs").text
    assert 'id="addon-refresh-logs"' in page and 'hx-include="#addon-log-filters"' in page


def test_blank_filters_mean_any_when_retrying_all_failed(merchant, rule):
    """Found by the form fuzzer: a whitespace-only filter value was a 500."""
    response = merchant.post(
        "addon.retry_failed", data={"integration_id": " ", "status": " ", "trigger": " "}
    )
    assert response.status_code == 200
