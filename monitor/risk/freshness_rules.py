"""Stale data: a stream's newest window ended too long ago, or its table holds none (``signals.freshness``).

A stream is expected to bring a window every cadence (its granularity, or ``freshness.cadence``);
when the newest window ended more than ``multiple`` cadences before the facts were read, no new
window has been judged for that long and every other signal is silent about it: a ``stale_data``
finding of ``freshness.tier`` (``medium`` by default) says so, names the table, its newest window,
its age and what to look at. An empty table (no window of the granularity at all) is stale too.
The age is taken at the time the facts were read (``Freshness.observed_at``, the app clock), so a
replay judges the same.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta

from config.basics.clock import utc
from monitor.observations import TABLE_COLUMN, Newest
from monitor.risk.assessment import STATE_STATISTIC, Finding, NotRaised
from monitor.risk.context import Context, Outcome

SIGNAL = "stale_data"
_FIX = {
    "lakehouse": "check the monitor's refresh schedule and its latest refreshes (or the job that writes the metric "
                 "tables, e.g. lakewarden profile)",
    "inference": "check that the serving endpoint gets traffic and that its inference table still logs requests",
}
_FIX_OTHER = "check the pipeline that writes the table"


def stale_data(ctx: Context) -> Iterator[Outcome]:
    facts, signal = ctx.window.freshness, ctx.signals.freshness
    if facts is None or not signal.enabled:
        return
    for newest in facts.newest:
        fix = _FIX.get(newest.stream.split(":", 1)[0], _FIX_OTHER)
        limit = signal.stale_after(newest.granularity)
        if newest.window_end is None:
            text = f"{newest.table} holds no window for granularity {newest.granularity} ({newest.stream})"
            yield Finding(SIGNAL, TABLE_COLUMN, STATE_STATISTIC, 1.0, signal.tier, 1.0, signal.weight,
                          detail=f"{text}; {fix}")
            continue
        age = facts.observed_at - newest.window_end
        if age > limit:
            text = (f"the newest window of {newest.table} ({describe_window(newest)}, {newest.stream}) ended "
                    f"{format_age(age)} ago, more than {signal.describe_limit(newest.granularity)}")
            yield Finding(SIGNAL, TABLE_COLUMN, STATE_STATISTIC, 1.0, signal.tier, 1.0, signal.weight,
                          detail=f"{text}; {fix}")
        else:
            yield NotRaised(SIGNAL, TABLE_COLUMN,
                            f"fresh: the newest window of {newest.table} ({describe_window(newest)}, {newest.stream}) "
                            f"ended {format_age(age)} ago, within {signal.describe_limit(newest.granularity)}",
                            "below", STATE_STATISTIC)


def format_time(moment: datetime) -> str:
    """``2026-03-01T00:00Z``: minutes are enough for windows, and UTC is said."""
    return utc(moment).strftime("%Y-%m-%dT%H:%MZ")


def describe_window(newest: Newest) -> str:
    if newest.window_start is None or newest.window_end is None:
        return "no window"
    return f"{format_time(newest.window_start)} to {format_time(newest.window_end)}"


def format_age(age: timedelta) -> str:
    """A readable age: ``45m``, ``5h10m``, ``281d3h`` (hours once it is days old); negative ages as ``0m``."""
    minutes = max(0, round(age.total_seconds() / 60))
    days, rest = divmod(minutes, 24 * 60)
    hours, mins = divmod(rest, 60)
    if days >= 2:
        return f"{days}d{hours}h" if hours else f"{days}d"
    hours += 24 * days
    if hours:
        return f"{hours}h{mins}m" if mins else f"{hours}h"
    return f"{mins}m"
