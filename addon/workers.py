"""The RQ worker classes the add-on runs (``worker.py``, ``flask addon worker``, the tests).

RQ's own classes, with one change: the thread that listens for RQ's commands (shutdown, stop a
job) looks for them every second instead of sleeping up to 60 s in one read. RQ 3 unsubscribes
before it stops that thread, and redis-py 8.2's ``PubSubWorkerThread.stop()`` waits for the
thread: when the thread has already taken the unsubscribe reply and gone back to sleep, the
worker's shutdown waited out the whole 60 s (a deploy's grace period is often 30 s, and every
burst run in the tests paid it now and then).
"""

from __future__ import annotations

import rq
import rq.worker

#: Longest wait of the command thread between two looks, in seconds: the most a shutdown waits.
COMMAND_POLL_SECONDS = 1.0


def _subscribe(worker: rq.worker.BaseWorker) -> None:
    """RQ's ``subscribe``, with the short poll."""
    handler = getattr(worker, "_pubsub_exception_handler", None)
    worker.log.info("Worker %s: subscribing to channel %s", worker.name, worker.pubsub_channel_name)
    worker.pubsub = worker.connection.pubsub()
    worker.pubsub.subscribe(**{worker.pubsub_channel_name: worker.handle_payload})
    worker.pubsub_thread = worker.pubsub.run_in_thread(  # type: ignore[assignment]  # (RQ: = None)
        sleep_time=COMMAND_POLL_SECONDS, daemon=True, exception_handler=handler
    )


class SimpleWorker(rq.SimpleWorker):
    """Jobs in the worker's own process (the default)."""

    def subscribe(self) -> None:
        _subscribe(self)


class Worker(rq.Worker):
    """Each job in a forked child (``--fork``)."""

    def subscribe(self) -> None:
        _subscribe(self)
