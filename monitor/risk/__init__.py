"""Judging observations: findings per signal, one risk score and severity per model and window."""

from monitor.risk.assessment import Assessment, Finding, Skip
from monitor.risk.judge import judge
from monitor.risk.score import risk_score, severity_for

__all__ = ["Assessment", "Finding", "Skip", "judge", "risk_score", "severity_for"]
