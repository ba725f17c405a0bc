"""Health you can see on Integration Setup, and the Alarms tab: its history and the test alarm."""

from __future__ import annotations

import datetime as dt

from addon.store.models import FAILED, NEEDS_ATTENTION, PENDING, SUCCESS, Integration
from tests import test_views_support as support
from tests.test_integration_health import NOW, add_delivery, clock, finished

merchant = support.merchant
clock = clock  # the fixture, for the tests below


def test_each_row_shows_its_state_last_update_and_failure_ratio(
    merchant, engine, integration, clock
):
    finished(engine, integration.id, SUCCESS, 3, dt.timedelta(hours=2))
    finished(engine, integration.id, FAILED, 1, dt.timedelta(hours=2))
    page = merchant.get("addon.settings").text
    assert 'data-health="degraded"' in page and "Some failures" in page
    assert "1 of 4 updates failed in the last 24 hours." in page
    assert "25% failed in the last 24 hours (1 of 4)" in page
    assert 'Last update sent <time datetime="2026-12-04T10:00:00Z">' in page
    assert 'id="addon-attention-count"' not in page  # some failures only inform


def test_the_setup_tab_counts_the_integrations_that_need_the_merchant(
    merchant, engine, integration, clock
):
    add_delivery(engine, integration.id, PENDING, due_at=NOW - dt.timedelta(minutes=20))
    page = merchant.get("addon.settings").text
    assert 'data-health="stuck"' in page and "the oldest has waited 20 minutes" in page
    assert 'id="addon-attention-count"' in page and "1 needs your attention" in page
    # Every tab shows the count, not only Integration Setup.
    assert "1 needs your attention" in merchant.get("addon.logs").text


def test_needs_attention_says_what_the_provider_said_and_what_to_do(
    merchant, engine, integration, clock
):
    row = engine.db.session.get(Integration, integration.id)
    row.status, row.status_reason = NEEDS_ATTENTION, "iContact rejected it"
    engine.db.session.commit()
    page = merchant.get("addon.settings").text
    assert "Needs attention" in page and "iContact rejected it" in page
    assert "Updates are on hold, nothing is lost" in page
