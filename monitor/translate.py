"""Assessments in the words of the other packages: ``alerts.Alert`` and ``retrain.Trigger``."""

from __future__ import annotations

from config.models import ModelSettings
from monitor.risk import Assessment

ALERT_NAME = "ModelAtRisk"


def alert_labels(model: ModelSettings, severity: str) -> dict[str, str]:
    labels = {"alertname": ALERT_NAME, "model": model.name, "env": model.env, "severity": severity}
    if model.team:
        labels["team"] = model.team
    labels.update(model.labels)
    return labels


def alert_annotations(model: ModelSettings, assessment: Assessment) -> dict[str, str]:
    notes = {
        "summary": assessment.summary(),
        "risk": f"{assessment.risk:.0f}",
        "window": f"{assessment.window_start.isoformat()} .. {assessment.window_end.isoformat()} "
                  f"({assessment.granularity})",
        "findings": "\n".join(f.describe() for f in assessment.top(5)),
        "persistence": assessment.state.reason,
    }
    if model.runbook_url:
        notes["runbook_url"] = model.runbook_url
    if model.dashboard_url:
        notes["dashboard_url"] = model.dashboard_url
    return notes


def alert_scope(model: str) -> str:
    """All risk alerts of one model share a scope: syncing it resolves the ones no longer firing."""
    return f"model:{model}"
