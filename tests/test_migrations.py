"""The add-on's own migrations: they build the schema, match the models, and stay out of the
way of a host's Flask-Migrate history (and the host's out of theirs)."""

from __future__ import annotations

import logging
import os
import shutil
import uuid

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import create_engine, event, inspect, text

from addon.store import db as schema
from addon.store.models import Base

ADDON_TABLES = {table.name for table in Base.metadata.sorted_tables}
# The shared server database (PostgreSQL in CI) when the suite runs against one.
SHARED_URI = os.environ.get("SQLALCHEMY_DATABASE_URI")


@pytest.fixture(params=["sqlite", "shared"] if SHARED_URI else ["sqlite"])
def empty_uri(request, tmp_path):
    """An empty database: a new SQLite file, or a new schema of the suite's PostgreSQL."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'empty.db'}"
        return
    admin = create_engine(SHARED_URI)
    if admin.dialect.name != "postgresql":
        pytest.skip("an empty database on this server needs a PostgreSQL schema")
    name = f"addon_test_{uuid.uuid4().hex[:8]}"
    with admin.begin() as conn:
        conn.execute(text(f"CREATE SCHEMA {name}"))
    # Unqualified names (the migrations', Alembic's) then land in the new, empty schema.
    yield admin.url.update_query_dict({"options": f"-csearch_path={name}"}).render_as_string(
        hide_password=False
    )
    with admin.begin() as conn:
        conn.execute(text(f"DROP SCHEMA {name} CASCADE"))
    admin.dispose()


@pytest.fixture
def empty_engine(empty_uri):
    engine = create_engine(empty_uri)
    yield engine
    engine.dispose()


def newest_shipped() -> str:
    """The highest-numbered migration file shipped in the package."""
    return max(path.name[:4] for path in (schema.MIGRATIONS / "versions").glob("[0-9]*.py"))


def table_names(engine) -> set[str]:
    return set(inspect(engine).get_table_names())


def test_upgrade_builds_every_addon_table_and_its_own_version_table(empty_engine):
    schema.upgrade(empty_engine)

    assert table_names(empty_engine) == ADDON_TABLES | {"addon_alembic_version"}
    with empty_engine.connect() as conn:
        assert schema.current_revision(conn) == schema.head_revision() == newest_shipped()


def test_autogenerate_on_a_migrated_database_finds_nothing_to_change(empty_engine):
    """The drift check: a model change without a migration fails here.

    Write the missing migration with ``addon.store.db.new_revision("what changed")``.
    """
    schema.upgrade(empty_engine)
    with empty_engine.connect() as conn:
        context = MigrationContext.configure(
            conn,
            opts={
                "include_name": schema.include_name,
                "compare_type": True,
                "version_table": schema.VERSION_TABLE,
            },
        )
        assert compare_metadata(context, Base.metadata) == []


def test_upgrade_twice_is_a_no_op(empty_engine):
    schema.upgrade(empty_engine)
    with empty_engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO addon_event (marketplace_id, event_id, type, email_key, payload,"
                " created_at) VALUES ('acme', 'e-1', 'product.purchased', 'a@example.com',"
                " '{}', '2025-01-01 00:00:00')"
            )
        )
    statements: list[str] = []
    event.listen(empty_engine, "before_cursor_execute", lambda *args: statements.append(args[2]))

    schema.upgrade(empty_engine)

    changes = [s for s in statements if s.lstrip().upper().startswith(("CREATE", "ALTER", "DROP"))]
    assert changes == []
    with empty_engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM addon_event")).scalar() == 1
        assert conn.execute(text("SELECT count(*) FROM addon_alembic_version")).scalar() == 1


def test_upgrade_on_a_connection_commits_what_it_began(empty_engine):
    with empty_engine.connect() as conn:
        schema.upgrade(conn)
        assert not conn.in_transaction()
    assert "addon_delivery" in table_names(empty_engine)


def test_tables_made_without_the_migrations_are_refused_with_what_to_do(empty_engine):
    Base.metadata.create_all(empty_engine)

    with pytest.raises(RuntimeError, match="Drop the addon_\\* tables"):
        schema.upgrade(empty_engine)


def test_engine_prepare_database_runs_the_migrations(app, engine):
    with app.app_context():
        engine.prepare_database()
        with engine.db.engine.connect() as conn:
            assert schema.current_revision(conn) == schema.head_revision()


def test_new_revision_writes_the_next_numbered_migration(tmp_path, monkeypatch):
    """What a maintainer runs after changing the models (here: with nothing changed)."""
    copy = tmp_path / "migrations"
    shutil.copytree(schema.MIGRATIONS, copy, ignore=shutil.ignore_patterns("__pycache__"))
    monkeypatch.setattr(schema, "MIGRATIONS", copy)
    newest = newest_shipped()

    try:
        path = schema.new_revision("nothing new")
    finally:
        schema.head_revision.cache_clear()  # computed from the copy: forget it

    assert path.parent == copy / "versions"
    assert path.name == f"{int(newest) + 1:04d}_nothing_new.py"
    source = path.read_text()
    assert f'down_revision = "{newest}"' in source.replace("'", '"')
    assert "op." not in source  # the models match the newest migration: nothing to migrate


# -- a host that uses Flask-Migrate for its own tables ---------------------------------------


@pytest.fixture
def keep_logging():
    """Flask-Migrate's env.py runs ``logging.config.fileConfig``, which disables every logger
    that exists; put the logging set-up back for the tests that follow."""
    manager = logging.root.manager
    loggers = {
        name: (item.disabled, item.level, list(item.handlers))
        for name, item in manager.loggerDict.items()
        if isinstance(item, logging.Logger)
    }
    root = (logging.root.level, list(logging.root.handlers))
    yield
    for name, (disabled, level, handlers) in loggers.items():
        logger = logging.getLogger(name)
        logger.disabled, logger.level, logger.handlers = disabled, level, handlers
    logging.root.level, logging.root.handlers = root


def make_host(uri, directory, **migrate_options):
    """A host app with its own Flask-SQLAlchemy model and Flask-Migrate, plus the add-on."""
    from flask import Flask
    from flask_migrate import Migrate
    from flask_sqlalchemy import SQLAlchemy

    from addon import IntegrationEngine

    db = SQLAlchemy()

    class Order(db.Model):  # type: ignore[name-defined]
        __tablename__ = "shop_order"
        id = db.Column(db.Integer, primary_key=True)
        total = db.Column(db.Integer, nullable=False)

    app = Flask("host")
    app.config.update(TESTING=True, SQLALCHEMY_DATABASE_URI=uri, SECRET_KEY="host")
    db.init_app(app)
    Migrate(app, db, directory=str(directory), **migrate_options)
    IntegrationEngine(app, db=db)
    return app, db


@pytest.mark.filterwarnings("ignore:.get_engine. is deprecated:DeprecationWarning")
def test_host_autogenerate_with_host_include_name_leaves_the_addon_tables_alone(
    empty_uri, tmp_path, keep_logging
):
    import flask_migrate

    directory = tmp_path / "host_migrations"
    app, db = make_host(empty_uri, directory, include_name=schema.host_include_name)
    with app.app_context():
        flask_migrate.init(str(directory))
        app.extensions["addon"].prepare_database()  # the add-on's tables exist first

        flask_migrate.migrate(str(directory), message="orders")
        [revision] = (directory / "versions").glob("*.py")
        source = revision.read_text()
        assert "create_table('shop_order'" in source
        assert "addon_" not in source  # no drop_table('addon_rule'), no version table

        flask_migrate.upgrade(str(directory))
        tables = table_names(db.engine)
        assert {"alembic_version", "addon_alembic_version", "shop_order"} <= tables
        assert ADDON_TABLES <= tables

        # Without the helper, the host's autogenerate would drop the add-on's tables.
        with db.engine.connect() as conn:
            plain = compare_metadata(MigrationContext.configure(conn), db.metadata)
            helped = compare_metadata(
                MigrationContext.configure(conn, opts={"include_name": schema.host_include_name}),
                db.metadata,
            )
        assert {d[1].name for d in plain if d[0] == "remove_table"} >= ADDON_TABLES
        assert helped == []
        db.engine.dispose()
