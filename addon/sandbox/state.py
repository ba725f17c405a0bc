"""The simulator's state: its accounts (:mod:`.accounts`), the fault knobs and traffic counters,
and the clocks it reads, held in memory and, when given a path, kept in a JSON file (see
:mod:`.storage`)."""

from __future__ import annotations

import logging
import os
import random
import threading
import time
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

from . import messages, storage
from .accounts import FIRST_IDS, Account, Accounts
from .consent import ConsentLog
from .records import local_now
from .traffic import WINDOW_SECONDS, Faults, TrafficStats

_log = logging.getLogger(__name__)

#: Key of the state in ``app.extensions``.
EXTENSION_KEY = "icontact_sandbox"


class SandboxState(Accounts):
    """All simulator data plus fault knobs and call counters, shared by every request thread.

    Every method takes ``lock`` (re-entrant), so callers that need several steps to be
    atomic may hold it around them too. The clocks are attributes a test may replace too.

    Args:
        seed: seeds ``rng``, which draws the random 500/503 faults reproducibly.
        clock: monotonic seconds used by the throttle window.
        path: a JSON state file: read now if it exists, rewritten after every change (the app
            saves after each write request; :meth:`save` does it by hand). ``None`` (the
            default, and what tests use) keeps everything in memory only.
        now: the wall clock for ``createDate``, ``addDate``, ``/time`` and the consent log: an
            aware datetime (so a test can make contacts "older").
        sleep: how a call waits out the ``latency`` knob (so a test can see the wait asked
            for instead of taking it).
        fresh: with ``path``, ignore what the file holds and empty it now (a reset).

    Raises:
        storage.StateFileError: if ``path`` exists but is not a state file this simulator
            wrote; the file is left untouched.
        OSError: if the file cannot be read (or, with ``fresh``, written).
    """

    def __init__(
        self,
        seed: int = 0,
        clock: Callable[[], float] = time.monotonic,
        *,
        path: str | os.PathLike[str] | None = None,
        now: Callable[[], datetime] = local_now,
        sleep: Callable[[float], None] = time.sleep,
        fresh: bool = False,
    ) -> None:
        self.lock = threading.RLock()
        self.seed = seed
        self.clock = clock
        self.now = now
        self.sleep = sleep
        self.path: Path | None = None
        self.reset()
        if path is not None:
            if not fresh:
                storage.load(self, Path(path))
            self.path = Path(path)
            if fresh:
                self.save()

    def reset(self) -> None:
        """Forget every account, record, fault knob and counter (and empty the state file)."""
        with self.lock:
            self.accounts: dict[str, Account] = {}
            self.faults = Faults()
            self.stats = TrafficStats()
            self.consent = ConsentLog()
            self.rng = random.Random(self.seed)
            self._next_ids = dict(FIRST_IDS)
            self.autosave()

    def save(self) -> None:
        """Write the state file now (nothing without a path).

        Raises:
            OSError: if it cannot be written; the previous file stays whole.
        """
        if self.path is not None:
            with self.lock:
                storage.save(self, self.path)

    def autosave(self) -> None:
        """Save after a change; a failure is logged, not raised: memory stays right, and the
        request that made the change must not fail for it."""
        try:
            self.save()
        except OSError as error:
            _log.error("iContact simulator: cannot save %s: %s", self.path, error)

    def restore(
        self, accounts: list[Account], counters: dict[str, int], consent: ConsentLog
    ) -> None:
        """Take accounts, id counters and the consent log read from a state file."""
        with self.lock:
            self.accounts = {account.username: account for account in accounts}
            self.consent = consent
            self._next_ids = {
                kind: max(first, counters.get(kind, first)) for kind, first in FIRST_IDS.items()
            }

    def admit_call(self, username: str) -> tuple[int, str] | None:
        """Count one API call; returns ``(status, error text)`` when it must be refused."""
        with self.lock:
            traffic = self.stats.for_account(username)
            in_window = traffic.record(self.clock(), WINDOW_SECONDS / self.faults.time_scale)
            limit = self.faults.calls_per_minute
            if limit is not None and in_window > limit:
                traffic.throttled += 1
                return 503, messages.THROTTLED.format(limit=limit)
            rate_500, rate_503 = self.faults.error_500_rate, self.faults.error_503_rate
            if rate_500 or rate_503:
                draw = self.rng.random()
                if draw < rate_500:
                    traffic.injected_errors += 1
                    return 500, messages.INTERNAL_ERROR
                if draw < rate_500 + rate_503:
                    traffic.injected_errors += 1
                    return 503, messages.UNAVAILABLE
            return None

    def dump(self) -> dict[str, object]:
        """Everything (but passwords) as one JSON-ready dict."""
        with self.lock:
            return {
                "accounts": [account.summary() for account in self.accounts.values()],
                "lists": {
                    name: [dict(r) for r in account.lists.values()]
                    for name, account in self.accounts.items()
                },
                "contacts": {
                    name: [dict(r) for r in account.contacts.values()]
                    for name, account in self.accounts.items()
                },
                "subscriptions": {
                    name: [dict(r) for r in account.subscriptions.values()]
                    for name, account in self.accounts.items()
                },
                "consent": self.consent.as_dict(),
                "faults": self.faults.as_dict(),
                "stats": self.stats.as_dict(),
            }
