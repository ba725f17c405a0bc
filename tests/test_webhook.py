"""POST {prefix}/api/events: signed Stripe-style, checked before the body is parsed."""

import json
import time

import pytest
from sqlalchemy import event, text

from addon.web.webhooks import sign
from tests.conftest import configure

SECRET = "whsec-test"
EVENT = {
    "id": "evt-1",
    "type": "product.purchased",
    "marketplace_id": "acme",
    "customer": {"email": "ann@example.com"},
    "product_id": "101",
    "purchase_type": "upsell",
}


def post(client, payload, secret=SECRET, timestamp=None, signature=None, raw=None):
    body = raw if raw is not None else json.dumps(payload).encode()
    header = signature if signature is not None else sign(body, secret, timestamp)
    return client.post(
        "/integrations/api/events",
        data=body,
        headers={"X-Addon-Signature": header, "Content-Type": "application/json"},
    )


def test_signed_event_is_accepted(client, engine):
    response = post(client, EVENT)
    assert response.status_code == 202 and response.json == {"id": "evt-1"}
    assert engine.db.session.scalar(text("select count(*) from addon_event")) == 1


def test_repeated_id_is_acknowledged_and_stored_once(client, engine):
    assert post(client, EVENT).status_code == 202
    again = post(client, EVENT)
    assert again.status_code == 200 and again.json["id"] == "evt-1"


@pytest.mark.parametrize(
    "signature",
    ["", "t=1,v1=", "garbage", "v1=abc"],
)
def test_missing_or_malformed_signature_is_401(client, signature):
    response = post(client, EVENT, signature=signature)
    assert response.status_code == 401 and "error" in response.json


def test_wrong_secret_is_401(client):
    assert post(client, EVENT, secret="other").status_code == 401


def test_old_signature_is_a_replay(client):
    response = post(client, EVENT, timestamp=int(time.time()) - 301)
    assert response.status_code == 401 and "tolerance" in response.json["error"]


def test_body_is_not_parsed_before_the_signature_is_checked(client):
    response = post(client, None, raw=b"{not json", signature="t=1,v1=00")
    assert response.status_code == 401


@pytest.mark.parametrize(
    "raw, message",
    [(b"{not json", "valid JSON"), (b"[1, 2]", "one JSON object")],
)
def test_malformed_body_is_400(client, raw, message):
    response = post(client, None, raw=raw)
    assert response.status_code == 400 and message in response.json["error"]


@pytest.mark.parametrize(
    "change, field",
    [
        ({"type": "nope"}, "type"),
        ({"customer": {}}, "customer.email"),
        ({"product_id": None}, "product_id"),
        ({"id": None}, "id"),
    ],
)
def test_invalid_event_is_400_naming_the_field(client, change, field):
    response = post(client, {**EVENT, **change})
    assert response.status_code == 400 and response.json["field"] == field


def test_oversized_body_is_413(client):
    big = {**EVENT, "customer": {"email": "a@b.co", "first_name": "x" * 70000}}
    assert post(client, big).status_code == 413


def test_without_a_secret_the_webhook_refuses_everything(app, client):
    configure(app, ADDON_WEBHOOK_SECRET=None)
    response = post(client, EVENT)
    assert response.status_code == 403 and "ADDON_WEBHOOK_SECRET" in response.json["error"]


def test_webhook_needs_no_login_and_no_csrf_token(app, client):
    # The demo's marketplace loader returns None here (nobody signed in).
    assert post(client, {**EVENT, "id": "evt-2"}).status_code == 202


def test_while_the_database_is_away_the_sender_is_told_to_send_again(app, client, engine):
    """503 with Retry-After, nothing stored; the same event sent again once it is back is
    stored once."""
    with app.app_context():
        sa_engine = engine.db.engine
    error = sa_engine.dialect.loaded_dbapi.OperationalError

    def away(conn, cursor, statement, parameters, context, executemany):
        raise error("server closed the connection unexpectedly")

    event.listen(sa_engine, "before_cursor_execute", away)
    try:
        refused = post(client, EVENT)
    finally:
        event.remove(sa_engine, "before_cursor_execute", away)
    assert refused.status_code == 503
    assert refused.headers["Retry-After"].isdigit()
    assert "send it again" in refused.get_json()["error"]

    assert post(client, EVENT).status_code == 202
    with app.app_context():
        stored = engine.db.session.execute(text("SELECT count(*) FROM addon_event")).scalar()
    assert stored == 1
