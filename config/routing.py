"""Alert routing settings in Alertmanager's vocabulary: the route tree, inhibit rules, time intervals.

An Alertmanager ``route:`` block pasted here means the same thing (see docs/external/alertmanager-semantics.md).
Legacy ``match``/``match_re`` maps are accepted and turned into ``matchers``. Time intervals are in
``config.time_intervals`` (their names are re-exported here).
"""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

from pydantic import Field, field_validator, model_validator

from config.base import Strict
from config.durations import Duration
from config.matchers import Matcher, MatcherField, Op, split_matchers

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


def _matcher_lists(values: Any, keys: tuple[str, ...]) -> Any:
    """Alertmanager reads each ``matchers:`` entry as zero or more matchers (``a="x",b="y"``,
    ``{a="x"}``): entries holding several are split here into one string per matcher, so that each
    is checked (and reported) on its own."""
    if not isinstance(values, dict):
        return values
    out = dict(values)
    for key in keys:
        entries = out.get(key)
        if not isinstance(entries, list | tuple):
            continue
        expanded: list[Any] = []
        for entry in entries:
            expanded += split_matchers(entry) if isinstance(entry, str) else [entry]
        out[key] = expanded
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
    escalation: str | None = None  # an alerting.escalation_policies name; not inherited

    @model_validator(mode="before")
    @classmethod
    def _fold_legacy(cls, values: Any) -> Any:
        return _matcher_lists(_legacy_matchers(values), ("matchers",))

    @field_validator("receiver")
    @classmethod
    def _receiver_named(cls, value: str | None) -> str | None:
        if value is not None and not value.strip():
            raise ValueError("receiver must be a receiver name, not an empty string")
        return value

    @field_validator("group_by")
    @classmethod
    def _group_by(cls, value: tuple[str, ...] | None) -> tuple[str, ...] | None:
        if value == ():
            # Alertmanager (up to 0.30, the Debian 0.25 included) reads an empty list as "not set": the
            # route inherits its parent's group_by, '...' included (docs/external/alertmanager-semantics.md).
            return None
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


def referenced_escalations(route: Route) -> set[str]:
    """Every escalation policy name the tree under ``route`` (inclusive) mentions."""
    names = {route.escalation} if route.escalation is not None else set()
    for child in route.routes:
        names |= referenced_escalations(child)
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
        return _matcher_lists(_legacy_matchers(_legacy_matchers(values, "source_"), "target_"),
                              ("source_matchers", "target_matchers"))

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


# Time intervals live in their own module; these names stay importable from here.
from config.time_intervals import (  # noqa: E402
    InclusiveRange,
    TimeInterval,
    TimeRange,
    TimeSpec,
    minutes_of_day,
)

__all__ = [
    "GROUP_BY_ALL",
    "LABEL_NAME",
    "InclusiveRange",
    "InhibitRule",
    "Route",
    "TimeInterval",
    "TimeRange",
    "TimeSpec",
    "minutes_of_day",
    "referenced_escalations",
    "referenced_receivers",
    "referenced_time_intervals",
]
