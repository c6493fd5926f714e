"""The composition root: every component of the daemon is built here and nowhere else."""

from __future__ import annotations

import os
from dataclasses import dataclass

import alerts
import retrain
from alerts import AlertService, AlertStore, Notifier, Outbox, build_channels, build_pipeline
from config.basics.clock import Clock, utc_now
from config.service import LocalSparkEngine as LocalSparkSettings
from config.settings import Settings
from monitor import schema
from monitor.assessments import AssessmentStore
from monitor.bus import MessageBus
from monitor.engines.base import Engine
from monitor.handlers import Handlers
from monitor.http import Health
from monitor.lifecycle_ports import AssessmentVerdicts, DatabricksMonitorRefresher, LocalProfileRefresher
from monitor.messages import AdvanceLifecycle, AssessmentMade, LifecycleProgressed, PollDue
from monitor.risk.importances import FeatureWeightsProvider
from monitor.sources import build_sources
from monitor.state import StateStore, open_store
from retrain import (
    JobBackend,
    Lifecycle,
    LocalJobBackend,
    LocalServingBackend,
    MlflowRegistry,
    ModelRegistry,
    MonitorRefresher,
    ServingBackend,
)


@dataclass
class App:
    settings: Settings
    clock: Clock
    engine: Engine
    store: StateStore
    assessments: AssessmentStore
    alerts: AlertService
    outbox: Outbox
    delivery: Notifier  # run_once: judge due alert groups, then deliver due outbox rows
    lifecycle: Lifecycle
    health: Health
    bus: MessageBus

    def close(self) -> None:
        self.store.close()
        self.engine.close()


def build_engine(settings: Settings) -> Engine:
    if isinstance(settings.engine, LocalSparkSettings):
        from monitor.engines.local_spark import LocalSparkEngine, require_java  # noqa: PLC0415 - slow import

        # At start, not at the first poll: without Java no model can ever be assessed, and a daemon
        # that runs on regardless only logs the same source failure on every poll.
        require_java()
        return LocalSparkEngine(settings.engine.lakehouse_root, settings.engine.spark_conf)
    from monitor.workspace import remote_engine  # noqa: PLC0415 - databricks-sdk only when configured

    return remote_engine(settings)


def package_migrations() -> dict[str, tuple[object, ...]]:
    return {"monitor": schema.MIGRATIONS, "alerts": alerts.schema.MIGRATIONS, "retrain": retrain.schema.MIGRATIONS}


def open_state(settings: Settings) -> StateStore:
    return open_store(settings.state.url, package_migrations(), settings.state.busy_timeout)  # type: ignore[arg-type]


def mlflow_env(settings: Settings) -> dict[str, str]:
    ws = settings.workspace
    return {"MLFLOW_TRACKING_URI": ws.mlflow_tracking_uri, "MLFLOW_REGISTRY_URI": ws.registry_uri,
            "MLFLOW_DISABLE_TELEMETRY": "true"}


def build_app(settings: Settings, clock: Clock = utc_now, engine: Engine | None = None) -> App:
    os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
    engine = engine or build_engine(settings)
    store = open_state(settings)
    assessments = AssessmentStore(store.engine, clock)
    alert_store = AlertStore(store.engine, clock)
    channels = build_channels(settings.receivers, clock, alert_store.message_refs())
    delivery = build_pipeline(settings, alert_store, channels, worker_id=f"daemon-{os.getpid()}")
    alert_service, outbox = delivery.service, delivery.outbox
    ws = settings.workspace
    mlflow = MlflowRegistry(ws.mlflow_tracking_uri, ws.registry_uri)
    backend: JobBackend
    registry: ModelRegistry = mlflow
    resolve_tables = None
    monitor_status = None
    serving: ServingBackend
    monitors: MonitorRefresher
    if ws.kind == "databricks":
        from monitor.workspace import databricks_backends  # noqa: PLC0415 - databricks-sdk only when configured

        remote = databricks_backends(settings, clock, mlflow)
        backend, registry, resolve_tables = remote.jobs, remote.registry, remote.resolve_tables
        monitor_status = remote.monitor_status  # a missing or failed monitor is a finding
        serving, monitors = remote.serving, DatabricksMonitorRefresher(settings, remote.discovery)
    else:
        backend = LocalJobBackend(workdir=ws.jobs_dir, env=mlflow_env(settings))
        serving = LocalServingBackend(store.engine, clock)
        monitors = LocalProfileRefresher(settings, engine, store.engine, clock)
    lifecycle = Lifecycle(store.engine, {m.name: m.lifecycle for m in settings.models}, backend, registry, clock,
                          serving=serving, monitors=monitors, verdicts=AssessmentVerdicts(store.engine))
    health = Health()
    handlers = Handlers(settings, build_sources(engine, clock, resolve_tables, monitor_status), assessments,
                        alert_service, lifecycle, health, clock, FeatureWeightsProvider(mlflow, clock))
    bus = MessageBus(
        commands={PollDue: handlers.poll, AdvanceLifecycle: handlers.advance_lifecycle},
        # The lifecycle first: deciding a retrain is quick, alert grouping may flush groups at once.
        events={AssessmentMade: [handlers.consider_lifecycle, handlers.raise_alerts],
                LifecycleProgressed: [handlers.notify_lifecycle]},
    )
    return App(settings, clock, engine, store, assessments, alert_service, outbox, delivery, lifecycle, health, bus)
