"""Time: every component that compares or stamps times takes a ``Clock``, so tests and the demo move time.

All times in lakewarden are timezone-aware UTC. :func:`utc` is the one conversion for values that
arrive from elsewhere (a database, Spark, a parsed string): a naive value is read as UTC, an aware one
is converted.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

Clock = Callable[[], datetime]


def utc_now() -> datetime:
    """The real clock."""
    return datetime.now(UTC)


def utc(value: datetime) -> datetime:
    """``value`` as aware UTC: naive values are taken to be UTC already, aware ones are converted."""
    if value.tzinfo is None or value.utcoffset() is None:
        return value.replace(tzinfo=UTC)
    return value if value.tzinfo is UTC else value.astimezone(UTC)


class SimulatedClock:
    """A clock the caller moves: the demo's accelerated time and the tests' fake time.

    ``clock()`` reads it; ``advance`` moves it forward (a ``timedelta`` or ``timedelta``'s keywords);
    ``set`` moves it to a later time (never back); assigning ``clock.now`` puts it anywhere, for tests
    that replay a moment. Safe to share between threads.
    """

    def __init__(self, start: datetime) -> None:
        self._now = utc(start)
        self._lock = threading.Lock()

    def __call__(self) -> datetime:
        with self._lock:
            return self._now

    @property
    def now(self) -> datetime:
        return self()

    @now.setter
    def now(self, when: datetime) -> None:
        with self._lock:
            self._now = utc(when)

    def set(self, when: datetime) -> None:
        with self._lock:
            self._now = max(self._now, utc(when))

    def advance(self, by: timedelta | None = None, **parts: float) -> datetime:
        step = (by or timedelta()) + timedelta(**parts)
        with self._lock:
            self._now += step
            return self._now

    def __repr__(self) -> str:
        return f"SimulatedClock({self().isoformat()})"
