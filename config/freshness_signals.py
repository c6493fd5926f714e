"""Freshness: how old a model's newest metric window may get before it is ``stale_data`` (``signals.freshness``)."""

from __future__ import annotations

from datetime import timedelta

from pydantic import Field, field_validator

from config.base import Strict
from config.basics.severity import AlertSeverity
from config.durations import Duration, format_duration

# The expected time between windows of each granularity (``config.sources.Granularity``); a month
# is taken at its longest, so a calendar month is never stale by the calendar alone.
CADENCES: dict[str, timedelta] = {
    "5 minutes": timedelta(minutes=5), "30 minutes": timedelta(minutes=30), "1 hour": timedelta(hours=1),
    "1 day": timedelta(days=1), "1 week": timedelta(weeks=1), "1 month": timedelta(days=31),
    "1 year": timedelta(days=366),
}


class FreshnessSignal(Strict):
    """The newest window of every metric and inference table must be recent: on by default, for every source.

    Each stream (a table and a granularity) is expected to bring a window every ``cadence``: by
    default its granularity (``1 hour`` -> 1h, ``1 day`` -> 1d, ``1 month`` -> 31d), or the duration
    given here for all of the model's streams. When the newest window *ended* more than ``multiple``
    times the cadence before now (``2`` by default: one missed window is allowed, two are not), or
    the table holds no window at all for the granularity, it is a ``stale_data`` finding of tier
    ``tier`` (default ``medium``, with ``weight`` 1.0 enough to make the model ``medium`` on its own
    and reach the alerts once persistent). The facts are read once per poll and judged once per
    ``window`` (re-judged within it when they change, e.g. a table becomes stale), so the M-of-N
    persistence counts windows of this length. ``signals.monitor_health.stale_after`` is another
    check: the Databricks monitor's own refresh age.
    """

    enabled: bool = True
    cadence: Duration | None = None
    multiple: float = Field(default=2.0, ge=1.0, le=1000.0)
    tier: AlertSeverity = "medium"
    weight: float = Field(default=1.0, ge=0.0, le=1.0)
    window: Duration = Field(default="1h", validate_default=True)

    @field_validator("window", "cadence")
    @classmethod
    def _at_least_a_minute(cls, value: timedelta | None) -> timedelta | None:
        if value is not None and value < timedelta(minutes=1):
            raise ValueError("a duration of at least 1m")
        return value

    def cadence_for(self, granularity: str) -> timedelta:
        """The expected time between two windows of ``granularity``: ``cadence``, else the granularity's length."""
        if self.cadence is not None:
            return self.cadence
        if granularity not in CADENCES:
            raise ValueError(f"no cadence known for granularity {granularity!r}: set signals.freshness.cadence")
        return CADENCES[granularity]

    def stale_after(self, granularity: str) -> timedelta:
        """A newest window that ended longer ago than this is stale."""
        return self.cadence_for(granularity) * self.multiple

    def describe_limit(self, granularity: str) -> str:
        """E.g. ``2h (2 x cadence 1h)``: the limit and where it comes from, for findings."""
        return (f"{format_duration(self.stale_after(granularity))} ({self.multiple:g} x cadence "
                f"{format_duration(self.cadence_for(granularity))})")
