"""Judging observations: findings per signal, one risk score and severity per model and window."""

from monitor.risk.assessment import Assessment, Finding, NotRaised, PriorWindow, Skip, StreamState
from monitor.risk.judge import history_needed, judge
from monitor.risk.persistence import advance, replay_states
from monitor.risk.score import contribution, counted, risk_score, severity_for

__all__ = ["Assessment", "Finding", "NotRaised", "PriorWindow", "Skip", "StreamState", "advance", "contribution",
           "counted", "history_needed", "judge", "replay_states", "risk_score", "severity_for"]
