"""The add-on's schema: its own Alembic migrations, run on the host's database.

The add-on ships an Alembic environment of its own (``addon/migrations``) with its own version
table, so its history never mixes with the host's: a host that uses Flask-Migrate keeps its
``alembic_version``, the add-on keeps ``addon_alembic_version``. Every table of the add-on is
named ``addon_*``; that prefix is how both environments tell the tables apart.

>>> upgrade(engine)                     # what ``flask addon db upgrade`` and the engine run
>>> Migrate(app, db, include_name=host_include_name)   # in a host that uses Flask-Migrate
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import TYPE_CHECKING

from alembic import command
from alembic.config import Config
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, Engine, inspect

if TYPE_CHECKING:
    from alembic.runtime.environment import NameFilterParentNames, NameFilterType

#: Alembic's version table for the add-on's history (the host's stays ``alembic_version``).
VERSION_TABLE = "addon_alembic_version"
#: Every table of the add-on starts with this; hosts should not name their own tables so.
TABLE_PREFIX = "addon_"
#: The Alembic environment shipped inside the package.
MIGRATIONS = Path(__file__).resolve().parent / "migrations"


def alembic_config(connection: Connection | None = None) -> Config:
    """An Alembic ``Config`` for the add-on's environment, built in code (no ``alembic.ini``).

    Args:
        connection: handed to ``env.py`` through ``config.attributes["connection"]``.
    """
    config = Config()
    # ConfigParser interpolation would read a "%" in the install path as a placeholder.
    config.set_main_option("script_location", str(MIGRATIONS).replace("%", "%%"))
    config.attributes["connection"] = connection
    return config


def upgrade(engine_or_connection: Engine | Connection, revision: str = "head") -> None:
    """Migrate the add-on's tables to ``revision``; a database already there is left alone.

    Args:
        engine_or_connection: the host's database. An ``Engine`` gets a transaction of its
            own; a ``Connection`` is used as is, and committed when this call began its
            transaction (a caller's open transaction is left for the caller to commit).
        revision: an Alembic revision id, or ``"head"`` for the newest.

    Raises:
        RuntimeError: the add-on's tables exist but were never migrated (made by
            ``create_all()`` before the add-on shipped migrations).
    """
    if isinstance(engine_or_connection, Engine):
        with engine_or_connection.begin() as connection:
            _upgrade(connection, revision)
        return
    connection = engine_or_connection
    began = not connection.in_transaction()
    _upgrade(connection, revision)
    if began and connection.in_transaction():
        connection.commit()


def _upgrade(connection: Connection, revision: str) -> None:
    tables = set(inspect(connection).get_table_names())
    if VERSION_TABLE not in tables and any(name.startswith(TABLE_PREFIX) for name in tables):
        raise RuntimeError(
            f"The add-on's tables exist but {VERSION_TABLE} does not: they were created "
            "without its migrations (a development database from before 0.1.0). "
            "Drop the addon_* tables (or the development database) and run "
            "'flask addon db upgrade' again."
        )
    command.upgrade(alembic_config(connection), revision)


def current_revision(connection: Connection) -> str | None:
    """The add-on's revision in this database, or None when it was never migrated."""
    context = MigrationContext.configure(connection, opts={"version_table": VERSION_TABLE})
    return context.get_current_revision()


@functools.cache
def head_revision() -> str | None:
    """The newest revision shipped in this package."""
    return ScriptDirectory.from_config(alembic_config()).get_current_head()


def include_name(
    name: str | None, type_: NameFilterType, parent_names: NameFilterParentNames
) -> bool:
    """Alembic ``include_name`` for the add-on's environment: only ``addon_*`` tables.

    So the add-on's autogenerate never sees (or proposes dropping) the host's tables.
    """
    if type_ == "table":
        return (name or "").startswith(TABLE_PREFIX)
    return True


def host_include_name(
    name: str | None, type_: NameFilterType, parent_names: NameFilterParentNames
) -> bool:
    """Alembic ``include_name`` for a host's environment: everything but the add-on's tables.

    Pass it to Flask-Migrate, ``Migrate(app, db, include_name=host_include_name)``, so the
    host's ``flask db migrate`` never proposes dropping ``addon_*`` tables (or the add-on's
    version table), which the host's models do not declare.
    """
    if type_ == "table":
        return not (name or "").startswith(TABLE_PREFIX)
    return True


def new_revision(message: str) -> Path:
    """Write the next migration from the models' changes (for the add-on's maintainers).

    Migrates a scratch SQLite database to the newest revision, compares it with
    ``addon.store.models`` and writes ``migrations/versions/NNNN_<message>.py``. Read the result
    before committing it: autogenerate does not see renames or data changes.

        python -c "from addon.store.db import new_revision; new_revision('add rule notes')"

    Returns:
        The path of the new revision file.
    """
    from sqlalchemy import create_engine

    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    rev_id = f"{int(head or 0) + 1:04d}"
    with create_engine("sqlite://").connect() as connection:
        _upgrade(connection, "head")
        config = alembic_config(connection)
        # Format the new file like the rest of the code (ruff comes with the "test" extra).
        config.set_section_option("post_write_hooks", "hooks", "ruff")
        config.set_section_option("post_write_hooks", "ruff.type", "module")
        config.set_section_option("post_write_hooks", "ruff.module", "ruff")
        config.set_section_option(
            "post_write_hooks", "ruff.options", "format REVISION_SCRIPT_FILENAME"
        )
        script = command.revision(config, message, autogenerate=True, rev_id=rev_id)
    head_revision.cache_clear()
    assert script is not None and not isinstance(script, list)
    return Path(script.path)
