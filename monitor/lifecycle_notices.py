"""Lifecycle runs as alerts: what a run's state says to the on-call channels.

One scope per model (``lifecycle:<model>``), holding the alert of its latest run:

| run                                   | alert (``alertname="LifecycleRun"``)       |
|---------------------------------------|---------------------------------------------|
| in flight                             | fires, ``severity="info"``                  |
| in flight, emergency fallback         | fires, ``severity="critical"``              |
| succeeded, rejected, cancelled        | resolves, its text the outcome (``info``)   |
| failed, rolled back                   | fires, ``severity="high"``                  |
| emergency done or failed, rollback incomplete | fires, ``severity="critical"``      |
| rolled back, champion kept (first run, ``keep_and_page``) | fires, ``severity="critical"`` |

An emergency fallback is an emergency run, or a run in flight that an emergency cancelled (its
rollback is the fallback); it stays ``critical`` when it ends, even cancelled.
A failed or rolled-back run's alert fires until the model's next run starts (or someone silences
it): production is as it was, but the model is still unwell and the retraining did not fix it.
Route ``alertname="LifecycleRun"`` like any alert; ``group_wait: 0s`` sends the start at once.
"""

from __future__ import annotations

from datetime import datetime

from alerts import Alert
from config.models import ModelSettings
from retrain import RunRecord, RunState, Step
from retrain.promotion import FIRST_ROLLBACK_KEPT

ALERT_NAME = "LifecycleRun"
_QUIET = (RunState.SUCCEEDED, RunState.REJECTED, RunState.CANCELLED)
# Words in a run's decision that make its end critical (``retrain.promotion.FIRST_ROLLBACK_KEPT``...).
_PAGES = ("ROLLBACK INCOMPLETE", "EMERGENCY", FIRST_ROLLBACK_KEPT)


def scope(model: str) -> str:
    return f"lifecycle:{model}"


def severity(run: RunRecord) -> str | None:
    """The alert's severity for the run as it stands; None once it ended quietly."""
    # An emergency that found a run in flight which had changed production cancels it: that run's
    # rollback is the fallback, so it pages like an emergency run (``Lifecycle.emergency``).
    by_emergency = (run.cancel_requested or "").endswith("(by emergency)")
    emergency = run.plan == (Step.EMERGENCY,) or by_emergency
    if not run.state.final:
        return "critical" if emergency else "info"
    if run.state in _QUIET and not by_emergency:
        return None
    decision = run.decision or ""
    if emergency or any(marker in decision for marker in _PAGES):
        return "critical"
    return "high"


def run_alert(model: ModelSettings, run: RunRecord, severity: str, message: str, now: datetime) -> Alert:
    labels = {"alertname": ALERT_NAME, "model": model.name, "env": model.env, "severity": severity,
              "lifecycle_run": run.run_id}
    if model.team:
        labels["team"] = model.team
    labels.update(model.labels)
    where = "done" if run.state.final else run.step.value
    annotations = {
        "summary": f"{model.name}: lifecycle run {run.state.value} ({where}): {message}",
        "run": run.run_id,
        "trigger": run.trigger.reason,
        "registered_model": run.registered_model,
    }
    if run.model_version is not None:
        annotations["version"] = run.model_version
    if model.runbook_url:
        annotations["runbook_url"] = model.runbook_url
    return Alert(labels=labels, annotations=annotations, starts_at=now, ends_at=None)


def alert_sets(model: ModelSettings, run: RunRecord, message: str, now: datetime) -> list[list[Alert]]:
    """The firing sets to sync into the model's scope, in order (a quiet end: the text first, then none)."""
    level = severity(run)
    if level is not None:
        return [[run_alert(model, run, level, message, now)]]
    # Resolve the in-flight alert with the outcome as its text: refresh it, then let it go.
    return [[run_alert(model, run, "info", message, now)], []]
