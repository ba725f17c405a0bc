"""``flask addon logs``: one marketplace's log in the terminal, and followed as it changes."""

from __future__ import annotations

import datetime as dt
import time

import click

from ..engine.triggers import TRIGGER_NAMES
from ..state import context
from ..store.models import FAILED, PENDING, SKIPPED, SUCCESS


@click.command("logs")
@click.argument("marketplace")
@click.option(
    "--q",
    "query",
    metavar="TEXT",
    help="Only entries whose email, list, product, event id, integration or message contains TEXT.",
)
@click.option(
    "--status",
    type=click.Choice([PENDING, SUCCESS, FAILED, SKIPPED]),
    help="Only entries with this status.",
)
@click.option(
    "--trigger",
    type=click.Choice(TRIGGER_NAMES),
    metavar="TRIGGER",
    help="Only entries of this trigger, e.g. product.purchased or prospect.created.",
)
@click.option(
    "--limit",
    default=50,
    show_default=True,
    type=click.IntRange(1, 1000),
    help="How many of the newest entries to show.",
)
@click.option(
    "--follow", "-f", is_flag=True, help="Keep printing new entries and status changes (Ctrl-C)."
)
@click.option("--interval", default=2.0, show_default=True, help="Seconds between --follow polls.")
def logs_command(
    marketplace: str,
    query: str | None,
    status: str | None,
    trigger: str | None,
    limit: int,
    follow: bool,
    interval: float,
) -> None:
    """Print one marketplace's log, oldest first, one line per entry.

    Each line shows: time (UTC), status, trigger, customer email, list, and what happened.
    With --follow it keeps polling and prints an entry again when its status changes
    (pending, then success or failed).

    \b
    Examples:
      flask addon logs acme --status failed
      flask addon logs acme --q ann@example.com --follow
    """
    from ..engine.logs import search_logs

    ctx = context()

    def fetch() -> list:
        # A new transaction each time: see what the workers committed since the last poll.
        ctx.session.rollback()
        entries = search_logs(
            ctx, marketplace, q=query, status=status, trigger=trigger, limit=limit
        )
        return list(reversed(entries))

    entries = fetch()
    if not entries:
        click.echo(f"No log entries for marketplace {marketplace!r} match.", err=True)
    for entry in entries:
        click.echo(format_entry(entry))
    try:
        while follow:
            seen = {(entry.id, entry.status) for entry in entries}
            _wait(interval)
            entries = fetch()
            for entry in entries:
                if (entry.id, entry.status) not in seen:
                    click.echo(format_entry(entry))
    except KeyboardInterrupt:  # Ctrl-C is how --follow ends
        pass


def format_entry(entry) -> str:
    """One log entry as one terminal line: time, status, trigger, email, list, message."""
    when = entry.finished_at or entry.created_at
    stamp = when.strftime("%Y-%m-%d %H:%M:%S") if isinstance(when, dt.datetime) else "-"
    return (
        f"{stamp}  {entry.status:<7}  {entry.trigger:<26}  {entry.email:<30}  "
        f"{entry.list_name:<20}  {entry.message}"
    ).rstrip()


def _wait(seconds: float) -> None:
    # A test replaces this to play the time between two polls.
    time.sleep(seconds)
