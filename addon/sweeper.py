"""A worker-side timer that runs the sweep every ``ADDON_SWEEP_INTERVAL`` seconds.

Every worker runs one, but a Redis key lets only one sweep happen per interval across all of
them; a sweep only re-enqueues idempotent jobs, so an extra one would do no harm anyway.
"""

from __future__ import annotations

import logging
import threading

from flask import Flask
from redis.exceptions import RedisError

from .jobs import sweep

log = logging.getLogger("addon.sweeper")
LOCK_KEY = "addon:sweep:lock"


def sweep_once(app: Flask) -> str | None:
    """Sweep unless another worker swept within the interval; returns the summary or None."""
    with app.app_context():
        queue = app.extensions["addon"].state(app).queue
        interval = int(app.config["ADDON_SWEEP_INTERVAL"])
        try:
            if queue is not None and not queue.connection.set(LOCK_KEY, "1", nx=True, ex=interval):
                return None
        except RedisError as exc:
            log.warning("sweep skipped, Redis unavailable: %s", exc)
            return None
        return sweep()


def start_sweeper(app: Flask) -> threading.Event:
    """Start the timer thread; set the returned event to stop it."""
    stop = threading.Event()
    interval = float(app.config["ADDON_SWEEP_INTERVAL"])

    def loop() -> None:
        while not stop.wait(interval):
            try:
                summary = sweep_once(app)
                if summary:
                    log.info("sweep: %s", summary)
            except Exception:  # a failed sweep must not kill the worker; the next one retries
                log.exception("sweep failed")

    threading.Thread(target=loop, name="addon-sweeper", daemon=True).start()
    return stop
