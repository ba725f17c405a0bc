"""The host's hooks: what the engine asks the host, with which arguments, and what it does with
the answers (a missing required hook says which decorator to add)."""

from __future__ import annotations

import warnings

import pytest
from flask import Flask

from addon import IntegrationEngine
from tests.conftest import purchase


@pytest.fixture
def bare(tmp_path):
    """A host app with the engine and no hooks yet."""
    app = Flask("bare_host")
    app.config.update(
        TESTING=True,
        SECRET_KEY="bare",
        SQLALCHEMY_DATABASE_URI=f"sqlite:///{tmp_path / 'bare.db'}",
        ADDON_REDIS_URL=None,
        ADDON_WEBHOOK_SECRET="bare-secret",
    )
    engine = IntegrationEngine(app)
    with app.app_context():
        engine.prepare_database()
    yield app, engine
    with app.app_context():
        engine.db.engine.dispose()


# -- product loader ---------------------------------------------------------------------------


def test_the_product_loader_is_told_the_marketplace(bare):
    app, engine = bare
    asked = []

    @engine.product_loader
    def product_name(marketplace_id, product_id):
        asked.append((marketplace_id, product_id))
        return {("acme", "1"): "Acme Beans"}.get((marketplace_id, product_id))

    assert engine.product_name("acme", "1") == "Acme Beans"
    assert engine.product_name("bolt", "1") is None
    assert asked == [("acme", "1"), ("bolt", "1")]


def test_a_one_argument_product_loader_warns_once_when_registered_and_still_works(bare):
    app, engine = bare
    calls = []

    with pytest.warns(DeprecationWarning, match=r"\(marketplace_id, product_id\)") as caught:

        @engine.product_loader
        def product_name(product_id):
            calls.append(product_id)
            return "Old Loader Product"

    assert len(caught) == 1 and caught[0].filename == __file__  # points at the host's code
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no warning per call
        assert engine.product_name("acme", "5") == "Old Loader Product"
        assert engine.product_name("bolt", "5") == "Old Loader Product"
    assert calls == ["5", "5"]


def test_a_product_loader_of_no_arguments_is_refused_when_registered(bare):
    _, engine = bare

    with pytest.raises(TypeError, match="marketplace_id, product_id"):
        engine.product_loader(lambda: "nothing")


def test_a_one_argument_loaders_product_tab_still_opens(bare):
    app, engine = bare
    engine.marketplace_loader(lambda: "acme")
    with pytest.warns(DeprecationWarning):
        engine.product_loader(lambda product_id: {"7": "Seven"}.get(product_id))
    client = app.test_client()

    assert "Seven" in client.get("/integrations/products/7").text
    assert client.get("/integrations/products/8").status_code == 404


# -- marketplace loader -------------------------------------------------------------------------


def test_without_a_marketplace_loader_the_first_screen_request_says_which_decorator_to_add(bare):
    app, _ = bare

    with pytest.raises(RuntimeError, match=r"@engine\.marketplace_loader"):
        app.test_client().get("/integrations/")


def test_without_a_marketplace_loader_the_webhook_and_health_check_still_work(bare):
    app, _ = bare
    client = app.test_client()

    assert client.get("/integrations/healthz").status_code in (200, 503)
    assert client.post("/integrations/api/events", data=b"{}").status_code == 401


# -- known marketplaces -----------------------------------------------------------------------


def test_every_marketplace_is_known_until_the_host_registers_a_check(bare):
    _, engine = bare
    assert engine.is_known_marketplace("anything")

    engine.known_marketplace(lambda marketplace_id: marketplace_id == "acme")

    assert engine.is_known_marketplace("acme") and not engine.is_known_marketplace("bolt")


def test_emit_does_not_ask_the_known_marketplace_check(bare):
    app, engine = bare
    asked = []
    engine.known_marketplace(lambda marketplace_id: asked.append(marketplace_id) or False)

    with app.app_context():
        event_id = purchase(engine, event_id="e-1")

    assert event_id == "e-1" and asked == []
