"""Alarms, without HTTP: the merchant is told when credentials are rejected, work is stuck or
failures pass the threshold, and when it works again; at most once per condition per digest;
by email (Flask-Mail) and a signed webhook, each of which the host can turn off."""

from __future__ import annotations

import datetime as dt
import json
import socket
import threading

import pytest
import requests
from flask_mail import email_dispatched

from addon.alarms.webhook import body_of
from addon.engine.alarms import check_alarms, check_alarms_once, send_test_alarm
from addon.store.bookkeeping import Alarm
from addon.store.models import FAILED, NEEDS_ATTENTION, PENDING, Integration
from addon.web.webhooks import BadSignature, verify
from tests.conftest import configure
from tests.test_integration_health import NOW, add_delivery, clock, finished

clock = clock  # the fixture, for the tests below


@pytest.fixture
def outbox(app):
    """The emails Flask-Mail dispatched (the tests' app never mails: TESTING suppresses it)."""
    sent = []

    def record(sender, message, **_extra):
        sent.append(message)

    email_dispatched.connect(record)
    yield sent
    email_dispatched.disconnect(record)


class Receiver:
    """The host's alarm endpoint: what was posted, and what it answers."""

    def __init__(self):
        self.posts: list[tuple[bytes, dict]] = []
        self.status = 200
        self.error: Exception | None = None

    def post(self, url, data, headers, timeout, allow_redirects):
        assert timeout and not allow_redirects
        if self.error is not None:
            raise self.error
        self.posts.append((data, headers))
        response = requests.Response()
        response.status_code = self.status
        return response


@pytest.fixture
def receiver(app, monkeypatch):
    hook = Receiver()
    monkeypatch.setattr("addon.alarms.webhook.requests.post", hook.post)
    configure(
        app,
        ADDON_ALARM_WEBHOOK_URL="https://shop.example/alarms",
        ADDON_ALARM_WEBHOOK_SECRET="alarm-secret",
    )
    return hook


def check(app) -> list[Alarm]:
    with app.app_context():
        state = app.extensions["addon"].state(app)
        raised = check_alarms(state.context, app.extensions["addon"])
        return [(a.condition, a.integration_label, dict(a.channels)) for a in raised]


def reject_credentials(engine, integration_id: int) -> None:
    row = engine.db.session.get(Integration, integration_id)
    row.status, row.status_reason = NEEDS_ATTENTION, "iContact rejected it"
    engine.db.session.commit()


def test_rejected_credentials_email_the_merchant_once(app, engine, integration, clock, outbox):
    reject_credentials(engine, integration.id)
    [(condition, label, channels)] = check(app)
    assert (condition, label) == ("needs_attention", "Main iContact")
    assert channels == {"email": "sent to alice@acme.test", "webhook": "off"}
    [email] = outbox
    assert email.recipients == ["alice@acme.test"]
    assert email.sender == "Demo storefront <alarms@demo.test>"
    assert email.subject == "[Integrations] Main iContact needs your attention"
    assert "no longer accepts this integration's password" in email.body
    assert "RQ" not in email.body and "Redis" not in email.body and "lease" not in email.body
    # The next checks, a minute and an hour later: the same problem, no new alarm.
    clock.advance(minutes=1)
    assert check(app) == []
    clock.advance(hours=1)
    assert check(app) == [] and len(outbox) == 1


def test_a_problem_that_lasts_is_told_again_after_the_digest_hours(
    app, engine, integration, clock, outbox
):
    reject_credentials(engine, integration.id)
    check(app)
    clock.advance(hours=3, minutes=59)
    assert check(app) == []
    clock.advance(minutes=2)
    assert [c for c, _, _ in check(app)] == ["needs_attention"]
    configure(app, ADDON_ALARM_DIGEST_HOURS=12)
    clock.advance(hours=5)
    assert check(app) == []


def test_stuck_work_raises_an_alarm_and_its_end_a_recovery(app, engine, integration, clock, outbox):
    waiting = add_delivery(engine, integration.id, PENDING, due_at=NOW - dt.timedelta(minutes=16))
    assert [c for c, _, _ in check(app)] == ["stuck"]
    assert outbox[-1].subject == "[Integrations] Main iContact: updates are not going out"
    assert "the oldest has waited 16 minutes" in outbox[-1].body
    waiting.status, waiting.finished_at = "success", NOW
    engine.db.session.commit()
    clock.advance(minutes=1)
    assert [c for c, _, _ in check(app)] == ["recovered"]
    assert outbox[-1].subject == "[Integrations] Main iContact works again"
    clock.advance(minutes=1)
    assert check(app) == []  # told once


def test_failures_past_the_threshold_raise_an_alarm(app, engine, integration, clock, outbox):
    finished(engine, integration.id, FAILED, 4, dt.timedelta(minutes=5))
    assert check(app) == []  # below the threshold: some failures, shown but not alarmed
    finished(engine, integration.id, FAILED, 1, dt.timedelta(minutes=5))
    assert [c for c, _, _ in check(app)] == ["failing"]
    assert "5 of 5 updates failed in the last hour" in outbox[-1].body


def test_a_flapping_integration_is_a_digest_not_a_flood(app, engine, integration, clock, outbox):
    row = engine.db.session.get(Integration, integration.id)
    for _ in range(6):  # broken and fixed every ten minutes for an hour
        reject_credentials(engine, integration.id)
        check(app)
        clock.advance(minutes=5)
        row.status = "connected"
        engine.db.session.commit()
        check(app)
        clock.advance(minutes=5)
    assert [m.subject.split("] ")[1] for m in outbox] == [
        "Main iContact needs your attention",
        "Main iContact works again",
    ]


def test_several_alarms_of_one_marketplace_go_out_as_one_email(
    app, engine, integration, icontact, clock, outbox
):
    from tests.conftest import PASSWORD, USERNAME

    other = engine.connect("acme", label="Second account", username=USERNAME, password=PASSWORD)
    reject_credentials(engine, integration.id)
    reject_credentials(engine, other.id)
    assert len(check(app)) == 2
    [email] = outbox
    assert email.subject == "[Integrations] 2 changes to your integrations"
    assert "Main iContact needs your attention" in email.body
    assert "Second account needs your attention" in email.body


def test_the_host_adds_its_own_recipients(app, engine, integration, clock, outbox):
    configure(app, ADDON_ALARM_RECIPIENTS="ops@shop.example, ALICE@acme.test")
    reject_credentials(engine, integration.id)
    [(_, _, channels)] = check(app)
    assert outbox[0].recipients == ["alice@acme.test", "ops@shop.example"]
    assert channels["email"] == "sent to alice@acme.test, ops@shop.example"


def test_email_turned_off_sends_none_and_says_so(app, engine, integration, clock, outbox):
    configure(app, ADDON_ALARM_EMAIL=False)
    reject_credentials(engine, integration.id)
    [(_, _, channels)] = check(app)
    assert channels == {"email": "off", "webhook": "off"} and outbox == []


def test_no_sender_is_recorded_not_raised(app, engine, integration, clock, outbox):
    app.extensions["mail"].default_sender = None
    reject_credentials(engine, integration.id)
    [(_, _, channels)] = check(app)
    assert channels["email"] == "not sent: email is not set up on this store (no sender address)"


class SMTPServer:
    """A mail server on a local port: one that talks SMTP and keeps what it receives, or one
    that takes the connection and never says a word."""

    def __init__(self, silent: bool = False):
        self.silent = silent
        self.received: list[str] = []
        self.socket = socket.create_server(("127.0.0.1", 0))
        self.port = self.socket.getsockname()[1]
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while True:
            connection, _ = self.socket.accept()
            if self.silent:
                continue  # held open, unanswered
            with connection, connection.makefile("rb") as lines:
                connection.sendall(b"220 mail.shop.example\r\n")
                for line in lines:
                    command = line.decode().strip().upper()
                    if command.startswith("DATA"):
                        connection.sendall(b"354 go on\r\n")
                        body = b"".join(iter(lines.readline, b".\r\n"))
                        self.received.append(body.decode())
                        reply = b"250 queued\r\n"
                    elif command.startswith("QUIT"):
                        connection.sendall(b"221 bye\r\n")
                        break
                    else:
                        reply = b"250 ok\r\n"
                    connection.sendall(reply)


@pytest.fixture
def mail_server(app, monkeypatch):
    """Alarms mailed for real, to a local mail server (the tests' app otherwise suppresses)."""

    def serve(silent: bool = False) -> SMTPServer:
        server = SMTPServer(silent)
        mail = app.extensions["mail"]
        monkeypatch.setattr(mail, "suppress", False)
        monkeypatch.setattr(mail, "server", "127.0.0.1")
        monkeypatch.setattr(mail, "port", server.port)
        monkeypatch.setattr(mail, "use_tls", False)
        monkeypatch.setattr(mail, "use_ssl", False)
        return server

    return serve


def test_an_alarm_goes_through_the_stores_mail_server(app, engine, integration, clock, mail_server):
    server = mail_server()
    reject_credentials(engine, integration.id)
    [(_, _, channels)] = check(app)
    assert channels["email"].startswith("sent to ")
    [message] = server.received
    assert "Main iContact needs your attention" in message


def test_a_mail_server_that_never_answers_is_given_up_on(
    app, engine, integration, clock, mail_server, monkeypatch
):
    monkeypatch.setattr("addon.alarms.email.TIMEOUT", 0.5)
    mail_server(silent=True)
    reject_credentials(engine, integration.id)
    [(_, _, channels)] = check(app)
    assert channels["email"] == (
        "not sent: the store's mail server could not be reached or refused it"
    )


def test_the_webhook_is_signed_over_the_body_with_a_timestamp(
    app, engine, integration, clock, receiver
):
    reject_credentials(engine, integration.id)
    [(_, _, channels)] = check(app)
    assert channels["webhook"] == "delivered (200)"
    [(body, headers)] = receiver.posts
    payload = json.loads(body)
    assert payload["type"] == "integration.alarm" and payload["marketplace_id"] == "acme"
    assert payload["test"] is False and payload["sent_at"] == "2026-12-04T12:00:00Z"
    [alarm] = payload["alarms"]
    assert alarm["condition"] == "needs_attention" and alarm["integration_id"] == integration.id
    assert body == body_of(payload)
    # The host checks it as the add-on checks the events it receives.
    now = dt.datetime(2026, 12, 4, 12, tzinfo=dt.UTC).timestamp()
    header = headers["X-Addon-Signature"]
    verify(header, body, "alarm-secret", tolerance=300, now=now)
    with pytest.raises(BadSignature):
        verify(header, body.replace(b"acme", b"evil"), "alarm-secret", tolerance=300, now=now)
    with pytest.raises(BadSignature):
        verify(header, body, "another-secret", tolerance=300, now=now)


def test_a_webhook_that_fails_is_recorded_and_the_email_still_goes(
    app, engine, integration, clock, receiver, outbox
):
    receiver.error = requests.ConnectionError("refused")
    reject_credentials(engine, integration.id)
    [(_, _, channels)] = check(app)
    assert channels == {
        "email": "sent to alice@acme.test",
        "webhook": "not delivered: the store's alert service could not be reached",
    }
    assert len(outbox) == 1


def test_a_webhook_that_answers_an_error_is_recorded(app, engine, integration, clock, receiver):
    receiver.status = 500
    reject_credentials(engine, integration.id)
    [(_, _, channels)] = check(app)
    assert channels["webhook"] == (
        "not delivered: the store's alert service answered with an error (500)"
    )


def test_a_hook_that_raises_never_crashes_the_check(app, engine, integration, clock, receiver):
    def broken(_marketplace_id):
        raise RuntimeError("the host's database is away")

    engine.alarm_recipients_callback = broken
    reject_credentials(engine, integration.id)
    [(_, _, channels)] = check(app)
    assert channels["email"] == "not sent: something went wrong on our side"
    assert channels["webhook"] == "delivered (200)"


def test_a_webhook_url_without_a_secret_stops_the_start(app):
    with pytest.raises(ValueError, match="ADDON_ALARM_WEBHOOK_SECRET"):
        configure(app, ADDON_ALARM_WEBHOOK_URL="https://shop.example/alarms")


def test_a_test_alarm_goes_out_on_every_channel_and_is_kept(app, clock, receiver, outbox):
    with app.app_context():
        state = app.extensions["addon"].state(app)
        alarm = send_test_alarm(state.context, app.extensions["addon"], "acme")
        assert alarm.condition == "test" and alarm.integration_id is None
        assert alarm.channels == {"email": "sent to alice@acme.test", "webhook": "delivered (200)"}
    assert outbox[0].subject == "[Integrations] Test alarm"
    assert json.loads(receiver.posts[0][0])["test"] is True


def test_the_sweeper_asks_one_worker_per_interval_to_check(
    app, engine, integration, clock, outbox, run_jobs
):
    reject_credentials(engine, integration.id)
    assert check_alarms_once(app) is not None
    # Another worker's sweeper a moment later: the lock says it was asked already.
    assert check_alarms_once(app) is None
    run_jobs()
    assert [m.subject for m in outbox] == ["[Integrations] Main iContact needs your attention"]


def test_a_quiet_hour_is_no_recovery_an_update_that_goes_through_is(
    app, engine, integration, clock, outbox
):
    finished(engine, integration.id, FAILED, 5, dt.timedelta(minutes=5))
    assert [c for c, _, _ in check(app)] == ["failing"]
    clock.advance(hours=2)  # nothing sold, nothing sent
    assert check(app) == []
    add_delivery(engine, integration.id, "success", finished_at=clock.at, due_at=clock.at)
    assert [c for c, _, _ in check(app)] == ["recovered"]
    assert "works again" in outbox[-1].body
