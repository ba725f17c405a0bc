"""A token bucket per provider account, kept in Redis so every worker on every machine shares
the merchant's API allowance (iContact: about 60 calls a minute)."""

from __future__ import annotations

import logging
import time

from redis import Redis
from redis.exceptions import RedisError

from .providers import TemporaryFailure

log = logging.getLogger("addon.ratelimit")

# Server time inside the script: workers' clocks may disagree, Redis's is the one clock.
_TAKE = """
local rate = tonumber(ARGV[1])
local capacity = tonumber(ARGV[2])
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local data = redis.call('HMGET', KEYS[1], 'tokens', 'ts', 'slow_until')
local tokens = tonumber(data[1]) or capacity
local ts = tonumber(data[2]) or now
if now < (tonumber(data[3]) or 0) then rate = rate / 2 end
tokens = math.min(capacity, tokens + math.max(0, now - ts) * rate)
local wait = 0
if tokens >= 1 then tokens = tokens - 1 else wait = (1 - tokens) / rate end
redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'ts', tostring(now))
redis.call('EXPIRE', KEYS[1], 3600)
return tostring(wait)
"""

_SLOW = """
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
redis.call('HSET', KEYS[1], 'tokens', '0', 'ts', tostring(now),
           'slow_until', tostring(now + tonumber(ARGV[1])))
redis.call('EXPIRE', KEYS[1], 3600)
return 1
"""


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
    """

    SLOW_DOWN_SECONDS = 60

    def __init__(
        self, redis: Redis, key: str, calls_per_minute: int, max_wait: float | None = None
    ):
        self.redis = redis
        self.key = key
        self.capacity = max(1.0, calls_per_minute * 0.1)
        self.rate = calls_per_minute * 0.85 / 60
        self.max_wait = max_wait
        self._take = redis.register_script(_TAKE)
        self._slow = redis.register_script(_SLOW)

    def acquire(self) -> None:
        """Block until a call is allowed.

        Raises:
            TemporaryFailure: when ``max_wait`` passed first.
        """
        waited = 0.0
        while True:
            try:
                wait = float(self._take(keys=[self.key], args=[self.rate, self.capacity]))
            except RedisError as exc:
                # Without Redis there is no shared count; calling is better than stalling.
                log.warning("rate limiter unavailable, calling anyway: %s", exc)
                return
            if wait <= 0:
                return
            if self.max_wait is not None and waited + wait > self.max_wait:
                raise TemporaryFailure(
                    "The iContact call allowance is used up for the moment; try again shortly"
                )
            time.sleep(wait)
            waited += wait

    def slow_down(self) -> None:
        """iContact answered with its throttle: empty the bucket and halve the rate a while."""
        try:
            self._slow(keys=[self.key], args=[self.SLOW_DOWN_SECONDS])
        except RedisError as exc:
            log.warning("rate limiter unavailable: %s", exc)
