"""Durations written the way Alertmanager and Prometheus users write them: ``30s``, ``5m``, ``4h``, ``1d``."""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from datetime import timedelta
from typing import Annotated, Any

from pydantic import BeforeValidator, PlainSerializer

_UNITS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
_PART = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h|d|w)")
# No setting means anything over ten years; past it a number is a typo (and past ~2.7 million
# years Python's timedelta overflows).
MAX_DURATION = timedelta(days=3650)


def parse_duration(value: Any) -> timedelta:
    """Parse ``1h30m``-style text (or a number of seconds) into a timedelta."""
    if isinstance(value, timedelta):
        return value
    if isinstance(value, bool):
        raise ValueError("a duration such as 30s, 5m, 4h or 1d")
    if isinstance(value, (int, float)):
        if isinstance(value, float) and not math.isfinite(value):
            raise ValueError("a duration such as 30s, 5m, 4h or 1d, not a number that is not finite")
        if value < 0:
            raise ValueError("a non-negative duration")
        return _bounded(float(value), value)
    if not isinstance(value, str):
        raise ValueError("a duration such as 30s, 5m, 4h or 1d")
    text = value.strip()
    pos, total = 0, 0.0
    for match in _PART.finditer(text):
        if match.start() != pos:
            break
        total += float(match.group(1)) * _UNITS[match.group(2)]
        pos = match.end()
    if not text or pos != len(text):
        raise ValueError(f"a duration such as 30s, 5m, 4h or 1d (units ms, s, m, h, d, w), not {value!r}")
    return _bounded(total, value)


def _bounded(seconds: float, shown: Any) -> timedelta:
    if not math.isfinite(seconds) or seconds > MAX_DURATION.total_seconds():
        text = repr(shown) if len(repr(shown)) <= 40 else repr(shown)[:37] + "..."
        raise ValueError(f"a duration of at most {MAX_DURATION.days}d (ten years), not {text}")
    return timedelta(seconds=seconds)


def at_least(minimum: timedelta, why: str) -> Callable[[timedelta], timedelta]:
    """A field validator: the duration is at least ``minimum`` (``why`` says what a smaller one would do)."""

    def check(value: timedelta) -> timedelta:
        if value < minimum:
            raise ValueError(f"a duration of at least {format_duration(minimum)} ({why})")
        return value

    return check


def format_duration(value: timedelta) -> str:
    """The shortest exact text for a duration: ``timedelta(minutes=90)`` -> ``1h30m``."""
    seconds = value.total_seconds()
    if seconds == 0:
        return "0s"
    parts = []
    for unit in ("d", "h", "m", "s"):
        size = _UNITS[unit]
        count, seconds = divmod(seconds, size)
        if count:
            parts.append(f"{int(count)}{unit}")
    if seconds:
        parts.append(f"{round(seconds * 1000)}ms")
    return "".join(parts)


Duration = Annotated[timedelta, BeforeValidator(parse_duration), PlainSerializer(format_duration)]
