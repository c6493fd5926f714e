"""Findings -> one risk score in [0, 100] -> a severity tier.

The strongest finding sets the floor (a single high finding alone makes a high model); each further
finding closes part of the remaining gap to 100, damped by half, so several medium findings add up
to more than one, but six features at ``high`` are needed before the model is ``critical`` on
drift alone. The score is monotone in every finding's severity and weight and never exceeds 100.
"""

from __future__ import annotations

from collections.abc import Sequence

from config.signals import Severity, Tiers
from monitor.risk.assessment import Finding

SECONDARY_DAMPING = 0.5


def contribution(finding: Finding) -> float:
    return finding.severity * finding.weight


def risk_score(findings: Sequence[Finding]) -> float:
    parts = sorted((contribution(f) for f in findings), reverse=True)
    if not parts:
        return 0.0
    remaining = 1.0 - parts[0]
    for part in parts[1:]:
        remaining *= 1.0 - SECONDARY_DAMPING * part
    return round(100.0 * (1.0 - remaining), 2)


def severity_for(score: float, tiers: Tiers) -> Severity:
    found = tiers.tier_of(score)
    return "ok" if found is None else found
