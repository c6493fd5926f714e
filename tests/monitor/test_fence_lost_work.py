"""A replica whose model lease was taken over mid-work stops that work: the fence's refusal (FenceLost)
reaches the daemon (``lease_lost_during_work``), it is not taken for a failed window or a failed step.

Before, the judge's and the lifecycle's catch-alls took it for a bug in the window (``judge_failed``,
with a traceback, and the poll went on judging the next windows, each refused) or for a failed step
(``lifecycle_step_error``, counted towards the run's attempts).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from structlog.testing import capture_logs

from config.basics.clock import SimulatedClock
from config.basics.fence import FenceLost, fenced, install_fencing
from config.settings import Settings
from monitor.app import lifecycle_models
from monitor.assessments import AssessmentStore
from monitor.handlers import Handlers
from monitor.health import Health
from monitor.leases import LeaseStore, model_lease
from retrain import Lifecycle, LocalJobBackend, MlflowRegistry, RunBook, Trigger
from tests.monitor.judge_support import drift, window
from tests.monitor.lifecycle_support import model_settings, state

TTL = timedelta(seconds=30)


def test_a_lost_lease_stops_the_judging_and_the_lifecycle_step_without_calling_them_failures(tmp_path: Path) -> None:
    engine = state(tmp_path).engine
    install_fencing(engine)
    clock = SimulatedClock(datetime(2026, 12, 7, 3, 0, tzinfo=UTC))
    leases = LeaseStore(engine, TTL, clock)
    mine = leases.acquire(model_lease("churn"), "replica-a")
    assert mine is not None
    clock.advance(TTL + timedelta(seconds=1))
    assert leases.acquire(model_lease("churn"), "replica-b") is not None  # replica-a paused past the TTL

    model = model_settings()
    receivers = [{"name": "log", "file_configs": [{"path": str(tmp_path / "alerts.jsonl")}]}]
    settings = Settings.model_validate({"models": [model.model_dump(by_alias=True)], "route": {"receiver": "log"},
                                        "receivers": receivers})
    lifecycle = Lifecycle(engine, lifecycle_models(settings), LocalJobBackend(
        workdir=tmp_path / "jobs", env={"MLFLOW_TRACKING_URI": f"sqlite:///{tmp_path}/mlflow.db"}),
        MlflowRegistry(f"sqlite:///{tmp_path}/mlflow.db"), clock)
    book = RunBook(engine, lifecycle_models(settings), clock)
    run = book.consider(Trigger("churn", "drift", "high", clock() - timedelta(hours=1), clock())).run_id
    assert run is not None
    book.cancel(run, "test", by="test")  # its next step ends it: a write, and nothing outside the database
    handlers = Handlers(settings, (), AssessmentStore(engine, clock), None, lifecycle,  # type: ignore[arg-type]
                        Health(), clock)

    with capture_logs() as logs, fenced(mine):
        with pytest.raises(FenceLost):
            list(handlers._judge(model, "lakehouse:1 hour", window(drift("prediction", js_distance=0.3)), {}))
        with pytest.raises(FenceLost):
            lifecycle.advance()
    assert [e["event"] for e in logs if e["log_level"] in ("error", "critical")] == []
    assert AssessmentStore(engine, clock).history("churn", limit=5) == []  # nothing written
    record = book.get(run)
    assert record is not None and not record.state.final and record.attempts == 0  # no failed attempt counted
