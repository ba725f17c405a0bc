"""One typed ``Settings``, checked by ``init_app``: a wrong value stops the start-up with a
message naming the key, the value and what it must be, never a worker in the middle of a batch."""

from __future__ import annotations

import dataclasses

import pytest
from flask import Flask

from addon import IntegrationEngine
from addon import config as defaults
from addon.environment import setting_names
from addon.settings import Settings
from addon.state import settings

KEY = "qkVb3v1dQG0Zq2kqkmS1XqGm0hQmM7V0Q2Yb6J3e2rA="


def host(tmp_path, **config) -> Flask:
    app = Flask("typed_settings_host")
    app.config.update(
        TESTING=True, SECRET_KEY="s", SQLALCHEMY_DATABASE_URI=f"sqlite:///{tmp_path / 's.db'}"
    )
    app.config.update(config)
    return app


@pytest.fixture(autouse=True)
def clean_environ(monkeypatch):
    """No ADDON_* variable from the machine running the tests."""
    for name in setting_names():
        monkeypatch.delenv(name, raising=False)


@pytest.mark.parametrize(
    "key, value, expected",
    [
        ("ADDON_LOG_LIMIT", "500", "a whole number above zero"),
        ("ADDON_CLAIM_BATCH", 0, "a whole number above zero"),
        ("ADDON_CLAIM_BATCH", 2.5, "a whole number above zero"),
        ("ADDON_CLAIM_BATCH", True, "a whole number above zero"),
        ("ADDON_SWEEP_INTERVAL", -30, "a whole number above zero"),
        ("ADDON_SWEEP_INTERVAL", 0, "a whole number above zero"),
        ("ADDON_SWEEP_INTERVAL", 0.5, "a whole number above zero"),
        ("ADDON_DRAIN_SECONDS", float("nan"), "a number above zero"),
        ("ADDON_LEASE_SECONDS", -1, "a whole number above zero"),
        ("ADDON_PROSPECT_DELAY", -60, "a whole number of zero or more"),
        ("ADDON_RETRY_WINDOW", "1 day", "a whole number of zero or more"),
        ("ADDON_ICONTACT_CALLS_PER_MINUTE", None, "a whole number above zero"),
        ("ADDON_ICONTACT_TIMEOUT", (5.0,), "(connect, read) seconds"),
        ("ADDON_ICONTACT_TIMEOUT", (5.0, 20.0, 1.0), "(connect, read) seconds"),
        ("ADDON_ICONTACT_TIMEOUT", (5.0, -1), "(connect, read) seconds"),
        ("ADDON_ICONTACT_TIMEOUT", "5,20", "(connect, read) seconds"),
        ("ADDON_INCLUDE_HTMX", "no", "True or False"),
        ("ADDON_QUEUE", 7, "text"),
        ("ADDON_REDIS_URL", 6379, "text or None"),
    ],
)
def test_a_wrong_value_stops_init_app_naming_the_key_the_value_and_what_it_must_be(
    tmp_path, key, value, expected
):
    app = host(tmp_path, **{key: value})

    with pytest.raises(ValueError) as info:
        IntegrationEngine(app)

    message = str(info.value)
    assert message.startswith(f"{key}={value!r}: expected ")
    assert expected in message
    assert "addon" not in app.extensions  # nothing half-registered: fix the value and start again


def test_the_defaults_are_valid_settings_typed_as_documented(tmp_path):
    app = host(tmp_path, ADDON_ENCRYPTION_KEY=KEY)
    engine = IntegrationEngine(app)

    with app.app_context():
        typed = engine.settings
        assert settings() is typed
    assert typed.log_limit == defaults.ADDON_LOG_LIMIT
    assert typed.queue_name == defaults.ADDON_QUEUE
    assert typed.icontact_timeout == defaults.ADDON_ICONTACT_TIMEOUT
    assert typed.redis_url is None and typed.include_htmx is True
    assert engine.state(app).settings is typed


def test_the_apps_config_stays_the_hosts_interface(tmp_path):
    app = host(tmp_path, ADDON_CLAIM_BATCH=25, ADDON_ICONTACT_TIMEOUT=[3, 30])
    engine = IntegrationEngine(app)

    with app.app_context():
        assert engine.settings.claim_batch == 25
        assert engine.settings.icontact_timeout == (3.0, 30.0)  # a list from JSON is fine
    assert app.config["ADDON_CLAIM_BATCH"] == 25  # the host's value, untouched


def test_one_number_is_both_timeouts(tmp_path):
    app = host(tmp_path, ADDON_ICONTACT_TIMEOUT=10)
    engine = IntegrationEngine(app)

    assert engine.state(app).settings.icontact_timeout == (10.0, 10.0)


def test_settings_are_frozen_and_their_repr_shows_no_secret(tmp_path):
    app = host(tmp_path, ADDON_ENCRYPTION_KEY=KEY, ADDON_WEBHOOK_SECRET="whsec-very-secret")
    typed = IntegrationEngine(app).state(app).settings

    with pytest.raises(dataclasses.FrozenInstanceError):
        typed.log_limit = 1  # type: ignore[misc]
    assert KEY not in repr(typed) and "whsec-very-secret" not in repr(typed)
    assert typed.webhook_secret == "whsec-very-secret"


def test_every_setting_has_one_typed_field_and_every_field_one_setting():
    keys = [field.metadata["key"] for field in dataclasses.fields(Settings)]

    assert sorted(keys) == setting_names()
    assert Settings.key_of("claim_batch") == "ADDON_CLAIM_BATCH"
