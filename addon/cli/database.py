"""``flask addon db ...``: the add-on's own tables, created and kept up to date."""

from __future__ import annotations

import click

from ..state import engine


@click.group("db")
def db_group() -> None:
    """The add-on's tables: create them and keep them up to date.

    The add-on migrates its own addon_* tables with its own Alembic history (version table
    addon_alembic_version), next to whatever migrations the host runs for its tables.
    """


@db_group.command("upgrade", short_help="Create or update the add-on's tables.")
@click.argument("revision", default="head")
def db_upgrade_command(revision: str) -> None:
    """Create or update the add-on's tables, up to REVISION (default: the newest).

    Run it after installing or upgrading the add-on, before starting the web app and the
    workers. Running it again changes nothing.
    """
    from ..store import db as schema

    schema.upgrade(engine().db.engine, revision)
    click.echo(f"addon tables at revision {revision}")


@db_group.command("current", short_help="Show the tables' revision and the newest one.")
def db_current_command() -> None:
    """Show the add-on's schema revision in this database and the newest one shipped."""
    from ..store import db as schema

    with engine().db.engine.connect() as connection:
        current = schema.current_revision(connection)
    head = schema.head_revision()
    click.echo(f"database: {current or 'not migrated'}  newest: {head}")
    if current != head:
        click.echo("Run 'flask addon db upgrade' to bring the tables up to date.", err=True)
