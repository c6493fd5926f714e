"""Durations written the way Alertmanager and Prometheus users write them: ``30s``, ``5m``, ``4h``, ``1d``."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Annotated, Any

from pydantic import BeforeValidator, PlainSerializer

_UNITS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
_PART = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h|d|w)")


def parse_duration(value: Any) -> timedelta:
    """Parse ``1h30m``-style text (or a number of seconds) into a timedelta."""
    if isinstance(value, timedelta):
        return value
    if isinstance(value, bool):
        raise ValueError("a duration such as 30s, 5m, 4h or 1d")
    if isinstance(value, (int, float)):
        if value < 0:
            raise ValueError("a non-negative duration")
        return timedelta(seconds=value)
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
    return timedelta(seconds=total)


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
