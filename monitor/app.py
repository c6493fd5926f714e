"""The composition root: every component of the daemon is built here and nowhere else."""

from __future__ import annotations

import os
from dataclasses import dataclass

import alerts
import retrain
from alerts import AlertService, DeliveryWorker, Outbox, build_channels
from config.service import LocalSparkEngine as LocalSparkSettings
from config.settings import Settings
from monitor import schema
from monitor.assessments import AssessmentStore
from monitor.bus import MessageBus
from monitor.clock import Clock, utc_now
from monitor.engines.base import Engine, EngineError
from monitor.handlers import Handlers
from monitor.http import Health
from monitor.messages import AdvanceLifecycle, AssessmentMade, PollDue
from monitor.sources import LakehouseMetricsSource
from monitor.state import StateStore, open_store
from retrain import Lifecycle, LocalJobBackend, MlflowRegistry


@dataclass
class App:
    settings: Settings
    clock: Clock
    engine: Engine
    store: StateStore
    assessments: AssessmentStore
    alerts: AlertService
    outbox: Outbox
    delivery: DeliveryWorker
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
    raise EngineError(f"engine kind {settings.engine.kind!r} is not available in this version of lakewarden; "
                      "use kind: local_spark")


def package_migrations() -> dict[str, tuple[object, ...]]:
    return {"monitor": schema.MIGRATIONS, "alerts": alerts.schema.MIGRATIONS, "retrain": retrain.schema.MIGRATIONS}


def open_state(settings: Settings) -> StateStore:
    return open_store(settings.state.url, package_migrations(), settings.state.busy_timeout)  # type: ignore[arg-type]


def mlflow_env(settings: Settings) -> dict[str, str]:
    ws = settings.workspace
    return {"MLFLOW_TRACKING_URI": ws.mlflow_tracking_uri, "MLFLOW_REGISTRY_URI": ws.registry_uri,
            "MLFLOW_DISABLE_TELEMETRY": "true"}


def build_app(settings: Settings, clock: Clock = utc_now, engine: Engine | None = None) -> App:
    if settings.workspace.kind != "local":
        raise EngineError("workspace kind 'databricks' is not available in this version of lakewarden; "
                          "use kind: local")
    os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
    engine = engine or build_engine(settings)
    store = open_state(settings)
    assessments = AssessmentStore(store.engine, clock)
    alert_service = AlertService(store.engine, settings.route, settings.receivers, clock)
    outbox = Outbox(store.engine, clock)
    delivery = DeliveryWorker(outbox, build_channels(settings.receivers, clock), clock,
                              worker_id=f"daemon-{os.getpid()}")
    ws = settings.workspace
    backend = LocalJobBackend(workdir=ws.jobs_dir, env=mlflow_env(settings))
    registry = MlflowRegistry(ws.mlflow_tracking_uri, ws.registry_uri)
    lifecycle = Lifecycle(store.engine, {m.name: m.lifecycle for m in settings.models}, backend, registry, clock)
    health = Health()
    handlers = Handlers(settings, LakehouseMetricsSource(engine, clock), assessments, alert_service, lifecycle,
                        health, clock)
    bus = MessageBus(
        commands={PollDue: handlers.poll, AdvanceLifecycle: handlers.advance_lifecycle},
        events={AssessmentMade: [handlers.raise_alerts, handlers.consider_lifecycle]},
    )
    return App(settings, clock, engine, store, assessments, alert_service, outbox, delivery, lifecycle, health, bus)
