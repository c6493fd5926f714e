"""The verdict for one model and window, with the findings that led to it and what was not raised, in words."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any, Literal

from config.basics.severity import Severity
from monitor.observations import WHOLE, Scope

# How much of the way to "certainly broken" each tier is; the score combines these (see score.py).
TIER_WEIGHT: dict[str, float] = {"low": 0.25, "medium": 0.5, "high": 0.75, "critical": 1.0}
NotRaisedKind = Literal["skipped", "below", "not_significant", "duplicate"]
# A finding about a state, not a number (e.g. a missing monitor): value and threshold are 1, its detail says it.
STATE_STATISTIC = "state"


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
    scope: Scope = WHOLE
    detail: str = ""
    worse_when_lower: bool = False
    recent: tuple[int, int] | None = None  # (windows with this finding, windows looked at), newest included

    @property
    def severity(self) -> float:
        """The finding's severity in [0, 1]: its tier's level."""
        return TIER_WEIGHT[self.tier]

    @property
    def group(self) -> tuple[str, str, str]:
        """Findings of one group are one problem seen in several scopes or drift types: counted once."""
        return (self.signal, self.statistic, self.column)

    @property
    def key(self) -> str:
        """Identity across windows (for "3 of the last 4 windows")."""
        return "|".join((self.signal, self.statistic, self.column, self.scope.key(), self.drift_type or ""))

    def describe(self) -> str:
        against = f" ({self.drift_type.lower()})" if self.drift_type else ""
        name = self.signal.replace("_", " ")
        where = "the table" if self.column == ":table" else f"`{self.column}`"
        scope = f" [{self.scope.describe()}]" if self.scope.describe() else ""
        compare = "<=" if self.worse_when_lower else ">="
        if self.statistic == STATE_STATISTIC:
            text = f"{name} ({self.tier}): {self.detail}"
        else:
            text = (f"{name}: {self.statistic} {self.value:.3g} on {where}{scope}{against} "
                    f"{compare} {self.tier} {self.threshold:g}")
            if self.detail:
                text += f" ({self.detail})"
        if self.recent is not None:
            text += f", {self.recent[0]} of the last {self.recent[1]} windows"
        return text


@dataclass(frozen=True)
class NotRaised:
    """A metric that was looked at and raised nothing, and why (shown by ``explain`` and in logs).

    ``skipped``: not judged (too few rows, NULL/NaN/inf, missing column); ``below``: judged and under
    the lowest tier; ``not_significant``: over a tier but its test's corrected p-value is above
    ``alpha``; ``duplicate``: raised in another scope already counted.
    """

    signal: str
    column: str
    reason: str
    kind: NotRaisedKind = "skipped"
    statistic: str | None = None
    value: float | None = None
    scope: Scope = WHOLE
    drift_type: str | None = None

    def describe(self) -> str:
        scope = f" [{self.scope.describe()}]" if self.scope.describe() else ""
        against = f" ({self.drift_type.lower()})" if self.drift_type else ""
        where = "the table" if self.column == ":table" else f"`{self.column}`"
        return f"{self.signal.replace('_', ' ')} on {where}{scope}{against}: {self.reason}"


Skip = NotRaised  # v1 name


@dataclass(frozen=True)
class StreamState:
    """Where a stream's alert stands after a window: firing (and at which severity) or not, and why."""

    firing: bool = False
    severity: Severity = "ok"
    reason: str = "no windows judged yet"


@dataclass(frozen=True)
class PriorWindow:
    """What the judge needs to know about an earlier window of the same stream."""

    window_start: datetime
    window_end: datetime
    severity: Severity
    finding_keys: frozenset[str] = frozenset()
    measures: dict[str, float] = field(default_factory=dict)
    row_count: int | None = None


@dataclass(frozen=True)
class Assessment:
    model: str
    granularity: str
    window_start: datetime
    window_end: datetime
    risk: float
    severity: Severity
    findings: tuple[Finding, ...] = ()
    not_raised: tuple[NotRaised, ...] = ()
    row_count: int | None = None
    inputs: dict[str, Any] = field(default_factory=dict)
    stream: str = ""
    version: str | None = None
    measures: dict[str, float] = field(default_factory=dict)
    state: StreamState = field(default_factory=StreamState)
    alert_severity: Severity = "ok"

    @property
    def skipped(self) -> tuple[NotRaised, ...]:
        return tuple(n for n in self.not_raised if n.kind == "skipped")

    def top(self, n: int = 3) -> tuple[Finding, ...]:
        return self.findings[:n]

    def summary(self) -> str:
        head = f"{self.model}: risk {self.risk:.0f} ({self.severity})"
        if not self.findings:
            return head + ", no findings"
        return head + " - " + "; ".join(f.describe() for f in self.top())

    def findings_json(self) -> list[dict[str, Any]]:
        return [asdict(f) for f in self.findings]

    def not_raised_json(self) -> list[dict[str, Any]]:
        return [asdict(s) for s in self.not_raised]

    skipped_json = not_raised_json
