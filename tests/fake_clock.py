"""A clock a test moves by hand: what the code asked to wait is recorded and passes at once."""

from __future__ import annotations

import threading

from addon.engine.context import Clock
from addon.store.models import utcnow


class FakeClock:
    """Monotonic seconds that move only when the code sleeps or the test calls :meth:`advance`.

    Safe to share between threads (the engine's lookups run on several). ``now`` stays the
    wall clock: due times and leases are compared with it in the database.
    """

    def __init__(self, start: float = 1000.0) -> None:
        self._lock = threading.Lock()
        self._seconds = start
        #: Every wait asked for, in order.
        self.slept: list[float] = []

    def monotonic(self) -> float:
        with self._lock:
            return self._seconds

    def sleep(self, seconds: float) -> None:
        with self._lock:
            self.slept.append(seconds)
            self._seconds += seconds

    def advance(self, seconds: float) -> None:
        with self._lock:
            self._seconds += seconds

    def clock(self, now=utcnow) -> Clock:
        """The engine's :class:`Clock` reading this one."""
        return Clock(now=now, monotonic=self.monotonic, sleep=self.sleep)
