"""Settings: from the app's config, else the environment, else the default; and one reference
page (docs/settings.md) that says exactly what ``addon/config.py`` has."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from flask import Flask

from addon import IntegrationEngine
from addon import config as defaults
from addon.environment import from_environ, parse_setting, setting_names

ROOT = Path(__file__).resolve().parent.parent
REFERENCE = ROOT / "docs" / "settings.md"
ROW = re.compile(r"^\| `(ADDON_[A-Z0-9_]+)` \| (.*?) \| (.*?) \| (.*?) \|$", re.M)


def host(tmp_path, **config) -> Flask:
    app = Flask("settings_host")
    app.config.update(
        TESTING=True, SECRET_KEY="s", SQLALCHEMY_DATABASE_URI=f"sqlite:///{tmp_path / 's.db'}"
    )
    app.config.update(config)
    IntegrationEngine(app)
    return app


@pytest.fixture
def clean_environ(monkeypatch):
    """No ADDON_* variable from the machine running the tests."""
    for name in setting_names():
        monkeypatch.delenv(name, raising=False)
    return monkeypatch


# -- init_app reads the environment ------------------------------------------------------------


def test_init_app_reads_addon_variables_from_the_environment_typed_like_their_defaults(
    tmp_path, clean_environ
):
    clean_environ.setenv("ADDON_QUEUE", "shop-b")
    clean_environ.setenv("ADDON_LOG_LIMIT", "500")
    clean_environ.setenv("ADDON_INCLUDE_HTMX", "off")
    clean_environ.setenv("ADDON_ICONTACT_TIMEOUT", "3,30")
    clean_environ.setenv("ADDON_ICONTACT_API_URL", "http://127.0.0.1:8025/icp")

    config = host(tmp_path).config

    assert config["ADDON_QUEUE"] == "shop-b"
    assert config["ADDON_LOG_LIMIT"] == 500
    assert config["ADDON_INCLUDE_HTMX"] is False
    assert config["ADDON_ICONTACT_TIMEOUT"] == (3.0, 30.0)
    assert config["ADDON_ICONTACT_API_URL"] == "http://127.0.0.1:8025/icp"
    assert config["ADDON_SWEEP_INTERVAL"] == defaults.ADDON_SWEEP_INTERVAL  # unset: default


def test_the_apps_config_beats_the_environment(tmp_path, clean_environ):
    clean_environ.setenv("ADDON_QUEUE", "from-environment")
    clean_environ.setenv("ADDON_LOG_LIMIT", "not a number")  # never read: the app sets it

    config = host(tmp_path, ADDON_QUEUE="from-config", ADDON_LOG_LIMIT=20).config

    assert config["ADDON_QUEUE"] == "from-config" and config["ADDON_LOG_LIMIT"] == 20


def test_a_variable_of_the_wrong_type_stops_init_app_naming_it(tmp_path, clean_environ):
    clean_environ.setenv("ADDON_LOG_LIMIT", "lots")

    with pytest.raises(ValueError, match="ADDON_LOG_LIMIT='lots'.*whole number"):
        host(tmp_path)


@pytest.mark.parametrize(
    "name, text, expected",
    [
        ("ADDON_INCLUDE_HTMX", "Yes", True),
        ("ADDON_INCLUDE_HTMX", "0", False),
        ("ADDON_ICONTACT_TIMEOUT", "10", (10.0, 10.0)),
        ("ADDON_WEBHOOK_TOLERANCE", " 120 ", 120),
        ("ADDON_REDIS_URL", "redis://localhost:6379/3", "redis://localhost:6379/3"),
    ],
)
def test_each_type_is_read_from_text(name, text, expected):
    assert parse_setting(name, text) == expected


@pytest.mark.parametrize(
    "name, text", [("ADDON_INCLUDE_HTMX", "maybe"), ("ADDON_ICONTACT_TIMEOUT", "1,2,3")]
)
def test_text_that_fits_no_value_is_refused(name, text):
    with pytest.raises(ValueError, match=name):
        parse_setting(name, text)


def test_empty_and_unknown_variables_are_left_alone():
    environ = {"ADDON_QUEUE": "", "ADDON_NO_SUCH_SETTING": "x", "ADDON_LOG_LIMIT": "7"}
    assert from_environ(environ) == {"ADDON_LOG_LIMIT": 7}


def test_the_demo_reads_the_environment_through_the_addon(tmp_path, clean_environ):
    from wsgi import create_app

    clean_environ.setenv("ADDON_LOG_LIMIT", "42")
    clean_environ.setenv("ADDON_BASE_TEMPLATE", "addon/_standalone.html")
    app = create_app(
        {"TESTING": True, "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / 'demo.db'}"}
    )

    assert app.config["ADDON_LOG_LIMIT"] == 42
    assert app.config["ADDON_BASE_TEMPLATE"] == "addon/_standalone.html"  # beats its default


# -- the reference page -----------------------------------------------------------------------


def documented() -> dict[str, tuple[str, str, str]]:
    rows = ROW.findall(REFERENCE.read_text())
    names = [row[0] for row in rows]
    assert len(names) == len(set(names)), "a setting is documented twice"
    return {name: (default, meaning, example) for name, default, meaning, example in rows}


def test_every_setting_is_documented_and_nothing_else():
    rows = documented()

    missing = set(setting_names()) - set(rows)
    unknown = set(rows) - set(setting_names())
    assert not missing, f"add a row to docs/settings.md for {sorted(missing)}"
    assert not unknown, f"docs/settings.md documents settings that do not exist: {sorted(unknown)}"


def test_each_documented_default_is_the_real_one_with_a_meaning_and_an_example():
    text = REFERENCE.read_text()
    for name, (default, meaning, example) in documented().items():
        value = getattr(defaults, name)
        if isinstance(value, str) and len(value) > 60:
            assert value in text, f"{name}: docs/settings.md must show its default in full"
        else:
            assert f"`{value!r}`" in default, f"{name}: documented default {default!r}"
        assert len(meaning) > 20, f"{name}: say what it is"
        assert example.startswith(f"`{name}="), f"{name}: give an example"
        parse_setting(name, example.strip("`").split("=", 1)[1].strip('"'))  # a valid value


def test_the_guide_and_readme_point_at_the_reference():
    for page in (ROOT / "README.md", ROOT / "docs" / "mounting.md"):
        assert "settings.md" in page.read_text(), page.name
