"""``flask addon ...`` commands."""

from __future__ import annotations

import click
from flask import current_app
from flask.cli import AppGroup

addon_cli = AppGroup("addon", help="The iContact Integration Engine add-on.")


@addon_cli.command("sweep")
def sweep_command() -> None:
    """Re-enqueue events and deliveries that waited too long (after a Redis outage)."""
    from .jobs import sweep

    click.echo(sweep())


@addon_cli.command("create-tables")
def create_tables_command() -> None:
    """Create the add-on's tables in the app's database (if missing)."""
    current_app.extensions["addon"].create_all()
    click.echo("addon tables ready")
