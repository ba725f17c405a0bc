"""What the engine's functions work with, handed to them rather than looked up: the database
session, the checked settings, the queue, the vault and the clock.

One ``Context`` is made per app when ``init_app`` runs (:class:`addon.state.AppState`); a job,
a request or the facade takes it once at its entry and passes it down. A test gives the engine
a clock it moves by hand instead of waiting for (or asserting on) the wall clock.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

from ..store.models import utcnow

if TYPE_CHECKING:
    from rq import Queue
    from sqlalchemy.orm import scoped_session

    from ..crypto import Vault
    from ..settings import Settings

T = TypeVar("T")


@dataclass(frozen=True)
class Clock:
    """Where the engine reads the time.

    ``now`` is wall time as the database stores it (naive UTC): due times, leases, retries,
    log entries. ``monotonic`` measures intervals and deadlines, which must not jump when the
    wall clock is set. ``sleep`` waits that long in ``monotonic`` seconds (the rate limiter's
    pause): a test's clock moves itself on instead.
    """

    now: Callable[[], dt.datetime] = utcnow
    monotonic: Callable[[], float] = time.monotonic
    sleep: Callable[[float], None] = time.sleep


SYSTEM_CLOCK = Clock()


@dataclass(frozen=True)
class Context:
    """The engine's dependencies for one app."""

    #: The engine's Flask-SQLAlchemy session (scoped: each thread and app context its own).
    session: scoped_session[Any]
    settings: Settings
    #: None without ``ADDON_REDIS_URL``: work stays stored for the sweeper.
    queue: Queue | None
    vault: Vault
    clock: Clock
    #: The app's connection pools, one per key and process (:meth:`AppState.connections`).
    connections: Callable[[tuple[Any, ...], Callable[[], Any]], Any]
