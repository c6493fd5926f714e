"""The verdict for one model and window, with the findings that led to it, in words."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any

from config.signals import Severity

# How much of the way to "certainly broken" each tier is; the score combines these (see score.py).
TIER_WEIGHT: dict[str, float] = {"low": 0.25, "medium": 0.5, "high": 0.75, "critical": 1.0}


@dataclass(frozen=True)
class Finding:
    signal: str
    column: str
    statistic: str
    value: float
    tier: str
    threshold: float
    weight: float
    drift_type: str | None = None

    @property
    def severity(self) -> float:
        """The finding's severity in [0, 1]: its tier's level."""
        return TIER_WEIGHT[self.tier]

    def describe(self) -> str:
        against = f" ({self.drift_type.lower()})" if self.drift_type else ""
        name = self.signal.replace("_", " ")
        limit = f"{self.tier} {self.threshold:g}"
        return f"{name}: {self.statistic} {self.value:.3g} on `{self.column}`{against} >= {limit}"


@dataclass(frozen=True)
class Skip:
    """A metric that was looked at and not judged, and why (shown by ``explain`` and in logs)."""

    signal: str
    column: str
    reason: str


@dataclass(frozen=True)
class Assessment:
    model: str
    granularity: str
    window_start: datetime
    window_end: datetime
    risk: float
    severity: Severity
    findings: tuple[Finding, ...] = ()
    skipped: tuple[Skip, ...] = ()
    row_count: int | None = None
    inputs: dict[str, Any] = field(default_factory=dict)

    def top(self, n: int = 3) -> tuple[Finding, ...]:
        return self.findings[:n]

    def summary(self) -> str:
        head = f"{self.model}: risk {self.risk:.0f} ({self.severity})"
        if not self.findings:
            return head + ", no findings"
        return head + " - " + "; ".join(f.describe() for f in self.top())

    def findings_json(self) -> list[dict[str, Any]]:
        return [asdict(f) for f in self.findings]

    def skipped_json(self) -> list[dict[str, Any]]:
        return [asdict(s) for s in self.skipped]
