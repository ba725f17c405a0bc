"""The RQ side: a job class that runs each job inside the Flask app, and the add-on's queue."""

from __future__ import annotations

import datetime as dt
import logging
import weakref
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from flask import Flask
from redis import Redis
from redis.exceptions import LockError, RedisError
from rq import Queue
from rq.job import Job

log = logging.getLogger("addon.queue")

#: A coalescing flag outlives a lost job by at most this long (then the next event re-enqueues).
FLAG_SECONDS = 300
#: Matching a chunk of events takes well under a second; a worker killed while matching keeps
#: the others from the marketplace's events for at most this long.
EXPANDING_SECONDS = 30


class AppJob(Job):
    """Pushes an app context around each job, so jobs use the app's config and database."""

    _flask_app: weakref.ReferenceType[Flask]

    def perform(self) -> Any:
        app = self._flask_app()
        if app is None:  # pragma: no cover - the worker keeps its app alive
            raise RuntimeError("The Flask app of this job is gone")
        with app.app_context():
            return super().perform()


def job_class_for(app: Flask) -> type[AppJob]:
    """A job class bound to ``app``; give the same class to the worker."""
    return type("AddonJob", (AppJob,), {"_flask_app": weakref.ref(app)})


def make_queue(app: Flask, redis_url: str | None, name: str) -> Queue | None:
    """The RQ queue ``name`` on ``redis_url`` whose jobs run in ``app``; None without Redis."""
    if not redis_url:
        return None
    connection = Redis.from_url(redis_url, socket_connect_timeout=2, socket_timeout=10)
    return Queue(name, connection=connection, job_class=job_class_for(app))


def safe_enqueue(queue: Queue | None, func, *args, job_id: str | None = None, at=None, **kw):
    """Enqueue, but never raise: a Redis outage must not fail the storefront's request.

    What is not enqueued stays pending in the database, where the sweeper finds it.

    Returns:
        The job, or None when there is no queue or Redis is unreachable.
    """
    if queue is None:
        return None
    try:
        if at is not None:
            return queue.enqueue_at(at, func, *args, job_id=job_id, **kw)
        return queue.enqueue(func, *args, job_id=job_id, **kw)
    except (RedisError, OSError) as exc:
        log.warning("Redis unavailable, %s left for the sweeper: %s", func, exc)
        return None


def redis_key(queue: Queue, *parts: object) -> str:
    """A Redis key of this deployment's: named after its queue (``ADDON_QUEUE``), so two
    deployments that share one Redis database never take each other's flags and locks."""
    return ":".join(("addon", queue.name, *map(str, parts)))


def expand_flag(queue: Queue, marketplace_id: str) -> str:
    return redis_key(queue, "queued", "expand", marketplace_id)


def drain_flag(queue: Queue, integration_id: int, helper: int = 0) -> str:
    return redis_key(
        queue, "queued", "drain", integration_id, *((f"helper{helper}",) if helper else ())
    )


def _first_to_flag(queue: Queue, flag: str) -> bool:
    """Whether no job for ``flag`` is queued yet (and mark one as queued).

    A burst of events then costs one job, not one per event; the job clears the flag before
    it reads, so nothing committed after that is missed. The expiry covers a lost job. When
    Redis is unreachable the answer is False: the work stays stored for the sweeper.
    """
    try:
        return bool(queue.connection.set(flag, "1", nx=True, ex=FLAG_SECONDS))
    except (RedisError, OSError) as exc:
        log.warning("Redis unavailable, %s left for the sweeper: %s", flag, exc)
        return False


def enqueue_expand(queue: Queue | None, marketplace_id: str, coalesce: bool = True) -> None:
    """Ask a worker to match rules for the marketplace's new events and apply them.

    A Redis outage leaves the events stored for the sweeper.
    """
    if queue is None or (
        coalesce and not _first_to_flag(queue, expand_flag(queue, marketplace_id))
    ):
        return
    safe_enqueue(
        queue,
        "addon.jobs.process_marketplace",
        marketplace_id,
        description=f"addon: match rules for new events of marketplace {marketplace_id}",
    )


def enqueue_drain(
    queue: Queue | None,
    integration_id: int,
    at: dt.datetime | None = None,
    coalesce: bool = True,
    helper: int = 0,
) -> None:
    """Ask a worker to apply an integration's due deliveries, now or at ``at`` (naive UTC).

    Args:
        helper: ``k`` > 0 asks for the ``k``-th extra drain of a backlog, coalesced on a flag
            of its own: one queued job per helper however often a growing backlog asks.
    """
    if queue is None:
        return
    if (
        at is None
        and coalesce
        and not _first_to_flag(queue, drain_flag(queue, integration_id, helper))
    ):
        return
    safe_enqueue(
        queue,
        "addon.jobs.drain_integration",
        integration_id,
        *((helper,) if helper else ()),
        at=None if at is None else at.replace(tzinfo=dt.UTC),
        description=f"addon: apply due deliveries of integration #{integration_id}"
        + (f" (helper {helper})" if helper else ""),
    )


@contextmanager
def expanding(queue: Queue | None, marketplace_id: str, wait: float = 0.0) -> Iterator[bool]:
    """Whether this worker may match the marketplace's waiting events now (True, held for
    the block) or another worker is matching them (False, after waiting ``wait`` seconds
    for it to finish).

    Two workers that match the same chunk both do the work, and one throws it away: the
    events are claimed in the database only when their deliveries are written: CPU spent
    for nothing, on the busiest path. Without Redis the answer
    is True, and the database alone keeps each event's deliveries single.
    """
    if queue is None:
        yield True
        return
    lock = queue.connection.lock(
        redis_key(queue, "expanding", marketplace_id),
        timeout=EXPANDING_SECONDS,
        sleep=0.005,  # a chunk takes tens of milliseconds: don't oversleep its end
        blocking=wait > 0,
        blocking_timeout=wait or None,
    )
    try:
        ours = bool(lock.acquire())
    except (RedisError, OSError) as exc:
        log.warning("Redis unavailable, matching events without the lock: %s", exc)
        ours = None
    try:
        yield ours is not False
    finally:
        if ours:
            try:
                lock.release()
            except (LockError, RedisError, OSError):
                pass  # expired or unreachable: it lapses on its own
