"""Evaluating named time intervals (Alertmanager's ``time_intervals``) at an instant.

Within a field any element may match; every field given must match; a spec without fields matches
always; an interval matches when any of its specs does. Times are compared in the spec's
``location``: start inclusive, end exclusive. Negative days of the month count back from its last
day; days past the month's end are clamped to it.
"""

from __future__ import annotations

import calendar
from collections.abc import Iterable, Mapping
from datetime import datetime
from functools import lru_cache
from zoneinfo import ZoneInfo

from config.routing import TimeInterval, TimeSpec, minutes_of_day


@lru_cache(maxsize=64)
def _zone(name: str) -> ZoneInfo:
    return ZoneInfo(name)


def spec_contains(spec: TimeSpec, when: datetime) -> bool:
    local = when.astimezone(_zone(spec.location))
    if spec.times:
        minute = local.hour * 60 + local.minute
        if not any(minutes_of_day(t.start_time) <= minute < minutes_of_day(t.end_time) for t in spec.times):
            return False
    if spec.weekdays:
        weekday = (local.weekday() + 1) % 7  # sunday = 0, as in Alertmanager
        if not any(r.start <= weekday <= r.end for r in spec.weekdays):
            return False
    if spec.days_of_month and not _day_matches(spec, local):
        return False
    if spec.months and not any(r.start <= local.month <= r.end for r in spec.months):
        return False
    return not spec.years or any(r.start <= local.year <= r.end for r in spec.years)


def _day_matches(spec: TimeSpec, local: datetime) -> bool:
    days = calendar.monthrange(local.year, local.month)[1]
    for r in spec.days_of_month:
        begin = days + r.start + 1 if r.start < 0 else r.start
        end = days + r.end + 1 if r.end < 0 else r.end
        if begin > days:
            continue
        if max(begin, 1) <= local.day <= min(end, days):
            return True
    return False


def interval_active(interval: TimeInterval, when: datetime) -> bool:
    return any(spec_contains(spec, when) for spec in interval.time_intervals)


def any_active(names: Iterable[str], intervals: Mapping[str, TimeInterval], when: datetime) -> bool:
    """Whether any of the named intervals contains ``when``; unknown names never do."""
    return any(name in intervals and interval_active(intervals[name], when) for name in names)
