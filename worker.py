"""Run an RQ worker (with the scheduler) for the add-on's queue, inside the app.

    python worker.py            # work until stopped
    python worker.py --burst    # drain the queue, then exit
    python worker.py --fork     # RQ's forking worker (isolates each job; slower)

Settings come from the environment, as for ``wsgi.create_app()``.
"""

from __future__ import annotations

import argparse

from addon.cli import run_worker
from addon.logsetup import configure_logging
from wsgi import create_app


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--burst", action="store_true", help="exit when the queue is empty")
    parser.add_argument("--fork", action="store_true", help="run each job in a forked child")
    parser.add_argument("--name", help="worker name (default: generated)")
    args = parser.parse_args(argv)

    configure_logging()
    app = create_app()
    if app.extensions["addon"].state(app).queue is None:
        raise SystemExit("ADDON_REDIS_URL is not set: the worker needs Redis.")
    run_worker(app, burst=args.burst, fork=args.fork, name=args.name)


if __name__ == "__main__":
    main()
