"""Time windows for a Lakehouse granularity string ("5 minutes", "1 hour", "1 day", "1 week", "1 month").

Windows are UTC and aligned like Spark's: minute, hour and day windows to the Unix epoch, weeks to
Monday (as ``date_trunc('WEEK', ...)``), months and years to the calendar. (Databricks' week alignment
is unconfirmed; it lives here only.)
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

Window = tuple[datetime, datetime]

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MONDAY_OFFSET = timedelta(days=4)  # 1970-01-05 was the first Monday after the epoch
_FIXED = {"minute": timedelta(minutes=1), "hour": timedelta(hours=1), "day": timedelta(days=1),
          "week": timedelta(weeks=1)}
_PATTERN = re.compile(r"\s*(\d+)\s+(minute|hour|day|week|month|year)s?\s*", re.IGNORECASE)


@dataclass(frozen=True)
class Granularity:
    """A parsed granularity: ``count`` of ``unit``."""

    text: str
    count: int
    unit: str

    @property
    def fixed(self) -> timedelta | None:
        """The window length for minute/hour/day/week units, None for calendar units."""
        base = _FIXED.get(self.unit)
        return None if base is None else base * self.count

    @property
    def offset(self) -> timedelta:
        return _MONDAY_OFFSET if self.unit == "week" else timedelta(0)

    def start_of(self, moment: datetime) -> datetime:
        """Start of the window holding ``moment``."""
        moment = _utc(moment)
        length = self.fixed
        if length is not None:
            steps = (moment - EPOCH - self.offset) // length
            return EPOCH + self.offset + steps * length
        if self.unit == "month":
            return moment.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
        return moment.replace(month=1, day=1, hour=0, minute=0, second=0, microsecond=0)

    def end_of(self, start: datetime) -> datetime:
        """End of the window that starts at ``start``."""
        return _shift(self, _utc(start), 1)

    def previous_start(self, start: datetime) -> datetime:
        return _shift(self, _utc(start), -1)

    def window_at(self, moment: datetime) -> Window:
        start = self.start_of(moment)
        return (start, self.end_of(start))

    def start_sql(self, ts_sql: str) -> tuple[str, dict[str, Any]]:
        """SQL for the window start of the timestamp expression ``ts_sql`` plus its bound parameters."""
        length = self.fixed
        if length is not None:
            micros = int(length / timedelta(microseconds=1))
            offset = int(self.offset / timedelta(microseconds=1))
            sql = (f"timestamp_micros(CAST(floor((unix_micros({ts_sql}) - :g_offset) / :g_micros) AS BIGINT)"
                   " * :g_micros + :g_offset)")
            return sql, {"g_micros": micros, "g_offset": offset}
        unit = "MONTH" if self.unit == "month" else "YEAR"
        return f"date_trunc('{unit}', {ts_sql})", {}


def _utc(moment: datetime) -> datetime:
    if moment.tzinfo is None:
        raise ValueError(f"naive datetime {moment.isoformat()}: windows need timezone-aware UTC times")
    return moment.astimezone(UTC)


def _shift(granularity: Granularity, start: datetime, steps: int) -> datetime:
    length = granularity.fixed
    if length is not None:
        return start + steps * length
    months = steps * (1 if granularity.unit == "month" else 12)
    index = start.year * 12 + start.month - 1 + months
    return start.replace(year=index // 12, month=index % 12 + 1)


def parse_granularity(text: str) -> Granularity:
    """Parse a Lakehouse granularity string; calendar units allow only a count of 1."""
    match = _PATTERN.fullmatch(text)
    if match is None:
        raise ValueError(f"invalid granularity {text!r}: expected e.g. '5 minutes', '1 hour', '1 day', "
                         "'1 week', '1 month' or '1 year'")
    count, unit = int(match.group(1)), match.group(2).lower()
    if count < 1 or (unit in ("month", "year") and count != 1):
        raise ValueError(f"invalid granularity {text!r}: use a positive count, and 1 for months and years")
    return Granularity(text=text, count=count, unit=unit)


def case_sql(ts_sql: str, windows: Sequence[Window]) -> tuple[str, dict[str, Any]]:
    """SQL giving the 1-based index of the window in ``windows`` holding ``ts_sql`` (0 for none)."""
    params: dict[str, Any] = {}
    branches = []
    for index, (start, end) in enumerate(windows):
        params[f"ws{index}"], params[f"we{index}"] = _utc(start), _utc(end)
        branches.append(f"WHEN {ts_sql} >= :ws{index} AND {ts_sql} < :we{index} THEN {index + 1}")
    return f"CASE {' '.join(branches)} ELSE 0 END", params
