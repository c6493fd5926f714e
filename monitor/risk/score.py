"""Findings -> one risk score in [0, 100] -> a severity tier.

A finding contributes its severity (its tier's level) times its weight. Findings of one group (the
same signal, statistic and column, seen in several scopes or drift types) are one problem: only the
strongest counts. The strongest problem sets the floor (a single high finding alone makes a high
model); each further problem closes part of the remaining gap to 100, damped by half, so several
medium findings add up to more than one, but six features at ``high`` are needed before the model
is ``critical`` on drift alone. The score is monotone in every finding's severity and weight and
never exceeds 100.
"""

from __future__ import annotations

from collections.abc import Sequence

from config.basics.severity import Severity
from config.signals import Tiers
from monitor.risk.assessment import Finding

SECONDARY_DAMPING = 0.5


def contribution(finding: Finding) -> float:
    return finding.severity * finding.weight


def counted(findings: Sequence[Finding]) -> list[Finding]:
    """The strongest finding of each group, strongest first (ties: the larger value over its threshold)."""
    best: dict[tuple[str, str, str], Finding] = {}
    for finding in sorted(findings, key=rank_key):
        best.setdefault(finding.group, finding)
    return sorted(best.values(), key=rank_key)


def rank_key(finding: Finding) -> tuple[float, float, str, str]:
    margin = abs(finding.value - finding.threshold)
    return (-contribution(finding), -margin, finding.signal, finding.column)


def risk_score(findings: Sequence[Finding]) -> float:
    parts = [contribution(f) for f in counted(findings)]
    if not parts:
        return 0.0
    remaining = 1.0 - parts[0]
    for part in parts[1:]:
        remaining *= 1.0 - SECONDARY_DAMPING * part
    return round(100.0 * (1.0 - remaining), 2)


def severity_for(score: float, tiers: Tiers) -> Severity:
    found = tiers.tier_of(score)
    return "ok" if found is None else found
