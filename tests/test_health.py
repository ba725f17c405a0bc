"""``GET {prefix}/healthz`` and ``addon.web.health.check()``: 200 when the add-on can work,
else 503, with the numbers on-call looks at next."""

from __future__ import annotations

import datetime as dt

import time_machine
from flask import Flask

from addon import IntegrationEngine
from addon.embedded_redis import free_port
from addon.engine.expansion import expand_events
from addon.state import context
from addon.store.models import NEEDS_ATTENTION, Integration
from addon.web import health
from tests.conftest import purchase
from wsgi import create_app


def healthz_url(app: Flask) -> str:
    """The route's URL, as the blueprint serves it (``addon.healthz``, a public endpoint).

    Until ``addon/blueprint.py`` calls ``health.register(bp)``, the view is mounted on the app
    by hand, outside the blueprint and so outside its sign-in guard.
    """
    url = app.config["ADDON_URL_PREFIX"] + "/healthz"
    if "addon.healthz" not in app.view_functions:
        app.add_url_rule(url, "addon_healthz_unwired", health.healthz)
    return url


def test_a_healthy_addon_answers_200_without_a_login(app):
    response = app.test_client().get(healthz_url(app))

    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "no-store"
    assert response.json == {
        "status": "ok",
        "database": "ok",
        "schema": "ok",
        "redis": "ok",
        "queue": {"name": "addon", "queued": 0, "scheduled": 0, "failed": 0, "workers": 0},
        "oldest_due_delivery_seconds": None,
        "oldest_waiting_event_seconds": None,
        "integrations_needing_attention": 0,
    }


def test_waiting_work_shows_how_long_it_waited(app, engine, purchase_rule):
    purchase(engine, "ann@example.com")
    later = dt.datetime.now(dt.UTC) + dt.timedelta(minutes=5)

    with time_machine.travel(later, tick=False):
        report = health.check()
    # The contact sync the connect asked for, and the job that will match the rules.
    assert report["queue"]["queued"] == 2
    assert 299 <= report["oldest_waiting_event_seconds"] <= 301
    assert report["oldest_due_delivery_seconds"] is None

    expand_events(context(), "acme")  # rules matched, deliveries due, no worker ran them yet
    engine.db.session.commit()
    with time_machine.travel(later, tick=False):
        report = health.check()
    assert report["oldest_waiting_event_seconds"] is None
    assert 299 <= report["oldest_due_delivery_seconds"] <= 301
    assert report["status"] == "ok"  # a backlog is worth a look, not an outage


def test_held_work_counts_as_needing_attention_not_as_due(app, engine, integration, purchase_rule):
    engine.db.session.get(Integration, integration.id).status = NEEDS_ATTENTION
    engine.db.session.commit()
    purchase(engine, "ann@example.com")
    expand_events(context(), "acme")
    engine.db.session.commit()

    response = app.test_client().get(healthz_url(app))

    assert response.status_code == 200
    assert response.json["integrations_needing_attention"] == 1
    assert response.json["oldest_due_delivery_seconds"] is None


def test_redis_down_answers_503(app_config):
    app = create_app({**app_config, "ADDON_REDIS_URL": f"redis://127.0.0.1:{free_port()}/0"})

    response = app.test_client().get(healthz_url(app))

    assert response.status_code == 503
    body = response.json
    assert body["status"] == "error" and body["redis"] == "error: ConnectionError"
    assert body["database"] == "ok" and body["queue"] is None
    with app.app_context():
        app.extensions["addon"].db.engine.dispose()


def test_a_database_behind_the_package_answers_503_and_says_what_to_run(app, monkeypatch):
    monkeypatch.setattr(health.schema, "head_revision", lambda: "9999")

    response = app.test_client().get(healthz_url(app))

    assert response.status_code == 503
    assert "run 'flask addon db upgrade'" in response.json["schema"]


def test_an_unreachable_database_is_an_error_without_its_details(tmp_path):
    app = Flask("host")
    missing = tmp_path / "no-such-dir" / "shop.db"
    app.config.update(TESTING=True, SECRET_KEY="x", SQLALCHEMY_DATABASE_URI=f"sqlite:///{missing}")
    app.config["ADDON_REDIS_URL"] = None  # not the ADDON_REDIS_URL a CI run exports
    IntegrationEngine(app)

    with app.app_context():
        report = health.check()

    assert report["status"] == "error"
    assert report["database"] == "error: OperationalError" and report["schema"] == "unknown"
    assert report["redis"] == "not configured: set ADDON_REDIS_URL"
