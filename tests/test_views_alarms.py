"""Health you can see on Integration Setup, and the Alarms tab: its history and the test alarm."""

from __future__ import annotations

import datetime as dt

from addon.store.models import FAILED, NEEDS_ATTENTION, PENDING, SUCCESS, Integration
from tests import test_views_support as support
from tests.conftest import configure
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
    assert "demo-count" not in page


def test_the_setup_tab_counts_the_integrations_that_need_the_merchant(
    merchant, engine, integration, clock
):
    add_delivery(engine, integration.id, PENDING, due_at=NOW - dt.timedelta(minutes=20))
    page = merchant.get("addon.settings").text
    assert 'data-health="stuck"' in page and "the oldest has waited 20 minutes" in page
    assert 'id="addon-attention-count"' in page and "1 needs your attention" in page
    # Every tab shows the count, not only Integration Setup; so does the demo's own bar.
    assert "1 needs your attention" in merchant.get("addon.logs").text
    assert '<span class="demo-count">1<' in merchant.client.get("/merchant").text


def test_needs_attention_says_what_the_provider_said_and_what_to_do(
    merchant, engine, integration, clock
):
    row = engine.db.session.get(Integration, integration.id)
    row.status, row.status_reason = NEEDS_ATTENTION, "iContact rejected it"
    engine.db.session.commit()
    page = merchant.get("addon.settings").text
    assert "Needs attention" in page and "iContact rejected it" in page
    assert "Updates are on hold, nothing is lost" in page


def test_the_alarms_tab_says_where_alarms_go_and_that_none_were_sent(merchant):
    page = merchant.get("addon.alarms").text
    assert 'aria-current="page">Alarms' in page
    assert "Alarms are emailed to alice@acme.test." in page
    assert "at most once every 4 hours" in page
    assert "No alarms yet" in page and "Send a test alarm" in page
    assert "alert service" not in page  # no alarm webhook in the demo


def test_a_test_alarm_without_javascript_posts_and_comes_back_with_its_outcome(merchant, client):
    answer = merchant.post("addon.test_alarm", htmx=False)
    assert answer.status_code == 303 and answer.headers["Location"] == "/integrations/alarms"
    page = client.get("/integrations/alarms").text
    assert "Test alarm sent: see how it went below." in page
    assert "[Integrations]" not in page  # the subject without the email's prefix
    assert "Test alarm" in page and "Email: sent to alice@acme.test" in page
    outbox = client.get("/merchant/outbox").text
    assert "[Integrations] Test alarm" in outbox and "This is a test alarm" in outbox


def test_a_test_alarm_with_htmx_answers_the_tab(merchant):
    answer = merchant.post("addon.test_alarm")
    assert answer.status_code == 200 and answer.headers["HX-Retarget"] == "#addon-screen"
    assert answer.text.lstrip().startswith('<div id="addon-screen"')
    assert "Email: sent to alice@acme.test" in answer.text


def test_a_test_alarm_with_every_channel_off_says_nothing_was_sent(merchant, app):
    configure(app, ADDON_ALARM_EMAIL=False)
    answer = merchant.post("addon.test_alarm")
    assert "Nothing was sent: every alarm channel is turned off" in answer.text
    assert "Email alarms are turned off on this store." in answer.text


def test_the_test_alarm_needs_the_csrf_token(merchant):
    assert merchant.post("addon.test_alarm", csrf=False).status_code == 400


def test_another_merchant_sees_only_their_own_alarms(merchant, client):
    merchant.post("addon.test_alarm")
    with client.session_transaction() as session:  # Bob signs in on the same browser
        session["marketplace"] = "bolt"
    page = merchant.get("addon.alarms").text
    assert "No alarms yet" in page and "bob@bolt.test" in page
    assert "[Integrations] Test alarm" not in client.get("/merchant/outbox").text


def test_the_demo_receives_the_alarm_webhook_checks_it_and_shows_it(
    merchant, app, client, monkeypatch
):
    hook_client = app.test_client()

    def post(url, data, headers, timeout, allow_redirects):  # the add-on's post, to the demo
        return hook_client.post(url.removeprefix("http://localhost"), data=data, headers=headers)

    monkeypatch.setattr("addon.alarms.webhook.requests.post", post)
    configure(
        app,
        ADDON_ALARM_WEBHOOK_URL="http://localhost/demo/alarm-hook",
        ADDON_ALARM_WEBHOOK_SECRET="demo-alarm-secret",
    )
    page = merchant.post("addon.test_alarm").text
    assert "They are also passed to your store's own alert service." in page
    assert "Alert service: delivered (204)" in page
    assert "Alert service: Test alarm" in client.get("/merchant/outbox").text
    forged = hook_client.post(
        "/demo/alarm-hook",
        data=b'{"marketplace_id": "acme", "alarms": []}',
        headers={"X-Addon-Signature": "t=1,v1=00"},
    )
    assert forged.status_code == 400
