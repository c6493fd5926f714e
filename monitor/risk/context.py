"""What every rule gets (``Context``) and the one way a value meets its tiers (``tiered``).

A rule is a function ``Context -> Iterator[Finding | NotRaised]``. Rules never raise on bad input:
a missing, NULL, NaN or infinite value, or too few rows, is a ``NotRaised`` with the reason.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field

from config.models import LakehouseSource, ModelSettings
from config.signals import Floors, Signals, Tiers
from monitor.observations import WHOLE, Scope, WindowMetrics
from monitor.risk.assessment import Finding, NotRaised, PriorWindow

Outcome = Finding | NotRaised


@dataclass(frozen=True)
class Context:
    model: ModelSettings
    window: WindowMetrics
    history: tuple[PriorWindow, ...] = ()  # earlier windows of the same stream, oldest first
    feature_weights: Mapping[str, float] = field(default_factory=dict)
    measures: dict[str, float] = field(default_factory=dict)  # filled by rules: series for later windows

    @property
    def signals(self) -> Signals:
        return self.model.signals

    @property
    def lakehouse(self) -> LakehouseSource | None:
        return self.model.sources.lakehouse

    def judged(self, scope: Scope) -> bool:
        """The whole table, and the slices the source lists (``'*'``: all); fairness reads its own slices."""
        if scope.whole_table:
            return True
        slices = self.lakehouse.slices if self.lakehouse is not None else ()
        return "*" in slices or scope.slice_key in slices

    def too_few(self, min_count: int, scope: Scope = WHOLE, column: str | None = None) -> str | None:
        count = self.window.count_for(scope, column)
        if count is not None and count < min_count:
            return f"window has {count} rows, below min_count {min_count}"
        return None

    def series(self, name: str, last: int) -> list[float]:
        """The measure ``name`` of up to ``last`` earlier windows, oldest first (windows without it left out)."""
        values = [w.measures[name] for w in self.history if name in w.measures]
        return values[-last:] if last else values

    def median(self, name: str, last: int, minimum: int = 3) -> float | None:
        values = self.series(name, last)
        return statistics.median(values) if len(values) >= minimum else None


Rule = Callable[[Context], Iterator[Outcome]]


def bad_number(value: float | None) -> str | None:
    """Why ``value`` cannot be judged, or None when it is a finite number."""
    if value is None:
        return "is NULL"
    if math.isnan(value) or math.isinf(value):
        return f"is {value} (not a finite number)"
    return None


def tiered(signal: str, statistic: str, value: float | None, tiers: Tiers | Floors, weight: float, column: str,
           *, scope: Scope = WHOLE, drift_type: str | None = None, detail: str = "") -> Outcome:
    """A finding at the highest tier ``value`` reaches, else why not."""
    bad = bad_number(value)
    if bad is not None or value is None:
        return NotRaised(signal, column, f"{statistic} {bad}", "skipped", statistic, None, scope, drift_type)
    tier = tiers.tier_of(value)
    lower = isinstance(tiers, Floors)
    if tier is None:
        first = tiers.given()[0]
        words = f"above {first[0]} floor {first[1]:g}" if lower else f"below {first[0]} {first[1]:g}"
        reason = f"{statistic} {value:.3g} {words}" + (f" ({detail})" if detail else "")
        return NotRaised(signal, column, reason, "below", statistic, float(value), scope, drift_type)
    threshold = tiers.threshold(tier)
    return Finding(signal, column, statistic, float(value), tier, threshold if threshold is not None else 0.0,
                   weight, drift_type, scope, detail, worse_when_lower=lower)


def selected(columns: tuple[str, ...], exclude: tuple[str, ...], column: str) -> bool:
    return (not columns or column in columns) and column not in exclude


def fmt(value: float) -> str:
    return f"{value:.3g}"
