"""The lifecycle on the Databricks backends, against the emulator: config, seeding, the daemon's wiring, ports.

``lifecycle_for(settings, clock, verdicts)`` builds :class:`retrain.Lifecycle` the way ``monitor.app``
does for ``workspace.kind: databricks`` (``monitor.workspace.databricks_backends``: jobs, UC aliases,
serving endpoints and monitor discovery on one databricks-sdk client; version tags and run metrics
through MLflow's ``databricks``/``databricks-uc`` clients, credentials exported to the environment;
``DatabricksMonitorRefresher`` for ``refresh_monitor``). Used in-process by
``test_lifecycle_on_workspace.py`` and in a subprocess by ``dbx_lifecycle_driver.py``.

The retraining job is an emulated Databricks job whose ``on_success`` does what a real training job
does: register a version of the model tagged ``lakewarden.run_id`` (the job parameter) whose MLflow
run carries the holdout metrics.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterator, Mapping
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from config.settings import Settings
from monitor.app import open_state
from monitor.lifecycle_ports import DatabricksMonitorRefresher
from monitor.workspace import WorkspaceBackends, databricks_backends
from retrain import Lifecycle, MlflowRegistry, RunRecord, Trigger, WindowVerdict
from retrain.lifecycle import RUN_ID_TAG
from tests.databricks.dbx_support import TOKEN

if TYPE_CHECKING:
    from emu_jobs import Run
    from emu_server import Emulator

MODEL = "main.ml.churn"
TABLE = "main.ml.churn_inference"
ENDPOINT = "churn"
RETRAIN_JOB, VALIDATE_JOB, BATCH_JOB = 42, 43, 44
GOOD = {"holdout_roc_auc": 0.91, "champion_holdout_roc_auc": 0.84}
CANARY = {"churn-1": 90, "churn-2": 10}   # the endpoint's routes during the canary of version 2
FULL = {"churn-2": 100}
BEFORE = {"churn-1": 100}
# Names the daemon's environment may carry; the tests clear them, export_mlflow_credentials sets them.
ENV_NAMES = ("DATABRICKS_HOST", "DATABRICKS_TOKEN", "DATABRICKS_CLIENT_ID", "DATABRICKS_CLIENT_SECRET",
             "DATABRICKS_CONFIG_PROFILE", "DATABRICKS_AUTH_TYPE", "DATABRICKS_DISCOVERY_URL",
             "MLFLOW_TRACKING_URI", "MLFLOW_REGISTRY_URI")

LIFECYCLE: dict[str, Any] = {
    "enabled": True,
    "registered_model": MODEL,
    "steps": ["retrain", "validate", "promote", "rollout", "refresh_monitor"],
    "retrain": {"backend": "databricks", "job_id": RETRAIN_JOB, "timeout": "30m", "parameters": {"catalog": "main"}},
    "validate": {"metric": "roc_auc", "tolerance": 0.005},
    "rollout": {"endpoint": ENDPOINT, "canary_percent": 10, "observe_windows": 2, "rollback_on": "high",
                "timeout": "6h", "update_timeout": "10m"},
    "refresh_monitor": {"timeout": "30m"},
}
FULL_PLAN: dict[str, Any] = {
    "steps": ["retrain", "validate", "promote", "rollout", "refresh_monitor", "batch_score"],
    "validate": {"job": {"backend": "databricks", "job_id": VALIDATE_JOB, "timeout": "30m"}},
    "batch_score": {"backend": "databricks", "job_id": BATCH_JOB, "timeout": "30m"},
}


def merge(base: Mapping[str, Any], changes: Mapping[str, Any]) -> dict[str, Any]:
    """``base`` with ``changes`` merged in, nested dicts key by key."""
    merged = copy.deepcopy(dict(base))
    for key, value in changes.items():
        if isinstance(value, Mapping) and isinstance(merged.get(key), Mapping):
            merged[key] = merge(merged[key], value)
        else:
            merged[key] = copy.deepcopy(value)
    return merged


def config(url: str, work: Path, **lifecycle: Any) -> dict[str, Any]:
    """A whole lakewarden config on the emulated workspace at ``url``, state in ``work``."""
    return {
        "workspace": {"kind": "databricks", "host": url, "token": TOKEN, "retry_timeout": "5s",
                      "http_timeout": "30s", "monitor_api": "legacy", "mlflow_tracking_uri": "databricks",
                      "mlflow_registry_uri": "databricks-uc"},
        "state": {"url": f"sqlite:///{work}/state.db"},
        "models": [{"name": "churn",
                    "sources": {"lakehouse": {"table": TABLE, "granularity": "1 hour", "lookback": "2d"}},
                    "lifecycle": merge(LIFECYCLE, lifecycle)}],
        "route": {"receiver": "log"},
        "receivers": [{"name": "log", "file_configs": [{"path": f"{work}/alerts.jsonl"}]}],
    }


def emu_now(emulator: Emulator) -> Callable[[], datetime]:
    return emulator.clock.utc


def lifecycle_for(settings: Settings, clock: Callable[[], datetime], verdicts: CalmWindows,
                  wrap: Callable[[WorkspaceBackends], WorkspaceBackends] = lambda remote: remote,
                  ) -> tuple[Lifecycle, WorkspaceBackends]:
    """The lifecycle as ``monitor.app.build_app`` wires it for a Databricks workspace (``wrap``: spies)."""
    ws = settings.workspace
    remote = wrap(databricks_backends(settings, clock, MlflowRegistry(ws.mlflow_tracking_uri, ws.registry_uri)))
    monitors = DatabricksMonitorRefresher(settings, remote.discovery)
    lifecycle = Lifecycle(open_state(settings).engine, {m.name: m.lifecycle for m in settings.models}, remote.jobs,
                          remote.registry, clock, serving=remote.serving, monitors=monitors, verdicts=verdicts)
    return lifecycle, remote


class CalmWindows:
    """The AssessmentReader port: one judged window an hour after ``since``, each ended by ``clock``.

    ``severity`` is the windows' quality finding (``low``: a calm canary).
    """

    def __init__(self, clock: Callable[[], datetime], severity: str = "low") -> None:
        self.clock = clock
        self.severity = severity

    def windows_since(self, model: str, since: datetime) -> list[WindowVerdict]:
        windows: list[WindowVerdict] = []
        start = since
        while start + timedelta(hours=1) <= self.clock():
            windows.append(WindowVerdict(start, start + timedelta(hours=1), self.severity, 10.0,
                                         {"quality": self.severity}))
            start += timedelta(hours=1)
        return windows


def registers(emulator: Emulator, metrics: Mapping[str, float] | None = GOOD) -> Callable[[Run], None]:
    """A training job's success: version N+1 of MODEL, tagged with the run's ``lakewarden_run_id``."""

    def on_success(run: Run) -> None:
        emulator.registry.add_version(MODEL, tags={RUN_ID_TAG: run.parameters["lakewarden_run_id"]},
                                      run_metrics=dict(metrics or {}))

    return on_success


def seed(emulator: Emulator, *, metrics: Mapping[str, float] | None = GOOD, endpoint: bool = True,
         job_seconds: float = 2.0, update_seconds: float = 2.0) -> None:
    """Version 1 champion, served alone by ENDPOINT; the jobs; a monitor on TABLE."""
    emulator.registry.add_version(MODEL, run_metrics={"holdout_roc_auc": 0.84})
    emulator.registry.set_alias(MODEL, "champion", 1)
    if endpoint:
        emulator.serving.add(ENDPOINT, MODEL, "1")
    emulator.serving.update_seconds = update_seconds
    emulator.jobs.add(RETRAIN_JOB, "retrain-churn", queued_seconds=0.0, run_seconds=job_seconds,
                      on_success=registers(emulator, metrics))
    emulator.jobs.add(VALIDATE_JOB, "validate-churn", queued_seconds=0.0, run_seconds=job_seconds)
    emulator.jobs.add(BATCH_JOB, "score-churn", queued_seconds=0.0, run_seconds=job_seconds)
    emulator.monitors.add(TABLE, "main.ml_monitoring", pending_seconds=0)
    emulator.monitors.refresh_pending, emulator.monitors.refresh_running = 0.2, job_seconds


def served(emulator: Emulator) -> dict[str, int]:
    """What the emulated endpoint serves now: served entity -> percent."""
    config = emulator.serving.endpoints[ENDPOINT].config
    return {r["served_entity_name"]: r["traffic_percentage"] for r in config["traffic_config"]["routes"]}


def updates(emulator: Emulator) -> list[dict[str, int]]:
    """The routes of every update the endpoint accepted, in order."""
    return [{r["served_entity_name"]: r["traffic_percentage"] for r in update["traffic_config"]["routes"]}
            for update in emulator.serving.endpoints[ENDPOINT].updates]


def aliases(emulator: Emulator) -> dict[str, int]:
    return emulator.registry.aliases(MODEL)


class Case:
    """One model's lifecycle on the emulated workspace, with the emulator's clock as the lifecycle's."""

    def __init__(self, emulator: Emulator, work: Path, **lifecycle: Any) -> None:
        self.emu = emulator
        self.clock = emu_now(emulator)
        self.verdicts = CalmWindows(self.clock)
        self.settings = Settings.model_validate(config(emulator.url, work, **lifecycle))
        self.lifecycle, self.remote = lifecycle_for(self.settings, self.clock, self.verdicts)

    def start(self) -> str:
        now = self.clock()
        decision = self.lifecycle.consider(Trigger("churn", "drift: psi on payment_method 0.41", "high",
                                                   now - timedelta(hours=1), now))
        assert decision.started and decision.run_id is not None, decision
        return decision.run_id

    def drive(self, run_id: str, until: Callable[[RunRecord], bool] | None = None,
              step: float = 600.0) -> RunRecord:
        """``advance``, then move the workspace's clock ``step`` seconds, until the run ends (or ``until``)."""
        for _ in range(60):
            self.lifecycle.advance()
            run = self.lifecycle.get(run_id)
            assert run is not None
            if until(run) if until else run.state.final:
                return run
            self.emu.clock.advance(step)
        raise AssertionError(f"run {run_id} stuck at {run.state.value} / {run.step.value}: {run.external}")

    def history(self, run_id: str) -> str:
        return "\n".join(f"{e.kind}: {e.message}" for e in self.lifecycle.history(run_id))

    def moves(self, alias: str) -> list[int]:
        """Versions ``alias`` was pointed at through the workspace APIs, in order."""
        return [version for model, name, version in self.emu.registry.alias_moves if (model, name) == (MODEL, alias)]

    def run_now(self) -> list[Any]:
        return self.emu.router.requests("POST", "/api/2.2/jobs/run-now$")


def no_spark() -> Any:
    raise AssertionError("the lifecycle tests run no SQL on the emulator")


def running_emulator(root: Path) -> Iterator[Emulator]:
    """An emulated workspace without Spark (the lifecycle needs no SQL)."""
    from emu_server import Emulator

    emulator = Emulator(root, no_spark)
    emulator.start()
    try:
        yield emulator
    finally:
        emulator.stop()


# Fixtures of the lifecycle test modules, which import them: they replace the conftest's emulator.
@pytest.fixture
def emulator(tmp_path: Path) -> Iterator[Emulator]:
    """The lifecycle's workspace needs no SQL: no Spark session behind it."""
    yield from running_emulator(tmp_path / "lakehouse")


@pytest.fixture(autouse=True)
def environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """No workspace credentials from outside; what the daemon exports for MLflow is undone afterwards."""
    for name in ENV_NAMES:
        monkeypatch.setenv(name, "")
        monkeypatch.delenv(name)


@pytest.fixture
def case(emulator: Emulator, tmp_path: Path) -> Callable[..., Case]:
    def make(**lifecycle: Any) -> Case:
        return Case(emulator, tmp_path, **lifecycle)
    return make
