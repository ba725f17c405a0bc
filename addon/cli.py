"""``flask addon ...``: run the worker, migrate the tables, read the log, rotate the key.

Every command runs inside the host app (Flask's CLI pushes its app context), so each uses the
app's own config, database and Redis.
"""

from __future__ import annotations

import datetime as dt
import time

import click
from flask import Flask, current_app
from flask.cli import AppGroup

from .engine.triggers import TRIGGER_NAMES
from .store.models import (
    FAILED,
    PENDING,
    SKIPPED,
    SUCCESS,
)

addon_cli = AppGroup(
    "addon",
    help="The iContact Integration Engine: its worker, database tables, log and keys.\n\n"
    "Run them with your app, as you run 'flask run': flask --app yourapp addon COMMAND.",
)


def _engine():
    return current_app.extensions["addon"]


# -- worker and sweep ---------------------------------------------------------------------------


@addon_cli.command("worker")
@click.option("--burst", is_flag=True, help="Exit once the queue is empty (for cron and tests).")
@click.option(
    "--fork",
    is_flag=True,
    help="Run each job in a forked child (RQ's default worker): a crashing job cannot take "
    "the worker down, at some cost per job.",
)
@click.option("--name", help="Worker name shown by 'rq info' (default: generated).")
@click.option("--json-logs", is_flag=True, help="Log one JSON object per line.")
def worker_command(burst: bool, fork: bool, name: str | None, json_logs: bool) -> None:
    """Process the add-on's background jobs until stopped (Ctrl-C).

    Storefront events are only stored when they happen; a worker matches them against the
    rules and sends the results to iContact, retries what failed, runs delayed rules
    (abandoned carts) on time, and sweeps up work that waited too long. Run at least one
    next to the web app, with the same settings; it needs ADDON_REDIS_URL.

    \b
    Examples:
      flask addon worker            # work until stopped
      flask addon worker --burst    # work off the queue, then exit
    """
    import logging

    from .logsetup import configure_logging

    if not logging.getLogger().handlers:  # leave a host's (or pytest's) logging alone
        configure_logging(json_lines=json_logs)
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    if _engine().queue is None:
        raise click.ClickException("ADDON_REDIS_URL is not set: the worker needs Redis.")
    run_worker(app, burst=burst, fork=fork, name=name)


def run_worker(app: Flask, *, burst: bool = False, fork: bool = False, name: str | None = None):
    """Run an RQ worker with its scheduler on the add-on's queue, with the app-bound job class.

    Also runs the sweeper (see :mod:`addon.engine.sweeper`) unless ``burst``.

    Args:
        app: the app whose engine owns the queue.
        burst: exit once the queue is empty.
        fork: RQ's forking ``Worker`` instead of ``SimpleWorker`` (jobs in this process).
        name: the worker's name in Redis.
    """
    from rq import SimpleWorker, Worker

    from .engine.sweeper import start_sweeper

    engine = app.extensions["addon"]
    queue = engine.state(app).queue
    with app.app_context():
        # Forked children must not share the parent's pooled database connections.
        engine.db.engine.dispose()
    worker_class = Worker if fork else SimpleWorker
    worker = worker_class(
        [queue], connection=queue.connection, job_class=queue.job_class, name=name
    )
    stop_sweeper = None if burst else start_sweeper(app)
    try:
        return worker.work(with_scheduler=True, burst=burst)
    finally:
        if stop_sweeper is not None:
            stop_sweeper.set()


@addon_cli.command("sweep", short_help="Re-enqueue work that waited too long.")
def sweep_command() -> None:
    """Re-enqueue events and deliveries that waited too long (after a Redis outage).

    Workers already do this every ADDON_SWEEP_INTERVAL seconds; run it by hand after
    restoring Redis if no worker is running yet.
    """
    from .engine.sweeper import sweep

    click.echo(sweep())


# -- database -----------------------------------------------------------------------------------


@addon_cli.group("db")
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
    from .store import db as schema

    schema.upgrade(_engine().db.engine, revision)
    click.echo(f"addon tables at revision {revision}")


@db_group.command("current", short_help="Show the tables' revision and the newest one.")
def db_current_command() -> None:
    """Show the add-on's schema revision in this database and the newest one shipped."""
    from .store import db as schema

    with _engine().db.engine.connect() as connection:
        current = schema.current_revision(connection)
    head = schema.head_revision()
    click.echo(f"database: {current or 'not migrated'}  newest: {head}")
    if current != head:
        click.echo("Run 'flask addon db upgrade' to bring the tables up to date.", err=True)


# -- iContact simulator -------------------------------------------------------------------------


@addon_cli.command("sandbox", short_help="Serve a local iContact simulator to try the add-on.")
@click.option("--host", default="127.0.0.1", show_default=True, help="Interface to listen on.")
@click.option("--port", default=0, show_default=True, help="Port to listen on; 0 picks a free one.")
@click.option("--username", help="Create this iContact account (its API-Username).")
@click.option("--password", help="Application password of that account (its API-Password).")
@click.option(
    "--app-id", help="App ID enabled on the account [default: the app's ADDON_ICONTACT_APP_ID]."
)
@click.option("--lists", default="", help='Lists to create in the account: "Customers,Refunds".')
@click.option("--latency", default=0.0, show_default=True, help="Seconds added to every call.")
@click.option(
    "--calls-per-minute", type=int, help="Throttle each account to this many calls (503 after)."
)
@click.option("--seed", default=0, show_default=True, help="Seed for the random fault rates.")
def sandbox_command(
    host: str,
    port: int,
    username: str | None,
    password: str | None,
    app_id: str | None,
    lists: str,
    latency: float,
    calls_per_minute: int | None,
    seed: int,
) -> None:
    """Serve a local iContact API simulator, to try the add-on without an iContact account.

    It prints its base URL; start the web app and the worker with ADDON_ICONTACT_API_URL set
    to it, then connect an integration with the account made here. The simulator keeps
    everything in memory: stopping it (Ctrl-C) forgets every account and contact.

    \b
    Example:
      flask addon sandbox --port 8025 \\
          --username me@example.com --password app-pass --lists "Customers,Refunds"
    """
    from .sandbox import SandboxState, create_sandbox_app
    from .sandbox.server import build_server, serve_until_interrupted

    if bool(username) != bool(password):
        raise click.UsageError("--username and --password go together.")
    state = SandboxState(seed=seed)
    try:
        state.faults.update(latency=latency, calls_per_minute=calls_per_minute)
    except (TypeError, ValueError) as exc:
        raise click.UsageError(str(exc)) from None
    if username and password:
        app_id = app_id or current_app.config["ADDON_ICONTACT_APP_ID"]
        names = [name.strip() for name in lists.split(",") if name.strip()]
        state.register(username, app_id, password, names)
    base_url, server = build_server(create_sandbox_app(state), host, port)
    click.echo(f"iContact simulator at {base_url}")
    click.echo(f"  ADDON_ICONTACT_API_URL={base_url}")
    click.echo(f"  ADDON_ICONTACT_REGISTER_URL={base_url}/core/externallogin")
    if username:
        click.echo(f"  account {username} with App ID {app_id!r}; Ctrl-C stops it")
    serve_until_interrupted(server)


# -- log ----------------------------------------------------------------------------------------


@addon_cli.command("logs")
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
    from .engine.logs import search_logs

    session = _engine().db.session

    def fetch() -> list:
        # A new transaction each time: see what the workers committed since the last poll.
        session.rollback()
        entries = search_logs(marketplace, q=query, status=status, trigger=trigger, limit=limit)
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
    time.sleep(seconds)


# -- keys ---------------------------------------------------------------------------------------


@addon_cli.command("rotate-key", short_help="Move stored passwords to the newest encryption key.")
def rotate_key_command() -> None:
    """Re-encrypt every stored iContact password under the newest ADDON_ENCRYPTION_KEY.

    \b
    To replace the key:
      1. Make a new one:
         python -c "from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())"
      2. Put it first and keep the old one after it, ADDON_ENCRYPTION_KEY="NEW,OLD",
         then restart the web app and the workers (both keys now decrypt).
      3. Run: flask addon rotate-key
      4. Remove OLD from ADDON_ENCRYPTION_KEY and restart again.

    All or nothing: when a password cannot be decrypted with any of the keys, nothing changes.
    """
    from cryptography.fernet import InvalidToken
    from sqlalchemy import select

    from .store.models import Integration

    engine = _engine()
    vault, session = engine.state().vault, engine.db.session
    keys = current_app.config.get("ADDON_ENCRYPTION_KEY") or ""
    if isinstance(keys, str):
        keys = [key for key in keys.split(",") if key.strip()]
    if len(keys) < 2:
        click.echo(
            'ADDON_ENCRYPTION_KEY holds one key: put the new key first, "NEW,OLD", to move '
            "the passwords to it.",
            err=True,
        )
    # Locked rows: a merchant saving a new password meanwhile waits rather than being undone.
    integrations = session.scalars(
        select(Integration).order_by(Integration.id).with_for_update()
    ).all()
    unreadable = []
    for integration in integrations:
        try:
            integration.secret = vault.rotate(integration.secret)
        except InvalidToken:
            unreadable.append(
                f"#{integration.id} {integration.label!r} ({integration.marketplace_id})"
            )
    if unreadable:
        session.rollback()
        raise click.ClickException(
            "No key in ADDON_ENCRYPTION_KEY decrypts the password of integration(s) "
            + ", ".join(unreadable)
            + ". Add the key they were saved with; nothing was changed."
        )
    session.commit()
    click.echo(f"Re-encrypted {len(integrations)} stored password(s) under the newest key.")
