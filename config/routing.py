"""Alert routing settings in Alertmanager's vocabulary: the route tree, inhibit rules, time intervals.

An Alertmanager ``route:`` block pasted here means the same thing (see contracts/alert-semantics.md).
Legacy ``match``/``match_re`` maps are accepted and turned into ``matchers``. Time intervals are
parsed and checked at load time; evaluating them is the alerts package's job.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Annotated, Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BeforeValidator, Field, PlainSerializer, field_validator, model_validator

from config.base import Strict
from config.durations import Duration
from config.matchers import Matcher, MatcherField, Op

LABEL_NAME = re.compile(r"^[a-zA-Z_][a-zA-Z0-9_]*$")
GROUP_BY_ALL = "..."
_LABEL_HINT = "is not a label name (letters, digits and _, not starting with a digit)"


def _legacy_matchers(values: Any, prefix: str = "") -> Any:
    """Fold ``{prefix}match`` and ``{prefix}match_re`` maps into ``{prefix}matchers``."""
    if not isinstance(values, dict):
        return values
    out = dict(values)
    extra: list[Matcher] = []
    for key, op in ((f"{prefix}match", Op.EQ), (f"{prefix}match_re", Op.RE)):
        legacy = out.pop(key, None)
        if legacy is None:
            continue
        if not isinstance(legacy, dict):
            raise ValueError(f"{key} must be a map of label name to {'regex' if op is Op.RE else 'value'}")
        for name, value in legacy.items():
            if not isinstance(name, str) or not LABEL_NAME.match(name):
                raise ValueError(f"{key}: {name!r} {_LABEL_HINT}")
            if not isinstance(value, str):
                raise ValueError(f"{key}.{name}: the value must be a string, not {type(value).__name__}")
            try:
                extra.append(Matcher.create(name, op, value))
            except ValueError as exc:
                raise ValueError(f"{key}.{name}: {exc}") from None
    if extra:
        out[f"{prefix}matchers"] = (*out.get(f"{prefix}matchers", ()), *extra)
    return out


def _check_label_names(names: tuple[str, ...], what: str) -> tuple[str, ...]:
    for name in names:
        if not LABEL_NAME.match(name):
            raise ValueError(f"{what}: {name!r} {_LABEL_HINT}")
    if len(set(names)) != len(names):
        raise ValueError(f"{what}: a label name is listed twice in {list(names)}")
    return names


class Route(Strict):
    """One node of the routing tree. ``None`` means "inherit from the parent"."""

    receiver: str | None = None
    matchers: tuple[MatcherField, ...] = ()
    group_by: tuple[str, ...] | None = None
    group_wait: Duration | None = None
    group_interval: Duration | None = None
    repeat_interval: Duration | None = None
    continue_: bool = Field(default=False, alias="continue")
    routes: tuple[Route, ...] = ()
    mute_time_intervals: tuple[str, ...] = ()
    active_time_intervals: tuple[str, ...] = ()

    @model_validator(mode="before")
    @classmethod
    def _fold_legacy(cls, values: Any) -> Any:
        return _legacy_matchers(values)

    @field_validator("receiver")
    @classmethod
    def _receiver_named(cls, value: str | None) -> str | None:
        if value is not None and not value.strip():
            raise ValueError("receiver must be a receiver name, not an empty string")
        return value

    @field_validator("group_by")
    @classmethod
    def _group_by(cls, value: tuple[str, ...] | None) -> tuple[str, ...] | None:
        if value is None or value == (GROUP_BY_ALL,):
            return value
        if GROUP_BY_ALL in value:
            raise ValueError("group_by: '...' (all labels) cannot be mixed with label names")
        return _check_label_names(value, "group_by")

    @field_validator("group_interval", "repeat_interval")
    @classmethod
    def _positive(cls, value: timedelta | None) -> timedelta | None:
        if value is not None and value.total_seconds() <= 0:
            raise ValueError("must be greater than 0 (for example 5m)")
        return value

    @field_validator("mute_time_intervals", "active_time_intervals")
    @classmethod
    def _interval_names(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        if any(not name.strip() for name in value):
            raise ValueError("time interval names must not be empty")
        return value


def referenced_receivers(route: Route) -> set[str]:
    """Every receiver name the tree under ``route`` (inclusive) mentions."""
    names = {route.receiver} if route.receiver is not None else set()
    for child in route.routes:
        names |= referenced_receivers(child)
    return names


def referenced_time_intervals(route: Route) -> set[str]:
    """Every time interval name the tree under ``route`` (inclusive) mentions."""
    names = set(route.mute_time_intervals) | set(route.active_time_intervals)
    for child in route.routes:
        names |= referenced_time_intervals(child)
    return names


class InhibitRule(Strict):
    """Firing alerts matching ``source_matchers`` mute alerts matching ``target_matchers``
    when the ``equal`` labels have the same values on both (absent on both counts as equal)."""

    source_matchers: tuple[MatcherField, ...] = ()
    target_matchers: tuple[MatcherField, ...] = ()
    equal: tuple[str, ...] = ()

    @model_validator(mode="before")
    @classmethod
    def _fold_legacy(cls, values: Any) -> Any:
        return _legacy_matchers(_legacy_matchers(values, "source_"), "target_")

    @model_validator(mode="after")
    def _both_sides(self) -> InhibitRule:
        for side in ("source", "target"):
            if not getattr(self, f"{side}_matchers"):
                raise ValueError(
                    f"an inhibit rule needs {side}_matchers; without them it would mute every alert "
                    f"(for example {side}_matchers: ['severity=\"critical\"'])"
                )
        _check_label_names(self.equal, "equal")
        return self


# --- time intervals -------------------------------------------------------------------------------

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
