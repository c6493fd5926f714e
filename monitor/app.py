"""The composition root: every component of the daemon is built here and nowhere else.

The CLI commands build what they need with the same builders ``build_app`` uses (``open_state``,
``build_alert_store``, ``build_notifier``, ``build_runbook``, ...), so a command and the daemon
open the same schema versions and send through the same retry policy and dead-letter hook.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass

import alerts
import retrain
from alerts import AlertService, AlertStore, Notifier, Outbox, build_channels, build_pipeline
from alerts.instance import instance_id
from alerts.outboxview import outbox_health
from config.basics.clock import Clock, utc_now
from config.basics.fence import install_fencing
from config.lifecycle import LifecycleSettings
from config.service import LocalSparkSettings
from config.settings import Settings
from monitor import schema
from monitor.assessments import AssessmentStore
from monitor.bus import MessageBus
from monitor.engines.base import Engine
from monitor.handlers import Handlers, ModelReads
from monitor.health import Health
from monitor.leases import FLUSH, LeaseKeeper, LeaseStore, bound_idle_transactions
from monitor.lifecycle_ports import AssessmentVerdicts, DatabricksMonitorRefresher, LocalProfileRefresher
from monitor.messages import AdvanceLifecycle, AssessmentMade, LifecycleProgressed, PollDue, SourceFailed
from monitor.poll_cycle import PollCycle
from monitor.poll_pool import PollPool, default_size
from monitor.profile import pool
from monitor.risk.importances import FeatureWeightsProvider
from monitor.self_watch import SelfWatch
from monitor.sources import StatusReader, TableResolver, build_sources
from monitor.state import Migration, StateStore, open_store
from retrain import (
    JobBackend,
    Lifecycle,
    LocalJobBackend,
    LocalServingBackend,
    MlflowRegistry,
    ModelRegistry,
    MonitorRefresher,
    RunBook,
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
    cycle: PollCycle  # the poll_cycle log line
    watch: SelfWatch  # the watchdog and the self-alerts, on the daemon's tick
    leases: LeaseKeeper  # what this replica holds (started by the daemon: ``monitor.leases``)
    poller: PollPool  # polls read at once (service.poll_concurrency), judged one at a time on the bus

    def poll_all(self, models: Sequence[str], stop: threading.Event | None = None) -> dict[str, str]:
        """Poll ``models`` once: reads on the poll pool, each judged on the bus here as its read ends,
        each counted in the poll cycle. Returns model -> the error its poll raised (none: not there)."""
        raised: dict[str, str] = {}

        def handle(model: str, reads: ModelReads) -> None:
            started, error = time.monotonic(), None
            try:
                self.bus.handle(PollDue(model, reads))
            except Exception as exc:
                raised[model] = error = str(exc)
            self.cycle.polled(model, time.monotonic() - started + reads.seconds, error)

        self.poller.run(models, handle, stop)
        return raised

    def close(self) -> None:
        self.close_state()
        self.close_engine()

    def close_engine(self) -> None:
        """Stop the engine (Spark) and end the profile pool's worker processes."""
        pool.terminate()
        self.engine.close()

    def close_state(self) -> None:
        self.store.close()


def build_engine(settings: Settings) -> Engine:
    if isinstance(settings.engine, LocalSparkSettings):
        from monitor.engines.local_spark import LocalSparkEngine, require_java  # noqa: PLC0415 - slow import

        # At start, not at the first poll: without Java no model can ever be assessed, and a daemon
        # that runs on regardless only logs the same source failure on every poll.
        require_java()
        return LocalSparkEngine(settings.engine.lakehouse_root, settings.engine.spark_conf)
    from monitor.workspace import remote_engine  # noqa: PLC0415 - databricks-sdk only when configured

    return remote_engine(settings)


def package_migrations() -> dict[str, tuple[Migration, ...]]:
    return {"monitor": schema.MIGRATIONS, "alerts": alerts.schema.MIGRATIONS, "retrain": retrain.schema.MIGRATIONS}


def open_state(settings: Settings | None, url: str | None = None) -> StateStore:
    """The state database with every package's migrations applied: the config's ``state.url``, or
    ``url`` when given (``lakewarden profile --state``, which can also run without a config)."""
    if url is None:
        if settings is None:
            raise ValueError("open_state needs the settings or a state database url")
        url = settings.state.url
    if settings is None:
        return open_store(url, package_migrations())
    return open_store(url, package_migrations(), settings.state.busy_timeout)


def build_assessments(store: StateStore, clock: Clock) -> AssessmentStore:
    return AssessmentStore(store.engine, clock)


def build_alert_store(store: StateStore, clock: Clock) -> AlertStore:
    return AlertStore(store.engine, clock)


def build_notifier(settings: Settings, alert_store: AlertStore, worker_id: str) -> Notifier:
    """The notification path (``alerts.build_pipeline``): every configured receiver's channels, the
    outbox with the configured retry policy and the dead-letter hook to the fallback receiver."""
    channels = build_channels(settings.receivers, alert_store.clock, alert_store.message_refs())
    return build_pipeline(settings, alert_store, channels, worker_id=worker_id)


def build_self_watch(settings: Settings, store: StateStore, notifier: Notifier, health: Health,
                     clock: Clock) -> SelfWatch:
    fallback = settings.alerting.fallback_receiver
    return SelfWatch(settings, notifier.service,
                     lambda since: outbox_health(store.engine, since=since, fallback=fallback),
                     store.probe_write, health, clock)


def lifecycle_models(settings: Settings) -> dict[str, LifecycleSettings]:
    return {m.name: m.lifecycle for m in settings.models}


def build_runbook(settings: Settings, store: StateStore, clock: Clock) -> RunBook:
    """Lifecycle runs as records (list, start through the guardrails, cancel, the kill switch)."""
    return RunBook(store.engine, lifecycle_models(settings), clock)


@dataclass(frozen=True)
class WorkspacePorts:
    """What the lifecycle acts on, and (workspace kind databricks) the monitor-discovery hooks of the sources."""

    mlflow: MlflowRegistry
    jobs: JobBackend
    registry: ModelRegistry
    serving: ServingBackend
    monitors: MonitorRefresher
    resolve_tables: TableResolver | None = None
    monitor_status: StatusReader | None = None


def build_workspace(settings: Settings, store: StateStore, engine: Engine, clock: Clock) -> WorkspacePorts:
    ws = settings.workspace
    mlflow = MlflowRegistry(ws.mlflow_tracking_uri, ws.registry_uri)
    if ws.kind == "databricks":
        from monitor.workspace import databricks_backends  # noqa: PLC0415 - databricks-sdk only when configured

        remote = databricks_backends(settings, clock, mlflow)
        # A missing or failed monitor is a finding (monitor_status).
        return WorkspacePorts(mlflow, remote.jobs, remote.registry, remote.serving,
                         DatabricksMonitorRefresher(settings, remote.discovery), remote.resolve_tables,
                         remote.monitor_status)
    return WorkspacePorts(mlflow, LocalJobBackend(workdir=ws.jobs_dir, env=mlflow_env(settings)), mlflow,
                     LocalServingBackend(store.engine, clock),
                     LocalProfileRefresher(settings, engine, store.engine, clock))


def build_lifecycle(settings: Settings, store: StateStore, workspace: WorkspacePorts, clock: Clock) -> Lifecycle:
    return Lifecycle(store.engine, lifecycle_models(settings), workspace.jobs, workspace.registry, clock,
                     serving=workspace.serving, monitors=workspace.monitors, verdicts=AssessmentVerdicts(store.engine))


def mlflow_env(settings: Settings) -> dict[str, str]:
    ws = settings.workspace
    return {"MLFLOW_TRACKING_URI": ws.mlflow_tracking_uri, "MLFLOW_REGISTRY_URI": ws.registry_uri,
            "MLFLOW_DISABLE_TELEMETRY": "true"}


def build_app(settings: Settings, clock: Clock = utc_now, engine: Engine | None = None, replay: bool = False,
              worker_id: str | None = None) -> App:
    """The daemon's components. ``replay`` (``check --as-of``): the sources leave out data after the clock's time.

    ``worker_id``: the identity its delivery claims outbox rows under. The daemon's is its stable
    instance id, so that a restart takes back at once what it was sending when it died; any other
    command (``check``) must pass one of its own, or it would take back the rows a running daemon on
    the same host is sending this moment, and send them again.
    """
    os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
    engine = engine or build_engine(settings)
    store = open_state(settings)
    assessments = build_assessments(store, clock)
    delivery = build_notifier(settings, build_alert_store(store, clock),
                              worker_id=worker_id or instance_id(settings.alerting.instance_id,
                                                                 str(settings.state.url)))
    workspace = build_workspace(settings, store, engine, clock)
    lifecycle = build_lifecycle(settings, store, workspace, clock)
    leases = build_leases(settings, store, delivery.worker_id)
    # A single leader judges the due alert groups; the others deliver (``docs/high-availability.md``).
    delivery.dispatcher.gate = lambda: leases.gate(FLUSH)
    health = Health()
    health.set_holdings(leases.holdings)
    cycle = PollCycle(assessments, clock, statements=lambda: int(getattr(engine, "statements", 0)))
    sources = build_sources(engine, clock, workspace.resolve_tables, workspace.monitor_status, replay,
                            batch_tables=settings.service.poll_batch_tables)
    handlers = Handlers(settings, sources,
                        assessments, delivery.service, lifecycle, health, clock,
                        FeatureWeightsProvider(workspace.mlflow, clock), leases.model_gate)
    bus = MessageBus(
        commands={PollDue: handlers.poll, AdvanceLifecycle: handlers.advance_lifecycle},
        # The lifecycle first: deciding a retrain is quick, alert grouping may flush groups at once.
        events={AssessmentMade: [handlers.consider_lifecycle, handlers.raise_alerts, cycle.on_assessment],
                SourceFailed: [cycle.on_failure],
                LifecycleProgressed: [handlers.notify_lifecycle]},
    )
    size = settings.service.poll_concurrency or default_size(settings.engine.kind)
    poller = PollPool(handlers.read, sources, size, settings.model)
    return App(settings, clock, engine, store, assessments, delivery.service, delivery.outbox, delivery, lifecycle,
               health, bus, cycle, build_self_watch(settings, store, delivery, health, clock), leases,
               poller)


def build_leases(settings: Settings, store: StateStore, instance: str) -> LeaseKeeper:
    """The replica's leases (models, alert flushes) under its instance id; every write of leased work
    on the state database checks its fence (``config.basics.fence``)."""
    install_fencing(store.engine)
    bound_idle_transactions(store.engine, settings.service.lease_ttl)
    return LeaseKeeper(LeaseStore(store.engine, settings.service.lease_ttl), instance,
                       [m.name for m in settings.models])
