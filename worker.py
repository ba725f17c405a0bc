"""Run an RQ worker (with the scheduler) for the add-on's queue, inside the app.

    python worker.py            # work until stopped
    python worker.py --burst    # drain the queue, then exit
    python worker.py --fork     # RQ's forking worker (isolates each job; slower)

Settings come from the environment, as for ``wsgi.create_app()``.
"""

from __future__ import annotations

import argparse
import logging

from rq import SimpleWorker, Worker

from addon.sweeper import start_sweeper
from wsgi import create_app


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--burst", action="store_true", help="exit when the queue is empty")
    parser.add_argument("--fork", action="store_true", help="run each job in a forked child")
    parser.add_argument("--name", help="worker name (default: generated)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")

    app = create_app()
    with app.app_context():
        engine = app.extensions["addon"]
        queue = engine.queue
        if queue is None:
            raise SystemExit("ADDON_REDIS_URL is not set: the worker needs Redis.")
        # Forked children must not share pooled database connections with the parent.
        engine.db.engine.dispose()
    worker_class = Worker if args.fork else SimpleWorker
    worker = worker_class(
        [queue], connection=queue.connection, job_class=queue.job_class, name=args.name
    )
    stop_sweeper = None if args.burst else start_sweeper(app)
    try:
        worker.work(with_scheduler=True, burst=args.burst)
    finally:
        if stop_sweeper is not None:
            stop_sweeper.set()


if __name__ == "__main__":
    main()
