"""``flask addon ...``: worker, sweep, db upgrade, sandbox, logs and rotate-key."""

from __future__ import annotations

import gc
import threading

import pytest
import requests
from cryptography.fernet import Fernet, InvalidToken
from flask import Flask
from sqlalchemy import create_engine, inspect

from addon import IntegrationEngine
from addon.cli import logs as logs_module
from addon.cli.worker import startup_frozen
from addon.sandbox import server as sandbox_server
from addon.store import db as schema
from addon.store.models import NEEDS_ATTENTION, Integration
from tests.conftest import PASSWORD, list_id, purchase
from wsgi import create_app

COMMANDS = [
    ["addon"],
    ["addon", "worker"],
    ["addon", "sweep"],
    ["addon", "db"],
    ["addon", "db", "upgrade"],
    ["addon", "db", "current"],
    ["addon", "sandbox"],
    ["addon", "logs"],
    ["addon", "rotate-key"],
]


@pytest.fixture
def runner(app):
    return app.test_cli_runner()


@pytest.mark.parametrize("command", COMMANDS, ids=" ".join)
def test_every_command_explains_itself(runner, command):
    result = runner.invoke(args=[*command, "--help"])
    assert result.exit_code == 0, result.output
    usage, description = result.output.split("\n\n", 2)[:2]
    assert usage.startswith("Usage:") and len(description.split()) >= 5


# -- worker and sweep ---------------------------------------------------------------------------


@pytest.mark.parametrize("options", [[], ["--fork"]], ids=["simple", "fork"])
def test_worker_burst_applies_the_queued_events(runner, engine, purchase_rule, icontact, options):
    purchase(engine, "ann@example.com")
    purchase(engine, "bob@example.com")

    result = runner.invoke(args=["addon", "worker", "--burst", *options])

    assert result.exit_code == 0, result.output
    customers = list_id(icontact, "Customers")
    assert set(icontact.subscribers(customers)) == {"ann@example.com", "bob@example.com"}
    engine.db.session.expire_all()
    assert [entry.status for entry in engine.logs("acme")] == ["success", "success"]


def test_worker_without_redis_says_what_is_missing(app_config):
    app = create_app({**app_config, "ADDON_REDIS_URL": None})
    with app.app_context():
        result = app.test_cli_runner().invoke(args=["addon", "worker", "--burst"])
    assert result.exit_code == 1
    assert "ADDON_REDIS_URL is not set" in result.output


def test_sweep_reports_what_it_requeued(runner):
    result = runner.invoke(args=["addon", "sweep"])
    assert result.exit_code == 0
    assert result.output.startswith("re-enqueued 0 marketplace(s)")


# -- db -----------------------------------------------------------------------------------------


def test_db_upgrade_creates_the_tables_of_a_bare_app(tmp_path):
    uri = f"sqlite:///{tmp_path / 'bare.db'}"
    app = Flask("bare")
    app.config.update(TESTING=True, SECRET_KEY="x", SQLALCHEMY_DATABASE_URI=uri)
    IntegrationEngine(app)
    runner = app.test_cli_runner()

    with app.app_context():
        assert runner.invoke(args=["addon", "db", "current"]).output.startswith(
            "database: not migrated"
        )
        result = runner.invoke(args=["addon", "db", "upgrade"])
        assert result.exit_code == 0, result.output
        newest = schema.head_revision()
        assert runner.invoke(args=["addon", "db", "current"]).output.startswith(
            f"database: {newest}  newest: {newest}"
        )
        again = runner.invoke(args=["addon", "db", "upgrade"])
        assert again.exit_code == 0
    engine = create_engine(uri)
    assert {"addon_event", "addon_alembic_version"} <= set(inspect(engine).get_table_names())
    engine.dispose()


# -- sandbox ------------------------------------------------------------------------------------


def test_sandbox_serves_an_account_with_the_apps_app_id(runner, app, monkeypatch):
    answers = {}

    def serve_one_check(server):
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        try:
            base_url = f"http://127.0.0.1:{server.server_port}/icp"
            answers["accounts"] = requests.get(
                f"{base_url}/a/",
                headers={
                    "Accept": "application/json",
                    "API-Version": "2.2",
                    "API-AppId": app.config["ADDON_ICONTACT_APP_ID"],
                    "API-Username": "me@example.com",
                    "API-Password": "app-pass",
                },
                timeout=5,
            )
        finally:
            server.shutdown()
            server.server_close()

    monkeypatch.setattr(sandbox_server, "serve_until_interrupted", serve_one_check)
    result = runner.invoke(
        args=[
            "addon", "sandbox", "--username", "me@example.com", "--password", "app-pass",
            "--lists", "Customers, Refunds",
        ]
    )  # fmt: skip

    assert result.exit_code == 0, result.output
    assert "ADDON_ICONTACT_API_URL=http://127.0.0.1:" in result.output
    assert answers["accounts"].status_code == 200
    assert answers["accounts"].json()["accounts"][0]["accountId"]


def test_sandbox_wants_username_and_password_together(runner):
    result = runner.invoke(args=["addon", "sandbox", "--username", "me@example.com"])
    assert result.exit_code == 2
    assert "--username and --password go together" in result.output


# -- logs ---------------------------------------------------------------------------------------


def test_logs_prints_one_line_per_entry_oldest_first(runner, engine, purchase_rule, run_jobs):
    purchase(engine, "ann@example.com", event_id="o-1")
    run_jobs()
    purchase(engine, "bob@example.com", event_id="o-2")
    run_jobs()

    result = runner.invoke(args=["addon", "logs", "acme"])

    assert result.exit_code == 0, result.output
    first, second = result.output.splitlines()
    for line, email in ((first, "ann@example.com"), (second, "bob@example.com")):
        day, clock, status, trigger, shown_email, list_name, *message = line.split()
        assert len(f"{day} {clock}") == 19 and status == "success"
        assert trigger == "product.purchased"
        assert shown_email == email and list_name == "Customers" and message


def test_logs_filters_and_says_when_nothing_matches(runner, engine, purchase_rule, run_jobs):
    purchase(engine, "ann@example.com")
    purchase(engine, "bob@example.com")
    run_jobs()

    found = runner.invoke(args=["addon", "logs", "acme", "--q", "BOB@", "--status", "success"])
    assert [line.split()[4] for line in found.output.splitlines()] == ["bob@example.com"]

    none = runner.invoke(args=["addon", "logs", "acme", "--status", "failed"])
    assert none.exit_code == 0
    assert none.stdout == "" and "No log entries" in none.stderr


def test_logs_follow_prints_new_entries_and_status_changes(
    runner, engine, integration, purchase_rule, run_jobs, monkeypatch
):
    # Held deliveries stay pending until the integration is fixed.
    engine.db.session.get(Integration, integration.id).status = NEEDS_ATTENTION
    engine.db.session.commit()
    purchase(engine, "ann@example.com")
    run_jobs()
    polls = []

    def next_poll(seconds):
        polls.append(seconds)
        if len(polls) == 1:  # meanwhile: the merchant fixes the integration, a sale comes in
            fixed = engine.db.session.get(Integration, integration.id)
            fixed.status = "connected"
            engine.db.session.commit()
            purchase(engine, "bob@example.com")
            run_jobs()
        else:
            raise KeyboardInterrupt  # the operator's Ctrl-C

    monkeypatch.setattr(logs_module, "_wait", next_poll)
    result = runner.invoke(args=["addon", "logs", "acme", "--follow", "--interval", "0.5"])

    assert result.exit_code == 0, result.output
    shown = [(line.split()[2], line.split()[4]) for line in result.output.splitlines()]
    assert shown[0] == ("pending", "ann@example.com")
    assert sorted(shown[1:]) == [("success", "ann@example.com"), ("success", "bob@example.com")]
    assert polls == [0.5, 0.5]


# -- rotate-key ---------------------------------------------------------------------------------


def secret_of(app, integration_id) -> str:
    with app.app_context():
        engine = app.extensions["addon"]
        engine.db.session.expire_all()
        return engine.db.session.get(Integration, integration_id).secret


def test_rotate_key_moves_every_password_to_the_newest_key(app, app_config, integration):
    old = app_config["ADDON_ENCRYPTION_KEY"]
    new = Fernet.generate_key().decode()
    rotated_app = create_app({**app_config, "ADDON_ENCRYPTION_KEY": f"{new},{old}"})

    with rotated_app.app_context():
        result = rotated_app.test_cli_runner().invoke(args=["addon", "rotate-key"])

    assert result.exit_code == 0, result.output
    assert "Re-encrypted 1 stored password(s)" in result.output
    token = secret_of(rotated_app, integration.id).encode()
    assert Fernet(new).decrypt(token).decode() == PASSWORD
    with pytest.raises(InvalidToken):
        Fernet(old).decrypt(token)


def test_rotate_key_changes_nothing_when_a_password_is_unreadable(app, app_config, integration):
    before = secret_of(app, integration.id)
    wrong_app = create_app({**app_config, "ADDON_ENCRYPTION_KEY": Fernet.generate_key().decode()})

    with wrong_app.app_context():
        result = wrong_app.test_cli_runner().invoke(args=["addon", "rotate-key"])

    assert result.exit_code == 1
    assert "holds one key" in result.output
    assert f"#{integration.id} 'Main iContact' (acme)" in result.output
    assert "nothing was changed" in result.output
    assert secret_of(app, integration.id) == before


def test_a_worker_keeps_what_it_started_with_out_of_the_collectors_full_walks():
    before = gc.get_freeze_count()
    with startup_frozen():
        assert gc.get_freeze_count() > before
    assert gc.get_freeze_count() == before
