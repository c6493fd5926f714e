"""Lifecycle.consider: each guardrail and the reason it gives, on a real state database (SQLite; the ones that
rest on the database, on PostgreSQL too)."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from lw_support import T0

from config.basics.clock import SimulatedClock
from config.lifecycle import LifecycleSettings
from retrain.backends.local import LocalJobBackend
from retrain.guardrails import StartReason
from retrain.lifecycle import Lifecycle
from retrain.registry import MlflowRegistry
from retrain.runs import RunState
from retrain.schema import retrain_events, retrain_runs
from retrain.trigger import Trigger

ENABLED: dict[str, Any] = {
    "enabled": True,
    "registered_model": "churn",
    "retrain": {"module": "lw_fake_job"},
    "trigger": {"min_severity": "high", "cooldown": "6h", "max_runs_per_day": 2},
}


def window(hours: int) -> dict[str, datetime]:
    return {"window_start": T0 + timedelta(hours=hours), "window_end": T0 + timedelta(hours=hours + 1)}


def trigger(hours: int = 0, **changes: Any) -> Trigger:
    return Trigger(
        **{"model": "churn", "reason": "drift: psi", "severity": "high", **window(hours), **changes}
    )


@pytest.fixture
def lifecycle(engine: sa.Engine, clock: SimulatedClock, tmp_path: Path) -> Lifecycle:
    models = {
        "churn": LifecycleSettings.model_validate(ENABLED),
        "fraud": LifecycleSettings.model_validate({**ENABLED, "enabled": False}),
    }
    uri = f"sqlite:///{tmp_path}/mlflow.db"
    backend = LocalJobBackend(workdir=tmp_path / "jobs", env={"MLFLOW_TRACKING_URI": uri})
    return Lifecycle(engine, models, backend, MlflowRegistry(uri), clock)


def finish(engine: sa.Engine, run_id: str | None, at: datetime) -> None:
    """What advance() does when a run ends; here without running a job."""
    with engine.begin() as conn:
        conn.execute(
            retrain_runs.update()
            .where(retrain_runs.c.run_id == run_id)
            .values(state=RunState.FAILED.value, step="done", finished_at=at, updated_at=at)
        )


def test_first_trigger_starts_a_pending_run(lifecycle: Lifecycle) -> None:
    decision = lifecycle.consider(trigger())
    assert decision.reason is StartReason.STARTED
    run = lifecycle.get(str(decision.run_id))
    assert run is not None
    assert run.state is RunState.PENDING
    assert run.registered_model == "churn"
    assert run.trigger == trigger()
    assert run.idempotency_key == trigger().idempotency_key


@pytest.mark.parametrize(
    ("model", "severity", "reason"),
    [
        ("fraud", "critical", StartReason.DISABLED),  # enabled: false
        ("unknown", "critical", StartReason.DISABLED),  # no lifecycle block at all
        ("churn", "medium", StartReason.BELOW_SEVERITY),
        ("churn", "low", StartReason.BELOW_SEVERITY),
        ("churn", "high", StartReason.STARTED),
        ("churn", "critical", StartReason.STARTED),
    ],
)
def test_enabled_and_severity(lifecycle: Lifecycle, model: str, severity: str, reason: StartReason) -> None:
    decision = lifecycle.consider(trigger(model=model, severity=severity))
    assert decision.reason is reason
    assert (decision.run_id is not None) == (reason is StartReason.STARTED)
    assert len(lifecycle.runs()) == (1 if reason is StartReason.STARTED else 0)


@pytest.mark.both_databases  # the guardrails that rest on the database's unique indexes and counts
def test_the_same_trigger_again_is_a_duplicate(
    lifecycle: Lifecycle, engine: sa.Engine, clock: SimulatedClock
) -> None:
    first = lifecycle.consider(trigger())
    finish(engine, first.run_id, clock())
    clock.advance(timedelta(days=2))  # past cooldown and budget: only the key blocks it
    again = lifecycle.consider(trigger(reason="drift: psi 0.4", severity="critical"))
    assert again.reason is StartReason.DUPLICATE
    assert again.run_id == first.run_id


@pytest.mark.both_databases  # the guardrails that rest on the database's unique indexes and counts
def test_one_run_in_flight_per_model(lifecycle: Lifecycle) -> None:
    first = lifecycle.consider(trigger(0))
    second = lifecycle.consider(trigger(1))
    assert second.reason is StartReason.IN_FLIGHT
    assert second.run_id == first.run_id
    assert lifecycle.consider(trigger(1, model="other")).reason is StartReason.DISABLED


def test_cooldown_after_the_last_finished_run(
    lifecycle: Lifecycle, engine: sa.Engine, clock: SimulatedClock
) -> None:
    first = lifecycle.consider(trigger(0))
    finish(engine, first.run_id, clock())
    clock.advance(timedelta(hours=5, minutes=59))
    blocked = lifecycle.consider(trigger(1))
    assert blocked.reason is StartReason.COOLDOWN
    assert "cooldown 6h" in blocked.message
    clock.advance(timedelta(minutes=1))
    assert lifecycle.consider(trigger(1)).reason is StartReason.STARTED


@pytest.mark.both_databases  # the guardrails that rest on the database's unique indexes and counts
def test_daily_budget_counts_runs_of_the_last_24_hours(
    lifecycle: Lifecycle, engine: sa.Engine, clock: SimulatedClock
) -> None:
    for hours in (0, 1):
        decision = lifecycle.consider(trigger(hours))
        assert decision.reason is StartReason.STARTED
        finish(engine, decision.run_id, clock())
        clock.advance(timedelta(hours=7))
    assert clock() == T0 + timedelta(hours=14)
    blocked = lifecycle.consider(trigger(2))
    assert blocked.reason is StartReason.DAILY_BUDGET
    assert "max_runs_per_day 2" in blocked.message
    clock.now = T0 + timedelta(hours=24, minutes=1)  # the first run left the 24-hour window
    assert lifecycle.consider(trigger(2)).reason is StartReason.STARTED


def test_a_trigger_without_window_is_a_new_request_each_time(
    lifecycle: Lifecycle, engine: sa.Engine, clock: SimulatedClock
) -> None:
    manual = trigger(window_start=None, window_end=None, requested_by="alice", reason="manual")
    first = lifecycle.consider(manual)
    finish(engine, first.run_id, clock())
    clock.advance(timedelta(hours=7))
    second = lifecycle.consider(manual)
    assert second.reason is StartReason.STARTED
    assert second.run_id != first.run_id


def test_guardrail_decisions_are_audited(lifecycle: Lifecycle, engine: sa.Engine) -> None:
    started = lifecycle.consider(trigger(0))
    lifecycle.consider(trigger(1))
    with engine.connect() as conn:
        rows = conn.execute(sa.select(retrain_events).order_by(retrain_events.c.id)).all()
    assert [(row.run_id, row.kind, row.message.split(":")[0]) for row in rows] == [
        (started.run_id, "decision", "started"),
        (started.run_id, "decision", "in_flight"),
    ]


@pytest.mark.both_databases  # the guardrails that rest on the database's unique indexes and counts
def test_the_database_refuses_a_second_unfinished_run(lifecycle: Lifecycle, engine: sa.Engine) -> None:
    first = lifecycle.consider(trigger(0))
    with engine.connect() as conn:
        row = dict(conn.execute(sa.select(retrain_runs)).one()._mapping)
    row.update(run_id="x" * 32, idempotency_key="y" * 64)
    with pytest.raises(sa.exc.IntegrityError), engine.begin() as conn:
        conn.execute(retrain_runs.insert().values(**row))
    assert [run.run_id for run in lifecycle.runs()] == [first.run_id]


def test_backend_kind_must_match_settings(engine: sa.Engine, clock: SimulatedClock, tmp_path: Path) -> None:
    databricks = LifecycleSettings.model_validate(
        {**ENABLED, "retrain": {"backend": "databricks", "job_id": 12}}
    )
    backend = LocalJobBackend(workdir=tmp_path, env={"MLFLOW_TRACKING_URI": "sqlite:///x.db"})
    with pytest.raises(ValueError, match="databricks but lakewarden runs jobs with the local backend"):
        Lifecycle(engine, {"churn": databricks}, backend, MlflowRegistry("sqlite:///x.db"), clock)
