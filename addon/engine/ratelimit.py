"""A token bucket per provider account, kept in Redis so every worker on every machine shares
the merchant's API allowance (each provider says how many calls a minute it allows)."""

from __future__ import annotations

import logging
import threading
import time

from redis import Redis
from redis.exceptions import RedisError

from ..providers import TemporaryFailure
from .context import SYSTEM_CLOCK, Clock

log = logging.getLogger("addon.ratelimit")

# Server time inside the script: workers' clocks may disagree, Redis's is the one clock. A
# test's clock hands its own time in (the last argument) so that its sleeps refill the bucket.
_NOW = """
local now = tonumber(ARGV[#ARGV])
if ARGV[#ARGV] == '' then
  local t = redis.call('TIME')
  now = tonumber(t[1]) + tonumber(t[2]) / 1000000
end
"""

_TAKE = (
    _NOW
    + """
local rate = tonumber(ARGV[1])
local capacity = tonumber(ARGV[2])
local data = redis.call('HMGET', KEYS[1], 'tokens', 'ts', 'slow_until')
local tokens = tonumber(data[1]) or capacity
local ts = tonumber(data[2]) or now
if now < (tonumber(data[3]) or 0) then rate = rate / 2 end
tokens = math.min(capacity, tokens + math.max(0, now - ts) * rate)
local wanted = tonumber(ARGV[3]) or 1
local granted = math.min(wanted, math.floor(tokens))
local wait = 0
if granted >= 1 then tokens = tokens - granted else granted = 0; wait = (1 - tokens) / rate end
redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'ts', tostring(now))
redis.call('EXPIRE', KEYS[1], 3600)
return {tostring(wait), granted}
"""
)

_SLOW = (
    _NOW
    + """
redis.call('HSET', KEYS[1], 'tokens', '0', 'ts', tostring(now),
           'slow_until', tostring(now + tonumber(ARGV[1])))
redis.call('EXPIRE', KEYS[1], 3600)
return 1
"""
)


class TokenBucket:
    """At most ``calls_per_minute`` calls in any 60-second window, across processes.

    A bucket of capacity C refilled at r per second lets C + 60r calls through in a minute,
    so C is a tenth of the allowance and r refills most of the rest, with a margin for the
    time a call spends in flight.

    Args:
        redis: the shared Redis.
        key: one per provider account.
        calls_per_minute: the allowance.
        max_wait: seconds to wait for a token before giving up (None: wait as long as needed).
        provider_name: the provider's display name, for the message when the wait is too long.
        clock: how the bucket waits. The system clock's waits are real and the bucket's time
            is Redis's, which every worker shares; a test's clock gives its own time and
            moves on when asked to wait.
    """

    SLOW_DOWN_SECONDS = 60

    def __init__(
        self,
        redis: Redis,
        key: str,
        calls_per_minute: int,
        max_wait: float | None = None,
        provider_name: str = "provider",
        clock: Clock = SYSTEM_CLOCK,
    ):
        self.redis = redis
        self.provider_name = provider_name
        self.key = key
        self.capacity = max(1.0, calls_per_minute * 0.1)
        self.rate = calls_per_minute * 0.85 / 60
        self.max_wait = max_wait
        self.clock = clock
        self._take = redis.register_script(_TAKE)
        self._slow = redis.register_script(_SLOW)
        #: Tokens taken ahead by :meth:`reserve`, spent by :meth:`acquire` (lookup threads
        #: share one bucket object).
        self._reserved = 0
        self._lock = threading.Lock()

    def reserve(self, calls: int) -> None:
        """Take tokens for ``calls`` calls about to be made, as many as the bucket holds now,
        in one round trip; :meth:`acquire` spends them first.

        Only what is about to be spent is taken: a token held and not used is a call the
        account's allowance loses, never one beyond it.
        """
        with self._lock:
            wanted = calls - self._reserved
        if wanted <= 0:
            return
        try:
            _wait, granted = self._take(
                keys=[self.key], args=[self.rate, self.capacity, wanted, self._now()]
            )
        except RedisError as exc:
            log.warning("rate limiter unavailable: %s", exc)
            return
        with self._lock:
            self._reserved += int(granted)

    def acquire(self) -> None:
        """Block until a call is allowed.

        Raises:
            TemporaryFailure: when ``max_wait`` passed first.
        """
        with self._lock:
            if self._reserved > 0:
                self._reserved -= 1
                return
        waited = 0.0
        while True:
            try:
                answer, _granted = self._take(
                    keys=[self.key], args=[self.rate, self.capacity, 1, self._now()]
                )
                wait = float(answer)
            except RedisError as exc:
                # Without Redis there is no shared count; calling is better than stalling.
                log.warning("rate limiter unavailable, calling anyway: %s", exc)
                return
            if wait <= 0:
                return
            if self.max_wait is not None and waited + wait > self.max_wait:
                raise TemporaryFailure(
                    f"The {self.provider_name} call allowance is used up for the moment; "
                    "try again shortly"
                )
            self.clock.sleep(wait)
            waited += wait

    def slow_down(self) -> None:
        """The provider answered with its throttle: empty the bucket and halve the rate a while."""
        with self._lock:
            self._reserved = 0
        try:
            self._slow(keys=[self.key], args=[self.SLOW_DOWN_SECONDS, self._now()])
        except RedisError as exc:
            log.warning("rate limiter unavailable: %s", exc)

    def _now(self) -> float | str:
        # A process's monotonic seconds mean nothing to another process: with the real clock
        # the script reads Redis's (empty argument), a test's clock is one all its threads share.
        return "" if self.clock.monotonic is time.monotonic else self.clock.monotonic()
