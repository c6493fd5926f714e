"""When an assessment asks for a lifecycle run, in ``retrain.Trigger`` words: the model's trigger policy.

- Only the stream's newest window asks: a catch-up poll's or a rewrite's older windows are history.
- Severity held: the stream's last ``held_for.of`` judged windows (this one included) have at least
  ``held_for.windows`` at ``min_severity`` or worse (raw window severities, not the alert's); not
  on the status streams, the monitor's and freshness (an unwatched model is not a wrong one).
- Signals: the window has a finding of a signal in ``on_signals`` at that signal's tier or worse
  (in the lifecycle's signal names: ``quality`` for the judge's ``model_quality`` and so on, see
  ``lifecycle_signal``); such a trigger is ``requested_by="signal"``, so the severity floor that
  guards policy triggers does not hide it.
- Schedule: at least one run per ``schedule`` period; the period's start is the trigger's window, so
  one period asks once.
- Emergency: the window is ``critical`` with risk at or above ``emergency.min_risk``.

Every trigger carries the guardrails' facts: the end of the model's newest judged window, and
whether quality could be judged on it (labels present).
"""

from __future__ import annotations

from datetime import UTC, datetime

from config.basics.severity import at_least
from config.durations import format_duration
from config.models import ModelSettings
from monitor.assessments import AssessmentStore
from monitor.risk import Assessment
from monitor.sources import is_data_stream
from retrain import Trigger

_EPOCH = datetime(2020, 1, 1, tzinfo=UTC)
# The judge's finding signals under the names the lifecycle settings use (``trigger.on_signals``,
# ``rollout.watch``; ``config.lifecycle.SIGNAL_NAMES``); the other signals keep their names.
_LIFECYCLE_NAMES = {"model_quality": "quality", "custom_metric": "custom", "lakehouse_monitor": "monitor"}


def lifecycle_signal(signal: str) -> str:
    """A finding's signal as the lifecycle settings name it (``model_quality`` -> ``quality``)."""
    return _LIFECYCLE_NAMES.get(signal, signal)


def facts(store: AssessmentStore, model: str) -> tuple[datetime | None, bool | None]:
    """The end of the newest judged data window and whether quality could be judged on the newest one that tried.

    The status streams (the monitor's, freshness) are left out: their window is the current period
    whatever the data, so they would make stale data look fresh. Labels are read on the newest window of a stream that
    judges quality (an inference stream without labels says nothing about them); True when none does.
    """
    latest = []
    for stream in store.streams(model):
        if not is_data_stream(stream):
            continue
        rows = store.history(model, limit=1, stream=stream)
        latest += rows[:1]
    if not latest:
        return None, None
    data_end = max(row.window_end for row in latest)
    judged = [row for row in latest if any(_quality(entry) for entry in [*row.skipped, *row.findings])]
    if not judged:
        return data_end, True
    newest = max(judged, key=lambda row: row.window_end)
    labels = not any(_quality(s) and s.get("kind") == "skipped" for s in newest.skipped)
    return data_end, labels


def _quality(entry: dict[str, object]) -> bool:
    return lifecycle_signal(str(entry.get("signal"))) == "quality"


def historical(store: AssessmentStore, assessment: Assessment) -> bool:
    """A later window of the assessment's stream is stored: this one is history, it asks for no run.

    A poll that catches up judges several windows before their events are handled, and a rewritten
    window may be an old one: only the stream's present may retrain or pull the emergency brake.
    """
    newest = store.history(assessment.model, limit=1, stream=assessment.stream)
    return bool(newest) and newest[0].window_start > assessment.window_start


def policy_trigger(model: ModelSettings, assessment: Assessment, store: AssessmentStore) -> Trigger | None:
    """The trigger this assessment makes under the model's policy, or None."""
    policy = model.lifecycle.trigger
    if historical(store, assessment):
        return None
    reason, requested_by = None, "policy"
    # A status stream (the monitor's, freshness) says the model is unwatched, not that it is wrong: a
    # retrain cannot fix it (``on_signals: {monitor: ...}`` asks for that explicitly).
    data = is_data_stream(assessment.stream)
    if data and at_least(assessment.severity, policy.min_severity):
        held = policy.held_for
        # This window and the ones before it (a later one may be stored by a concurrent poll).
        earlier = store.prior(model.name, assessment.stream, assessment.window_start, held.of - 1)
        recent = [assessment.severity, *(w.severity for w in earlier)]
        count = sum(1 for severity in recent if at_least(severity, policy.min_severity))
        if count >= held.windows:
            top = assessment.findings[0].describe() if assessment.findings else "no findings"
            # The stable part (before the first ':') names the rule only: the idempotency key is made
            # of it, so the same window asks once even when its risk or count moved on a rewrite.
            reason = (f"severity {policy.min_severity} held: risk {assessment.risk:.0f} ({assessment.severity}), "
                      f"{policy.min_severity} or worse in {count} of the last {len(recent)} windows: {top}")
    if reason is None:
        for finding in assessment.findings:
            signal = lifecycle_signal(finding.signal)
            floor = policy.on_signals.get(signal)
            if floor is not None and at_least(finding.tier, floor):
                reason, requested_by = f"signal {signal}: {finding.describe()}", "signal"
                break
    if reason is None:
        return None
    data_end, labels = facts(store, model.name)
    return Trigger(model=model.name, reason=reason, severity=assessment.severity,
                   window_start=assessment.window_start, window_end=assessment.window_end,
                   requested_by=requested_by, data_end=data_end, labels_present=labels)


def emergency_trigger(model: ModelSettings, assessment: Assessment) -> Trigger | None:
    settings = model.lifecycle.emergency
    if not (model.lifecycle.enabled and settings.enabled):
        return None
    if assessment.severity != "critical" or assessment.risk < settings.min_risk:
        return None
    top = assessment.findings[0].describe() if assessment.findings else "no findings"
    return Trigger(model=model.name, reason=f"emergency: risk {assessment.risk:.0f} (critical): {top}",
                   severity="critical", window_start=assessment.window_start, window_end=assessment.window_end,
                   requested_by="emergency")


def schedule_trigger(model: ModelSettings, store: AssessmentStore, now: datetime) -> Trigger | None:
    """The schedule's trigger for the period ``now`` is in (the guardrails drop repeats of one period)."""
    every = model.lifecycle.trigger.schedule
    if not model.lifecycle.enabled or every is None:
        return None
    start = _EPOCH + every * ((now - _EPOCH) // every)
    data_end, labels = facts(store, model.name)
    return Trigger(model=model.name, reason=f"schedule: every {format_duration(every)}", severity="low",
                   window_start=start, window_end=start + every, requested_by="schedule", data_end=data_end,
                   labels_present=labels)


def manual_trigger(model: ModelSettings, store: AssessmentStore, reason: str, by: str) -> Trigger:
    data_end, labels = facts(store, model.name)
    return Trigger(model=model.name, reason=f"manual: {reason}", severity="low", requested_by=by,
                   data_end=data_end, labels_present=labels)
