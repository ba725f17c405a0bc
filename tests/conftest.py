"""Fixtures: a real Redis, a database (SQLite, or ``SQLALCHEMY_DATABASE_URI``), the iContact
simulator over real HTTP, the demo app with the add-on, and ``run_jobs()``."""

from __future__ import annotations

import os

import pytest
from redis import Redis
from sqlalchemy import create_engine, text

from addon.embedded_redis import EmbeddedRedis
from addon.sandbox import SandboxState, create_sandbox_app, serve_in_thread
from addon.settings import Settings
from addon.store.models import Base
from addon.workers import SimpleWorker
from wsgi import create_app

APP_ID = "test-app-id"
USERNAME = "merchant@example.com"
PASSWORD = "app-password-1"
LISTS = ("Customers", "Refunds", "Abandoned Carts")


@pytest.fixture(scope="session")
def redis_url():
    """The Redis the suite talks to: ``ADDON_REDIS_URL``, else an embedded server."""
    url = os.environ.get("ADDON_REDIS_URL")
    if url:
        yield url
        return
    with EmbeddedRedis() as server:
        yield server.url


@pytest.fixture(scope="session")
def sandbox():
    """The iContact simulator, served over HTTP for the whole session."""
    state = SandboxState()
    app = create_sandbox_app(state)
    base_url, server = serve_in_thread(app)
    yield state, base_url
    server.shutdown()


@pytest.fixture
def icontact(sandbox):
    """The simulator's state, reset, with one merchant account that enabled our App ID."""
    state, base_url = sandbox
    state.reset()
    state.register(USERNAME, APP_ID, PASSWORD, lists=LISTS)
    state.base_url = base_url
    return state


@pytest.fixture
def database_uri(tmp_path):
    """A database whose add-on schema the add-on's migrations built, with empty add-on tables.

    A fresh SQLite file by default; ``SQLALCHEMY_DATABASE_URI`` names a shared database instead.
    """
    from sqlalchemy import inspect

    from addon.store.db import VERSION_TABLE, upgrade

    shared = os.environ.get("SQLALCHEMY_DATABASE_URI")
    uri = shared or f"sqlite:///{tmp_path / 'test.db'}"
    engine = create_engine(uri)
    if shared and not inspect(engine).has_table(VERSION_TABLE):
        # Tables left by a run from before the migrations: build the schema afresh.
        Base.metadata.drop_all(engine)
    upgrade(engine)
    if shared:
        # A shared server database: start every test from empty add-on tables.
        with engine.begin() as conn:
            names = ", ".join(t.name for t in Base.metadata.sorted_tables)
            if engine.dialect.name == "postgresql":
                conn.execute(text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))
            else:
                for table in reversed(Base.metadata.sorted_tables):
                    conn.execute(table.delete())
    engine.dispose()
    return uri


@pytest.fixture
def app_config(database_uri, redis_url, icontact, tmp_path):
    return {
        "TESTING": True,
        "SECRET_KEY": "test-secret",
        "SQLALCHEMY_DATABASE_URI": database_uri,
        "ADDON_REDIS_URL": redis_url,
        "ADDON_ICONTACT_API_URL": icontact.base_url,
        "ADDON_ICONTACT_APP_ID": APP_ID,
        "ADDON_ENCRYPTION_KEY": "qkVb3v1dQG0Zq2kqkmS1XqGm0hQmM7V0Q2Yb6J3e2rA=",
        "ADDON_WEBHOOK_SECRET": "whsec-test",
        # The shared limiter has its own tests; elsewhere it must not pace the suite.
        "ADDON_ICONTACT_CALLS_PER_MINUTE": 1_000_000,
        # The nightly check has its own tests; elsewhere a sweep must not start one.
        "ADDON_CHECK_HOUR": None,
        "WTF_CSRF_ENABLED": True,
    }


@pytest.fixture
def app(app_config, redis_url, tmp_path):
    Redis.from_url(redis_url).flushdb()
    app = create_app(app_config)
    app.instance_path = str(tmp_path / "instance")
    yield app
    with app.app_context():
        app.extensions["addon"].db.engine.dispose()


@pytest.fixture
def engine(app):
    return app.extensions["addon"]


@pytest.fixture
def run_jobs(app):
    """Run every queued (and due scheduled) job in this process, like a worker would."""

    def run() -> int:
        queue = app.extensions["addon"].state(app).queue
        worker = SimpleWorker([queue], connection=queue.connection, job_class=queue.job_class)
        worker.work(burst=True, with_scheduler=True)
        return len(queue.finished_job_registry)

    return run


@pytest.fixture
def integration(engine, icontact):
    """A connected iContact integration of marketplace ``acme``."""
    return engine.connect("acme", label="Main iContact", username=USERNAME, password=PASSWORD)


def customers_rule(engine, integration, **options):
    """Product Purchased adds the customer to 'Customers': a global rule unless ``options``
    name a product (``product_id``) or ask for more (``double_opt_in``)."""
    return engine.add_rule(
        "acme",
        trigger="product.purchased",
        integration_id=integration.id,
        action="add",
        list_name="Customers",
        **options,
    )


@pytest.fixture
def purchase_rule(engine, integration):
    """A global rule: Product Purchased adds the customer to 'Customers'."""
    return customers_rule(engine, integration)


def configure(app, **values) -> None:
    """Change ``ADDON_*`` settings of a running app as if it had started with them: its config
    and the typed settings that ``init_app`` checked, which the engine reads."""
    app.config.update(values)
    with app.app_context():
        state = app.extensions["addon"].state()
    state.settings = Settings.from_config(app.config)


def purchase(engine, email: str = "ann@example.com", product_id: str = "101", **fields) -> str:
    """A storefront's primary purchase of ``product_id`` by ``email`` in marketplace ``acme``;
    ``fields`` go to ``emit`` (``event_id=...``)."""
    return engine.emit(
        "product.purchased",
        marketplace_id="acme",
        customer={"email": email},
        product_id=product_id,
        purchase_type="primary",
        **fields,
    )


def list_id(icontact, name: str) -> str:
    for item in icontact.lists(USERNAME):
        if item["name"] == name:
            return item["listId"]
    raise KeyError(name)


def find_contact(icontact, email: str) -> dict | None:
    for contact in icontact.contacts(USERNAME):
        if contact["email"].lower() == email.lower():
            return contact
    return None
