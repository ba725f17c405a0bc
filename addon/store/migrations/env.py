"""The add-on's own Alembic environment, run by :func:`addon.store.db.upgrade`.

It migrates only the ``addon_*`` tables and records its revision in ``addon_alembic_version``,
so it lives next to a host's own migrations without either one touching the other's tables.
The connection comes from the caller (``config.attributes["connection"]``): there is no
``alembic.ini`` and no URL here.
"""

from __future__ import annotations

from alembic import context
from sqlalchemy import text

from addon.store.db import VERSION_TABLE, include_name
from addon.store.models import Base

# Any fixed number: processes that migrate at once (web app and workers starting together)
# queue on this PostgreSQL advisory lock instead of racing to create the same tables.
MIGRATION_LOCK_ID = 7_306_455_101

config = context.config
connection = config.attributes.get("connection")
if connection is None or context.is_offline_mode():
    raise RuntimeError(
        "The add-on's migrations run on a live connection: use addon.store.db.upgrade(engine) "
        "or 'flask addon db upgrade', not the alembic command line."
    )

context.configure(
    connection=connection,
    target_metadata=Base.metadata,
    version_table=VERSION_TABLE,
    include_name=include_name,
    # SQLite can alter a table only by copying it; batch mode does that for every dialect.
    render_as_batch=True,
    compare_type=True,
)

with context.begin_transaction():
    if connection.dialect.name == "postgresql":
        connection.execute(text("SELECT pg_advisory_xact_lock(:id)"), {"id": MIGRATION_LOCK_ID})
    context.run_migrations()
