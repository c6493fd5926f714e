"""Severity tiers and their one order: ``ok`` < ``low`` < ``medium`` < ``high`` < ``critical``.

``ok`` is a verdict (nothing found), the other four are the tiers of findings, alerts and triggers.
Every comparison of severities in lakewarden goes through :func:`severity_rank` or :func:`at_least`.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Literal, cast

Severity = Literal["ok", "low", "medium", "high", "critical"]
SEVERITIES: tuple[Severity, ...] = ("ok", "low", "medium", "high", "critical")
AlertSeverity = Literal["low", "medium", "high", "critical"]
ALERT_SEVERITIES: tuple[AlertSeverity, ...] = ("low", "medium", "high", "critical")

_RANK: dict[str, int] = {name: index for index, name in enumerate(SEVERITIES)}


def severity_rank(severity: str) -> int:
    """0 for ``ok`` up to 4 for ``critical``; a ValueError naming the valid tiers for anything else."""
    try:
        return _RANK[severity]
    except KeyError:
        raise ValueError(f"severity must be one of {', '.join(SEVERITIES)}, not {severity!r}") from None


def at_least(severity: str, floor: str) -> bool:
    """Whether ``severity`` reaches ``floor`` (``at_least("high", "medium")`` is True)."""
    return severity_rank(severity) >= severity_rank(floor)


def worst(severities: Iterable[str]) -> Severity:
    """The highest of ``severities``; ``ok`` for none."""
    return cast(Severity, max(severities, key=severity_rank, default="ok"))


def as_severity(value: str) -> Severity:
    """``value`` typed as a :data:`Severity`, or a ValueError naming the valid tiers."""
    severity_rank(value)
    return cast(Severity, value)
