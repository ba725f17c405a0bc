"""Fault knobs and per-account call accounting (throttle window, counters)."""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field, fields

#: Width of the sliding throttle window, in seconds (divided by ``time_scale``).
WINDOW_SECONDS = 60.0
#: Records one collection POST may carry by default. No cap is documented; the simulator
#: itself took 100,000 contacts in one POST (about 2 s), so this only bounds a runaway client.
DEFAULT_MAX_BATCH = 10_000


@dataclass
class Faults:
    """Misbehaviour and limits the simulator applies to every authenticated API call.

    ``latency`` is seconds slept per call; ``error_500_rate`` and ``error_503_rate`` are
    probabilities (0..1) drawn per call; ``calls_per_minute`` throttles each account with 503s
    once its sliding 60 s window holds more calls (``None`` = no throttle). ``time_scale`` k
    shrinks that window to 60/k seconds, so a run at k times the speed sees the same allowance
    per (scaled) minute. ``max_batch`` caps the records of one collection POST (400 beyond,
    nothing saved; ``None`` = no cap) and ``max_page_size`` the ``limit`` of a GET (a larger
    one is lowered and the envelope says so; ``None`` = no cap). ``comparison_search`` off
    makes ``{field}SearchType`` an unknown term (ignored with the recorded warning), as a
    service that does not know comparison searches would answer.
    """

    latency: float = 0.0
    error_500_rate: float = 0.0
    error_503_rate: float = 0.0
    calls_per_minute: int | None = None
    time_scale: float = 1.0
    max_batch: int | None = DEFAULT_MAX_BATCH
    max_page_size: int | None = None
    comparison_search: bool = True

    def update(self, **values: object) -> None:
        """Set the given knobs after checking them.

        Raises:
            ValueError: on an unknown knob or an out-of-range value.
            TypeError: on a value that is not a number.
        """
        known = {f.name for f in fields(self)}
        checked: dict[str, object] = {}
        for name, value in values.items():
            if name not in known:
                raise ValueError(f"unknown fault knob {name!r}")
            checked[name] = _check_knob(name, value)
        for name, value in checked.items():
            setattr(self, name, value)

    def as_dict(self) -> dict[str, object]:
        """The knobs as a JSON-ready dict."""
        return {f.name: getattr(self, f.name) for f in fields(self)}


_COUNT_KNOBS = ("calls_per_minute", "max_batch", "max_page_size")


def _check_knob(name: str, value: object) -> object:
    if name in _COUNT_KNOBS:
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int):
            raise TypeError(f"{name} must be a positive integer or null")
        if value < 1:
            raise ValueError(f"{name} must be a positive integer or null")
        return value
    if name == "comparison_search":
        if not isinstance(value, bool):
            raise TypeError("comparison_search must be true or false")
        return value
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(f"{name} must be a number")
    number = float(value)
    if name == "latency":
        if number < 0:
            raise ValueError("latency must be zero or more seconds")
    elif name == "time_scale":
        if not 0 < number <= 10_000:
            raise ValueError("time_scale must be more than 0 and at most 10000")
    elif not 0 <= number <= 1:
        raise ValueError(f"{name} must be between 0 and 1")
    return number


@dataclass
class AccountTraffic:
    """Calls one account made, the busiest (scaled) minute seen and how many were refused."""

    calls: int = 0
    max_per_minute: int = 0
    throttled: int = 0
    injected_errors: int = 0
    window: deque[float] = field(default_factory=deque, repr=False)

    def record(self, now: float, window: float = WINDOW_SECONDS) -> int:
        """Count one call at ``now``; returns how many calls the last ``window`` seconds hold."""
        # Refused calls stay in the window: a client that hammers on throttling stays throttled.
        while self.window and self.window[0] <= now - window:
            self.window.popleft()
        self.window.append(now)
        self.calls += 1
        self.max_per_minute = max(self.max_per_minute, len(self.window))
        return len(self.window)

    def as_dict(self) -> dict[str, int]:
        """The counters as a JSON-ready dict."""
        return {
            "calls": self.calls,
            "max_per_minute": self.max_per_minute,
            "throttled": self.throttled,
            "injected_errors": self.injected_errors,
        }


@dataclass
class TrafficStats:
    """API call counters keyed by username."""

    accounts: dict[str, AccountTraffic] = field(default_factory=dict)

    def for_account(self, username: str) -> AccountTraffic:
        """The counters of one account, created on first use."""
        return self.accounts.setdefault(username, AccountTraffic())

    @property
    def total_calls(self) -> int:
        """Authenticated API calls over all accounts, refused ones included."""
        return sum(t.calls for t in self.accounts.values())

    @property
    def max_per_minute(self) -> int:
        """The most calls any one account made inside one 60 s window."""
        return max((t.max_per_minute for t in self.accounts.values()), default=0)

    @property
    def throttled(self) -> int:
        """Calls refused by the throttle over all accounts."""
        return sum(t.throttled for t in self.accounts.values())

    def as_dict(self) -> dict[str, object]:
        """Totals plus per-account counters, JSON-ready."""
        return {
            "total_calls": self.total_calls,
            "max_per_minute": self.max_per_minute,
            "throttled": self.throttled,
            "accounts": {name: t.as_dict() for name, t in self.accounts.items()},
        }
