"""Per-receiver rate limits: a token bucket each, on the delivery side, with an injected clock.

A row whose receiver has no token left goes back to the outbox (pending, no attempt counted) until
the bucket has one again. Buckets live in the worker's memory: with several workers, each gets the
whole rate.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

from config.basics.clock import Clock
from config.receivers import RateLimit


class TokenBucket:
    def __init__(self, per_second: float, burst: int, now: datetime) -> None:
        self._rate = per_second
        self._burst = float(burst)
        self._tokens = float(burst)
        self._at = now

    def take(self, now: datetime) -> float:
        """Take a token and return 0, or return the seconds until one is there (taking nothing)."""
        elapsed = max(0.0, (now - self._at).total_seconds())
        self._tokens = min(self._burst, self._tokens + elapsed * self._rate)
        self._at = max(self._at, now)
        if self._tokens >= 1.0:
            self._tokens -= 1.0
            return 0.0
        return (1.0 - self._tokens) / self._rate


class RateLimiter:
    def __init__(self, limits: Mapping[str, RateLimit], clock: Clock) -> None:
        self._limits = dict(limits)
        self._clock = clock
        self._buckets: dict[str, TokenBucket] = {}

    def wait(self, receiver: str) -> float:
        limit = self._limits.get(receiver)
        if limit is None:
            return 0.0
        now = self._clock()
        bucket = self._buckets.get(receiver)
        if bucket is None:
            bucket = self._buckets[receiver] = TokenBucket(limit.per_second, limit.burst, now)
        return bucket.take(now)
