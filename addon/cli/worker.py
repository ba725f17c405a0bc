"""``flask addon worker`` and ``flask addon sweep``: the background work, run and caught up."""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager

import click
from flask import Flask, current_app

from ..state import engine


@click.command("worker")
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

    from ..logsetup import configure_logging

    if not logging.getLogger().handlers:  # leave a host's (or pytest's) logging alone
        configure_logging(json_lines=json_logs)
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    if engine().queue is None:
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
    from ..engine.sweeper import start_sweeper
    from ..workers import SimpleWorker, Worker

    addon = app.extensions["addon"]
    queue = addon.state(app).queue
    with app.app_context():
        # Forked children must not share the parent's pooled database connections.
        addon.db.engine.dispose()
    worker_class = Worker if fork else SimpleWorker
    worker = worker_class(
        [queue], connection=queue.connection, job_class=queue.job_class, name=name
    )
    stop_sweeper = None if burst else start_sweeper(app)
    try:
        with startup_frozen():
            return worker.work(with_scheduler=True, burst=burst)
    finally:
        if stop_sweeper is not None:
            stop_sweeper.set()


@contextmanager
def startup_frozen() -> Iterator[None]:
    """Keep what exists now (the app, its modules, SQLAlchemy's compiled statements) out of
    the garbage collector's full collections while the block runs.

    They live as long as the worker, yet each full collection walked them all again: a
    tenth of a worker's CPU per delivery (BENCHMARKS.md). Frozen, a collection walks the
    worker's batches only. Given back when the worker stops, for an app that goes on.
    """
    gc.collect()  # startup's own garbage is not kept forever
    gc.freeze()
    try:
        yield
    finally:
        gc.unfreeze()


@click.command("sweep", short_help="Re-enqueue work that waited too long.")
def sweep_command() -> None:
    """Re-enqueue events and deliveries that waited too long (after a Redis outage).

    Workers already do this every ADDON_SWEEP_INTERVAL seconds; run it by hand after
    restoring Redis if no worker is running yet.
    """
    from ..engine.sweeper import sweep

    click.echo(sweep())
