"""The trigger policy on real stored assessments, and what the lifecycle's guardrails answer to its triggers.

Windows are judged by the real judge and stored in a migrated SQLite state database; triggers go to
a real ``RunBook`` (the guardrails and run rows) or, through ``Handlers``, to a real ``Lifecycle``.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa

from config.basics.clock import SimulatedClock
from config.models import ModelSettings
from monitor.assessments import AssessmentStore
from monitor.handlers import Handlers
from monitor.health import Health
from monitor.lifecycle_triggers import emergency_trigger, facts, manual_trigger, policy_trigger, schedule_trigger
from monitor.messages import AdvanceLifecycle, AssessmentMade, LifecycleProgressed
from retrain import Lifecycle, LocalJobBackend, MlflowRegistry, RunBook, StartReason
from retrain.schema import retrain_events
from tests.monitor.judge_support import HOUR, T0
from tests.monitor.lifecycle_support import (
    CRITICAL,
    HIGH,
    LOW,
    MEDIUM,
    QUIET,
    mlflow_db,
    model_settings,
    quality,
    record,
    state,
)


@pytest.fixture
def clock() -> SimulatedClock:
    return SimulatedClock(T0 + timedelta(days=1))


@pytest.fixture
def store(tmp_path: Path, clock: SimulatedClock) -> AssessmentStore:
    return AssessmentStore(state(tmp_path).engine, clock)


def book(store: AssessmentStore, model: ModelSettings, clock: SimulatedClock) -> RunBook:
    return RunBook(store._engine, {model.name: model.lifecycle}, clock)  # the same database


# -- severity held for M of N windows -----------------------------------------------------------------------


def test_min_severity_must_hold_for_m_of_the_last_n_windows(store: AssessmentStore) -> None:
    model = model_settings({"trigger": {"min_severity": "high", "held_for": {"windows": 2, "of": 3}}})
    assert policy_trigger(model, record(store, model, 0, HIGH), store) is None  # 1 of 1
    assert policy_trigger(model, record(store, model, 1, QUIET), store) is None  # ok: no severity to hold
    third = record(store, model, 2, HIGH)
    trigger = policy_trigger(model, third, store)
    assert trigger is not None
    assert trigger.reason.startswith("severity high held: risk 75 (high), high or worse in 2 of the last 3 windows: "
                                     "prediction drift: js_distance 0.25")
    assert (trigger.window_start, trigger.window_end) == (T0 + 2 * HOUR, T0 + 3 * HOUR)
    assert (trigger.severity, trigger.requested_by) == ("high", "policy")
    assert (trigger.data_end, trigger.labels_present) == (T0 + 3 * HOUR, True)
    record(store, model, 3, QUIET)
    record(store, model, 4, QUIET)
    # h . h . . h: the newest high window has only itself among the last 3 at high or worse
    assert policy_trigger(model, record(store, model, 5, HIGH), store) is None


def test_raw_window_severities_count_not_the_alert_and_lower_tiers_do_not(store: AssessmentStore) -> None:
    model = model_settings({"trigger": {"min_severity": "medium", "held_for": {"windows": 3, "of": 4}}})
    for index, rows in enumerate((CRITICAL, LOW, MEDIUM)):
        assert policy_trigger(model, record(store, model, index, rows), store) is None
    trigger = policy_trigger(model, record(store, model, 3, HIGH), store)  # c l m h: 3 of 4 at medium+
    assert trigger is not None and "medium or worse in 3 of the last 4 windows" in trigger.reason
    below = model_settings({"trigger": {"min_severity": "critical", "held_for": {"windows": 1, "of": 1}}})
    assert policy_trigger(below, record(store, model, 4, HIGH), store) is None


def test_only_the_assessments_own_stream_counts(store: AssessmentStore) -> None:
    model = model_settings({"trigger": {"min_severity": "high", "held_for": {"windows": 2, "of": 2}}})
    record(store, model, 0, HIGH, source="inference")  # another stream of the model, high
    lakehouse = record(store, model, 1, HIGH)
    assert lakehouse.stream == "lakehouse:1 hour"
    assert policy_trigger(model, lakehouse, store) is None
    assert policy_trigger(model, record(store, model, 2, HIGH), store) is not None


def test_the_monitor_status_stream_retrains_only_when_on_signals_says_so(store: AssessmentStore) -> None:
    model = model_settings({"trigger": {"min_severity": "high", "held_for": {"windows": 1, "of": 1}}})
    status = record(store, model, 0, HIGH, source="lakehouse_monitor")
    assert status.stream.startswith("lakehouse_monitor:") and status.severity == "high"
    assert policy_trigger(model, status, store) is None
    asked = model_settings({"trigger": {"min_severity": "high", "on_signals": {"prediction_drift": "high"}}})
    trigger = policy_trigger(asked, status, store)
    assert trigger is not None and trigger.requested_by == "signal"


def test_a_catch_up_poll_asks_only_at_the_streams_newest_window(store: AssessmentStore) -> None:
    """The bus handles a poll's events after it judged every new window: older ones are history."""
    model = model_settings({"trigger": {"min_severity": "high", "held_for": {"windows": 2, "of": 3}}})
    first, second, third = (record(store, model, i, rows) for i, rows in enumerate((HIGH, HIGH, QUIET)))
    # h h . in one poll: it drifted and recovered before lakewarden looked; no retrain for the past
    assert [policy_trigger(model, a, store) for a in (first, second, third)] == [None, None, None]
    fourth = record(store, model, 3, HIGH)  # h h . h: the newest window holds 2 of the last 3
    trigger = policy_trigger(model, fourth, store)
    assert trigger is not None and trigger.window_start == T0 + 3 * HOUR
    rewritten = record(store, model, 1, CRITICAL, version="v1-late-rows")  # an old window, judged again
    assert policy_trigger(model, rewritten, store) is None
    on_signal = model_settings({"trigger": {"min_severity": "critical", "on_signals": {"prediction_drift": "low"}}})
    assert policy_trigger(on_signal, rewritten, store) is None


def test_a_rewritten_window_asks_for_the_same_run_even_when_its_risk_moved(store: AssessmentStore,
                                                                           clock: SimulatedClock) -> None:
    model = model_settings({"trigger": {"min_severity": "high", "held_for": {"windows": 1, "of": 1}}})
    first = policy_trigger(model, record(store, model, 0, HIGH), store)
    again = policy_trigger(model, record(store, model, 0, CRITICAL, version="v0-late-rows"), store)
    assert first is not None and again is not None and first.reason != again.reason
    assert first.idempotency_key == again.idempotency_key
    runs = book(store, model, clock)
    assert runs.consider(first).started
    assert runs.consider(again).reason is StartReason.DUPLICATE


# -- specific signals ----------------------------------------------------------------------------------------


def test_a_signal_at_its_tier_triggers_below_min_severity_and_the_guardrails_let_it_start(
        store: AssessmentStore, clock: SimulatedClock) -> None:
    model = model_settings({"trigger": {"min_severity": "critical", "on_signals": {"prediction_drift": "medium"}}})
    assert policy_trigger(model, record(store, model, 0, LOW), store) is None  # below the signal's tier
    trigger = policy_trigger(model, record(store, model, 1, MEDIUM), store)
    assert trigger is not None
    assert trigger.reason.startswith("signal prediction_drift: prediction drift: js_distance 0.15")
    assert (trigger.severity, trigger.requested_by) == ("medium", "signal")
    decision = book(store, model, clock).consider(trigger)
    assert decision.started, decision.message  # the severity floor guards policy triggers, not signal ones


def test_quality_in_on_signals_means_the_judges_model_quality_findings(store: AssessmentStore) -> None:
    model = model_settings({"trigger": {"min_severity": "critical", "on_signals": {"quality": "medium"}}})
    assessment = record(store, model, 0, *quality(0.84))  # macro F1 down 0.06 from 0.9: medium
    assert [(f.signal, f.tier) for f in assessment.findings] == [("model_quality", "medium")]
    trigger = policy_trigger(model, assessment, store)
    assert trigger is not None and trigger.reason.startswith("signal quality: model quality: f1_score.macro drop")
    assert policy_trigger(model_settings({"trigger": {"on_signals": {"prediction_drift": "low"}}}),
                          assessment, store) is None


# -- facts for the guardrails ----------------------------------------------------------------------------------


def test_facts_are_the_newest_window_and_whether_it_had_labels(store: AssessmentStore) -> None:
    model = model_settings()
    assert facts(store, "churn") == (None, None)
    record(store, model, 0, *quality(0.9))
    assert facts(store, "churn") == (T0 + HOUR, True)
    unlabelled = record(store, model, 1, *quality(None))
    assert any(n.signal == "model_quality" and "no labelled rows" in n.reason for n in unlabelled.skipped)
    assert facts(store, "churn") == (T0 + 2 * HOUR, False)


def test_facts_leave_out_the_monitor_status_stream_and_streams_without_labels(store: AssessmentStore,
                                                                             clock: SimulatedClock) -> None:
    model = model_settings({"trigger": {"max_data_age": "3h", "require_labels": True}})
    record(store, model, 0, *quality(None))  # the metric tables' newest window: no labelled rows
    record(store, model, 1, QUIET, source="inference")  # payload windows judge no quality
    record(store, model, 7, QUIET, source="lakehouse_monitor")  # the monitor's status: this period
    assert facts(store, "churn") == (T0 + 2 * HOUR, False)
    clock.now = T0 + 8 * HOUR  # the data is 6h old, the status window is fresh
    decision = book(store, model, clock).consider(manual_trigger(model, store, "retrain", "alice"))
    assert decision.reason is StartReason.STALE_DATA and "6h ago" in decision.message
    record(store, model, 2, *quality(0.9))
    assert facts(store, "churn") == (T0 + 3 * HOUR, True)


def test_require_labels_blocks_a_trigger_on_an_unlabelled_window(store: AssessmentStore, clock: SimulatedClock) -> None:
    model = model_settings({"trigger": {"min_severity": "high", "held_for": {"windows": 1, "of": 1},
                                        "require_labels": True}})
    trigger = policy_trigger(model, record(store, model, 0, HIGH, *quality(None)), store)
    assert trigger is not None and trigger.labels_present is False
    decision = book(store, model, clock).consider(trigger)
    assert decision.reason is StartReason.NO_LABELS
    labelled = policy_trigger(model, record(store, model, 1, HIGH, *quality(0.9)), store)
    assert labelled is not None and book(store, model, clock).consider(labelled).started


def test_max_data_age_uses_the_newest_judged_window(store: AssessmentStore, clock: SimulatedClock) -> None:
    model = model_settings({"trigger": {"max_data_age": "6h"}})
    record(store, model, 0, QUIET)
    clock.now = T0 + 7 * HOUR  # the newest window ended 6h ago: still fresh enough
    assert book(store, model, clock).consider(manual_trigger(model, store, "new features", "alice")).started
    stale = model_settings({"trigger": {"max_data_age": "5h"}})
    decision = book(store, stale, clock).consider(manual_trigger(stale, store, "new features", "bob"))
    assert decision.reason is StartReason.STALE_DATA and "6h" in decision.message


# -- emergency, schedule, manual ------------------------------------------------------------------------------

EMERGENCY = {"emergency": {"enabled": True, "min_risk": 90}, "rollout": {"endpoint": "churn"}}


def test_emergency_needs_critical_risk_at_min_risk_and_both_switches_on(store: AssessmentStore) -> None:
    model = model_settings(EMERGENCY)
    critical = record(store, model, 0, CRITICAL)
    trigger = emergency_trigger(model, critical)
    assert trigger is not None
    assert (trigger.requested_by, trigger.severity) == ("emergency", "critical")
    assert trigger.reason.startswith("emergency: risk 100 (critical): prediction drift")
    assert trigger.window_start == T0
    assert emergency_trigger(model, record(store, model, 1, HIGH)) is None  # high is not critical
    assert emergency_trigger(model_settings({**EMERGENCY, "emergency": {"enabled": True, "min_risk": 100.0}}),
                             critical) is not None  # at min_risk counts
    assert emergency_trigger(model, replace(critical, risk=89.9)) is None
    assert emergency_trigger(model_settings({**EMERGENCY, "emergency": {"enabled": False}}), critical) is None
    assert emergency_trigger(model_settings({**EMERGENCY, "enabled": False}), critical) is None


def test_a_schedule_asks_once_per_period(store: AssessmentStore, clock: SimulatedClock) -> None:
    model = model_settings({"trigger": {"schedule": "7d"}})
    record(store, model, 0, QUIET)
    first = schedule_trigger(model, store, clock())
    later = schedule_trigger(model, store, clock() + timedelta(days=2))
    assert first is not None and later is not None
    assert first.window_start is not None and first.window_end == first.window_start + timedelta(days=7)
    assert first.window_start <= clock() < first.window_end
    assert first.idempotency_key == later.idempotency_key  # the same period
    assert (first.requested_by, first.reason, first.data_end) == ("schedule", "schedule: every 7d", T0 + HOUR)
    runs = book(store, model, clock)
    assert runs.consider(first).started  # "low" severity: the floor is for policy triggers
    assert runs.consider(later).reason is StartReason.DUPLICATE
    next_period = schedule_trigger(model, store, first.window_end)
    assert next_period is not None and next_period.window_start == first.window_end
    assert schedule_trigger(model_settings(), store, clock()) is None
    assert schedule_trigger(model_settings({"enabled": False, "trigger": {"schedule": "7d"}}), store,
                            clock()) is None


def test_a_manual_trigger_carries_who_why_and_the_facts(store: AssessmentStore, clock: SimulatedClock) -> None:
    model = model_settings({"trigger": {"min_severity": "critical"}})
    record(store, model, 0, *quality(None))
    trigger = manual_trigger(model, store, "new features landed", "alice")
    assert (trigger.reason, trigger.requested_by, trigger.severity) == ("manual: new features landed", "alice", "low")
    assert (trigger.window_start, trigger.data_end, trigger.labels_present) == (None, T0 + HOUR, False)
    assert book(store, model, clock).consider(trigger).started


# -- the handlers: emergency first, then the policy; schedules on the lifecycle tick -----------------------


def handlers(tmp_path: Path, store: AssessmentStore, model: ModelSettings, clock: SimulatedClock) -> Handlers:
    from config.settings import Settings

    settings = Settings.model_validate({"models": [model.model_dump(by_alias=True)],
                                        "route": {"receiver": "log"},
                                        "receivers": [{"name": "log", "file_configs": [{"path": "x.jsonl"}]}]})
    engine = store._engine  # the same database
    mlflow = mlflow_db(tmp_path)
    lifecycle = Lifecycle(engine, {m.name: m.lifecycle for m in settings.models},
                          LocalJobBackend(workdir=tmp_path / "jobs", env={"MLFLOW_TRACKING_URI": mlflow}),
                          MlflowRegistry(mlflow), clock)
    return Handlers(settings, [], store, None, lifecycle, Health(), clock)  # type: ignore[arg-type]


def test_consider_lifecycle_starts_a_policy_run_and_says_so(tmp_path: Path, store: AssessmentStore,
                                                            clock: SimulatedClock) -> None:
    model = model_settings({"trigger": {"min_severity": "high", "held_for": {"windows": 1, "of": 1}}})
    h = handlers(tmp_path, store, model, clock)
    assert list(h.consider_lifecycle(AssessmentMade(record(store, model, 0, MEDIUM), "ok"))) == []
    (event,) = h.consider_lifecycle(AssessmentMade(record(store, model, 1, HIGH), "ok"))
    assert isinstance(event, LifecycleProgressed) and event.kind == "requested"
    run = h.lifecycle.get(event.run_id)
    assert run is not None and run.trigger.window_start == T0 + HOUR and run.state.value == "pending"
    # a second high window while that run is in flight starts nothing and says nothing
    assert list(h.consider_lifecycle(AssessmentMade(record(store, model, 2, HIGH), "ok"))) == []
    assert len(h.lifecycle.runs("churn")) == 1


def test_consider_lifecycle_does_nothing_when_the_lifecycle_is_off(tmp_path: Path, store: AssessmentStore,
                                                                   clock: SimulatedClock) -> None:
    model = model_settings({"enabled": False, "trigger": {"held_for": {"windows": 1, "of": 1}}})
    h = handlers(tmp_path, store, model, clock)
    assert list(h.consider_lifecycle(AssessmentMade(record(store, model, 0, CRITICAL), "ok"))) == []
    assert h.lifecycle.runs() == []


def test_an_emergency_window_is_an_emergency_not_a_policy_run(tmp_path: Path, store: AssessmentStore,
                                                              clock: SimulatedClock) -> None:
    model = model_settings({**EMERGENCY, "trigger": {"held_for": {"windows": 1, "of": 1}}})
    h = handlers(tmp_path, store, model, clock)
    (event,) = h.consider_lifecycle(AssessmentMade(record(store, model, 0, CRITICAL), "ok"))
    assert event.kind == "emergency"
    (run,) = h.lifecycle.runs("churn")
    assert run.run_id == event.run_id and [s.value for s in run.plan] == ["emergency"]
    # an empty registry has no previous champion: the emergency ends at once, loudly, endpoint untouched
    assert run.state.value == "failed" and run.decision is not None
    assert run.decision.startswith("EMERGENCY FALLBACK IMPOSSIBLE")


def test_an_old_critical_window_of_a_catch_up_poll_pulls_no_emergency_brake(tmp_path: Path, store: AssessmentStore,
                                                                             clock: SimulatedClock) -> None:
    model = model_settings({**EMERGENCY, "trigger": {"held_for": {"windows": 1, "of": 1}}})
    h = handlers(tmp_path, store, model, clock)
    old = record(store, model, 0, CRITICAL)
    newest = record(store, model, 1, QUIET)  # judged in the same poll, before the events are handled
    for assessment in (old, newest):
        assert list(h.consider_lifecycle(AssessmentMade(assessment, "ok"))) == []
    assert h.lifecycle.runs() == []


@pytest.mark.integration
def test_advance_lifecycle_starts_the_scheduled_run_once_per_period(tmp_path: Path, store: AssessmentStore,
                                                                    clock: SimulatedClock) -> None:
    # json.tool stands in for the training job: a real subprocess that exits at once (it rejects the flags)
    model = model_settings({"trigger": {"schedule": "1d"}, "retrain": {"module": "json.tool"}})
    h = handlers(tmp_path, store, model, clock)
    first = list(h.advance_lifecycle(AdvanceLifecycle()))
    assert [e.kind for e in first][:2] == ["requested", "started"]  # asked, then moved on by the same tick
    (run,) = h.lifecycle.runs("churn")
    assert all(e.run_id == run.run_id for e in first) and run.trigger.requested_by == "schedule"
    clock.now += timedelta(hours=12)  # same day: the period asked already
    assert "requested" not in [e.kind for e in h.advance_lifecycle(AdvanceLifecycle())]
    assert len(h.lifecycle.runs("churn")) == 1


@pytest.mark.integration
def test_lifecycle_ticks_do_not_fill_the_audit_trail_with_the_same_schedule_answer(
        tmp_path: Path, store: AssessmentStore, clock: SimulatedClock) -> None:
    """The tick runs every 30 s: a period's answer is recorded once, a blocked ask retried every 10 minutes."""
    model = model_settings({"trigger": {"schedule": "1d", "cooldown": "6h"}, "retrain": {"module": "json.tool"}})
    h = handlers(tmp_path, store, model, clock)
    list(h.advance_lifecycle(AdvanceLifecycle()))
    (run,) = h.lifecycle.runs("churn")
    for _ in range(20):  # ten minutes of ticks in the same period: the run fails, then its cooldown blocks
        clock.now += timedelta(seconds=30)
        list(h.advance_lifecycle(AdvanceLifecycle()))
    decisions = [e.message for e in h.lifecycle.history(run.run_id) if e.kind == "decision"]
    assert decisions == [f"started: run {run.run_id} created: schedule: every 1d"]
    h.lifecycle.pause("maintenance", by="ops")
    clock.now = run.trigger.window_end or clock.now  # the next period, while paused
    for _ in range(40):  # twenty minutes of ticks: asked at once, then every 10 minutes
        list(h.advance_lifecycle(AdvanceLifecycle()))
        clock.now += timedelta(seconds=30)
    events = retrain_events.c
    with store._engine.connect() as conn:  # a decision that blocks no run has no run id
        paused = conn.execute(sa.select(events.message).where(events.kind == "decision", events.run_id.is_(None))
                              ).scalars().all()
    assert len(paused) == 2 and all(m.startswith("paused: the lifecycle is paused by ops") for m in paused)
