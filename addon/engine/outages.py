"""Riding out a database outage: telling it from other errors, waiting for the database to
answer again, and handing back leases a worker could not give back itself.

A worker that loses the database mid-batch must not sit on its work: a batch whose outcome
was not written, or whose leases were not given back, otherwise waits a whole lease
(``ADDON_LEASE_SECONDS``) after the database returns, its customers already on the provider's
list while the log says *Pending — queued*. So a worker retries the write, gives the leases
back, and asks for the work the outage held up, as soon as the database answers again.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import TypeVar, cast

from redis.exceptions import RedisError
from sqlalchemy import select
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError

from . import leases
from .context import Context
from .queue import redis_key

log = logging.getLogger("addon.outages")

T = TypeVar("T")

#: How long a worker waits, each time, for the database to answer again before it leaves the
#: work to the sweeper (a job must stay well inside RQ's timeout, 180 s by default).
PATIENCE_SECONDS = 30.0
#: The first pause between two tries, doubled after each, up to the longest: a restart takes a
#: few seconds, and the work should resume within a second or two of it.
FIRST_PAUSE_SECONDS = 0.1
LONGEST_PAUSE_SECONDS = 2.0
#: Owners whose leases the sweeper gives back (a Redis sorted set of this deployment's, see
#: :func:`addon.engine.queue.redis_key`, scored by the lease's end).
ABANDONED = "abandoned-leases"

#: What the waits use; a test replaces them instead of sleeping.
clock: Callable[[], float] = time.monotonic
pause: Callable[[float], None] = time.sleep


def database_away(exc: BaseException) -> bool:
    """Whether ``exc`` says the database could not be reached or dropped the connection
    (refused, cut off, shut down, locked past its timeout), rather than refusing a statement."""
    if not isinstance(exc, DBAPIError):
        return False
    return exc.connection_invalidated or isinstance(exc, (OperationalError, InterfaceError))


def rollback(ctx: Context) -> None:
    """Roll the session back, whether or not its connection is still there."""
    try:
        ctx.session.rollback()
    except Exception:  # the connection is gone already; the next checkout replaces it
        log.debug("rollback after a lost connection failed", exc_info=True)


def while_away(ctx: Context, work: Callable[[], T], what: str, seconds: float | None = None) -> T:
    """Run ``work``, a whole transaction of the session that ends in a commit; while the
    database is away, roll back and run it again, with backoff, for up to ``seconds``
    (default :data:`PATIENCE_SECONDS`; 0: once).

    Args:
        what: what the work does, for the log ("writing 25 outcomes").

    Returns:
        What ``work`` returned.

    Raises:
        sqlalchemy.exc.DBAPIError: the database was still away after ``seconds``, or the
            error does not mean it was away (raised at once).
    """
    deadline = clock() + (PATIENCE_SECONDS if seconds is None else seconds)
    wait = FIRST_PAUSE_SECONDS
    tries = 0
    while True:
        try:
            result = work()
        except DBAPIError as exc:
            tries += 1
            rollback(ctx)
            if not database_away(exc) or clock() + wait > deadline:
                raise
            if tries == 1:
                log.warning("database away while %s; trying again: %s", what, exc.orig)
            pause(wait)
            wait = min(2 * wait, LONGEST_PAUSE_SECONDS)
            continue
        if tries:
            log.info("database back: %s after %d failed tries", what, tries)
        return result


def wait_for_database(ctx: Context, seconds: float | None = None) -> bool:
    """Whether the database answers now, or within ``seconds`` (default
    :data:`PATIENCE_SECONDS`) of trying with backoff."""

    def ping() -> None:
        ctx.session.execute(select(1))
        ctx.session.commit()

    try:
        while_away(ctx, ping, "waiting for the database", seconds)
    except DBAPIError:
        return False
    return True


def abandon(ctx: Context, owner: str) -> None:
    """Leave ``owner``'s leases for the sweeper to give back once the database answers (the
    worker could not, and has stopped using them). Without Redis they lapse on their own."""
    queue = ctx.queue
    if queue is None:
        return
    until = time.time() + ctx.settings.lease_seconds
    try:
        queue.connection.zadd(redis_key(queue, ABANDONED), {owner: until})
    except (RedisError, OSError) as exc:
        log.warning("Redis unavailable, leases of %s left to lapse: %s", owner, exc)


def release_abandoned(ctx: Context) -> int:
    """Give back the leases of owners that could not (see :func:`abandon`), in one commit.

    Returns:
        How many owners' leases were given back.

    Raises:
        sqlalchemy.exc.DBAPIError: the database is still away (they stay listed).
    """
    queue = ctx.queue
    if queue is None:
        return 0
    try:
        now = time.time()
        key = redis_key(queue, ABANDONED)
        queue.connection.zremrangebyscore(key, "-inf", now)  # lapsed by now
        found = cast(list[bytes], queue.connection.zrangebyscore(key, now, "+inf"))
    except (RedisError, OSError) as exc:
        log.warning("Redis unavailable, abandoned leases left to lapse: %s", exc)
        return 0
    owners = [owner.decode() for owner in found]
    if not owners:
        return 0
    for owner in owners:
        leases.release_all(ctx, owner)
    ctx.session.commit()
    try:
        queue.connection.zrem(key, *owners)
    except (RedisError, OSError):
        pass  # given back already: a second release changes nothing
    return len(owners)
