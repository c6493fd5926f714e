"""Named time intervals in Alertmanager's form (``time_intervals:``), parsed and checked at load time.

Ranges are inclusive (``monday:friday``, ``1:5``, ``-3:-1`` from the month's end); ``times`` are
``HH:MM`` with the start inclusive and the end exclusive; inverted and overlapping ranges are
rejected. Evaluating them at an instant is the alerts package's job (``alerts.timeintervals``).
"""

from __future__ import annotations

import itertools
import re
from dataclasses import dataclass, field
from typing import Annotated, Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BeforeValidator, Field, PlainSerializer, field_validator, model_validator

from config.base import Strict

WEEKDAYS = ("sunday", "monday", "tuesday", "wednesday", "thursday", "friday", "saturday")
MONTHS = (
    "january", "february", "march", "april", "may", "june",
    "july", "august", "september", "october", "november", "december",
)


@dataclass(frozen=True)
class InclusiveRange:
    """``start:end`` with both ends included; a single value ``v`` is ``v:v``."""

    start: int
    end: int
    text: str = field(compare=False)

    def __str__(self) -> str:
        return self.text


def _split(text: Any, what: str, *, sexagesimal: bool = True) -> tuple[str, str]:
    if isinstance(text, int) and not isinstance(text, bool):
        # YAML 1.1 reads an unquoted 1:5 as the base-60 number 65; no day or month is >= 60.
        text = f"{text // 60}:{text % 60}" if sexagesimal and text >= 60 else str(text)
    if not isinstance(text, str) or not text.strip():
        raise ValueError(f"{what}: expected a value or a range 'start:end', not {text!r}")
    parts = [p.strip() for p in text.strip().split(":")]
    if len(parts) == 1:
        return parts[0], parts[0]
    if len(parts) == 2 and all(parts):
        return parts[0], parts[1]
    raise ValueError(f"{what}: expected a value or a range 'start:end', not {text!r}")


def _int(value: str, what: str) -> int:
    try:
        return int(value)
    except ValueError:
        raise ValueError(f"{what}: {value!r} is not a whole number") from None


def _ordered(start: int, end: int, text: Any, what: str) -> InclusiveRange:
    if start > end:
        raise ValueError(f"{what}: range {text!r} ends before it starts; write it as start:end")
    return InclusiveRange(start, end, str(text).strip())


def _weekday(value: str) -> int:
    if value.lower() not in WEEKDAYS:
        raise ValueError(f"weekdays: {value!r} is not a day name ({', '.join(WEEKDAYS)})")
    return WEEKDAYS.index(value.lower())


def _month(value: str) -> int:
    if value.lower() in MONTHS:
        return MONTHS.index(value.lower()) + 1
    if value.isdigit() and 1 <= int(value) <= 12:
        return int(value)
    raise ValueError(f"months: {value!r} is not a month (1..12 or january..december)")


def parse_weekday_range(text: Any) -> InclusiveRange:
    """``monday:friday`` -> 1..5 (sunday is 0, as in Alertmanager)."""
    if isinstance(text, InclusiveRange):
        return text
    a, b = _split(text, "weekdays")
    return _ordered(_weekday(a), _weekday(b), f"{a}:{b}" if a != b else a, "weekdays")


def parse_month_range(text: Any) -> InclusiveRange:
    """``may:august`` or ``5:8`` -> 5..8."""
    if isinstance(text, InclusiveRange):
        return text
    a, b = _split(text, "months")
    return _ordered(_month(a), _month(b), f"{a}:{b}" if a != b else a, "months")


def parse_day_of_month_range(text: Any) -> InclusiveRange:
    """``1:5`` or ``-3:-1`` (negative days count back from the month's last day, -1 being the last)."""
    if isinstance(text, InclusiveRange):
        return text
    a, b = _split(text, "days_of_month")
    start, end = _int(a, "days_of_month"), _int(b, "days_of_month")
    for day in (start, end):
        if day == 0 or not -31 <= day <= 31:
            raise ValueError(f"days_of_month: {day} is not a day (1..31, or -31..-1 counting from the end)")
    if start < 0 < end:
        raise ValueError(f"days_of_month: {text!r} starts from the end but ends from the start; use -3:-1")
    # An order that is wrong in the shortest month (28 days, where -1 is day 28) is rejected.
    text = f"{a}:{b}" if a != b else a
    _ordered(start + 29 * (start < 0), end + 29 * (end < 0), text, "days_of_month")
    return InclusiveRange(start, end, text)


def parse_year_range(text: Any) -> InclusiveRange:
    """``2024`` or ``2024:2026``."""
    if isinstance(text, InclusiveRange):
        return text
    a, b = _split(text, "years", sexagesimal=False)
    start, end = _int(a, "years"), _int(b, "years")
    if start <= 0 or end <= 0:
        raise ValueError(f"years: {text!r} must be positive years such as 2024 or 2024:2026")
    return _ordered(start, end, f"{a}:{b}" if a != b else a, "years")


WeekdayRange = Annotated[InclusiveRange, BeforeValidator(parse_weekday_range), PlainSerializer(str)]
MonthRange = Annotated[InclusiveRange, BeforeValidator(parse_month_range), PlainSerializer(str)]
DayOfMonthRange = Annotated[InclusiveRange, BeforeValidator(parse_day_of_month_range), PlainSerializer(str)]
YearRange = Annotated[InclusiveRange, BeforeValidator(parse_year_range), PlainSerializer(str)]

_CLOCK = re.compile(r"^([01]\d|2[0-4]):([0-5]\d)$")


def minutes_of_day(text: str) -> int:
    """``"09:30"`` -> 570; ``"24:00"`` -> 1440."""
    m = _CLOCK.match(text)
    if not m or (m.group(1) == "24" and m.group(2) != "00"):
        raise ValueError(f"{text!r} is not a time of day HH:MM between 00:00 and 24:00")
    return int(m.group(1)) * 60 + int(m.group(2))


class TimeRange(Strict):
    """``start_time`` inclusive, ``end_time`` exclusive, both ``HH:MM`` in the interval's location."""

    start_time: str
    end_time: str

    @field_validator("start_time", "end_time", mode="before")
    @classmethod
    def _clock(cls, value: Any) -> Any:
        if isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= 24 * 60:
            value = f"{value // 60:02d}:{value % 60:02d}"  # YAML 1.1 reads unquoted 17:30 as 1050
        if isinstance(value, str):
            minutes_of_day(value)
        return value

    @model_validator(mode="after")
    def _ordered(self) -> TimeRange:
        if minutes_of_day(self.start_time) >= minutes_of_day(self.end_time):
            raise ValueError(
                f"start_time {self.start_time} must be before end_time {self.end_time}; "
                "for a range over midnight use two ranges (22:00-24:00 and 00:00-06:00)"
            )
        return self


class TimeSpec(Strict):
    """One element of a time interval: every field given must match; within a field, any element."""

    times: tuple[TimeRange, ...] = ()
    weekdays: tuple[WeekdayRange, ...] = ()
    days_of_month: tuple[DayOfMonthRange, ...] = ()
    months: tuple[MonthRange, ...] = ()
    years: tuple[YearRange, ...] = ()
    location: str = "UTC"

    @model_validator(mode="after")
    def _no_overlaps(self) -> TimeSpec:
        spans = sorted((minutes_of_day(t.start_time), minutes_of_day(t.end_time), t) for t in self.times)
        for (_, end, first), (start, _, second) in itertools.pairwise(spans):
            if start < end:
                raise ValueError(f"times: {first.start_time}-{first.end_time} and {second.start_time}-"
                                 f"{second.end_time} overlap; merge them into one range")
        for name in ("weekdays", "months", "years"):
            ranges = sorted(getattr(self, name), key=lambda r: r.start)
            for first, second in itertools.pairwise(ranges):
                if second.start <= first.end:
                    raise ValueError(f"{name}: {first} and {second} overlap; merge them into one range")
        return self

    @field_validator("location")
    @classmethod
    def _zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError, OSError):
            raise ValueError(f"{value!r} is not an IANA time zone such as UTC or Europe/Berlin") from None
        return value


class TimeInterval(Strict):
    """A named list of time specs, referenced by ``mute_time_intervals``/``active_time_intervals``."""

    name: str = Field(min_length=1)
    time_intervals: tuple[TimeSpec, ...] = ()
