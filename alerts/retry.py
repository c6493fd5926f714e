"""The one retry policy of the outbox: exponential backoff with jitter, Retry-After honoured, a row's
attempts and age bounded (after which it is dead-lettered)."""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import timedelta

from config.alerting import RetrySettings


@dataclass(frozen=True)
class RetryPolicy:
    """Exponential backoff: ``initial_delay * multiplier ** (attempt - 1)``, capped at ``max_delay``,
    less up to ``jitter`` of itself at random; never sooner than the channel's ``retry_after``.
    A row is dead once it has had ``max_attempts`` sends or its next try would fall after
    ``max_age`` from its creation."""

    initial_delay: timedelta = timedelta(seconds=10)
    multiplier: float = 2.0
    max_delay: timedelta = timedelta(minutes=15)
    jitter: float = 0.2
    max_attempts: int = 25
    max_age: timedelta = timedelta(hours=24)
    # Jitter spreads retries out; it is not security-sensitive. Pass a seeded Random in tests.
    rng: random.Random = field(default_factory=random.Random, compare=False, repr=False)

    @classmethod
    def from_settings(cls, settings: RetrySettings) -> RetryPolicy:
        return cls(initial_delay=settings.initial_delay, multiplier=settings.multiplier,
                   max_delay=settings.max_delay, jitter=settings.jitter, max_attempts=settings.max_attempts,
                   max_age=settings.max_age)

    def delay(self, attempts: int, retry_after: float | None = None) -> timedelta:
        base = self.initial_delay.total_seconds() * self.multiplier ** max(attempts - 1, 0)
        seconds = min(base, self.max_delay.total_seconds()) * (1 - self.jitter * self.rng.random())
        if retry_after is not None:
            seconds = max(seconds, retry_after)
        return timedelta(seconds=seconds)
