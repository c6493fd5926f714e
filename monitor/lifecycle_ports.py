"""The monitor's side of the lifecycle's ports: assessments as ``WindowVerdict`` values, monitor refreshes.

``AssessmentVerdicts`` lets a canary watch the model's judged windows. A monitor refresh is the
Lakehouse monitor's refresh on Databricks (``DatabricksMonitorRefresher``, through monitor
discovery), and on the embedded default ``lakewarden profile`` over the model's table
(``LocalProfileRefresher``): it runs in the caller's thread and is done when it returns.
"""

from __future__ import annotations

import uuid
from datetime import datetime

import sqlalchemy as sa
import structlog

from config.basics.clock import Clock
from config.basics.severity import severity_rank
from config.settings import Settings
from monitor import schema
from monitor.discovery import MonitorDiscovery
from monitor.discovery.model import MonitorRefreshState
from monitor.engines.base import Engine
from monitor.lifecycle_triggers import lifecycle_signal
from monitor.sources import is_data_stream
from retrain import RefreshState, WindowVerdict

log = structlog.get_logger(__name__)
T = schema.window_assessments


class AssessmentVerdicts:
    def __init__(self, engine: sa.Engine) -> None:
        self._engine = engine

    def windows_since(self, model: str, since: datetime) -> list[WindowVerdict]:
        """One verdict per data stream and window, signals in the lifecycle's names (``rollout.watch``).

        The status streams (the monitor's, freshness) are left out: a canary must not pass on hourly
        status windows while no window of data has been judged since it went live.
        """
        with self._engine.connect() as conn:
            rows = conn.execute(sa.select(T.c.stream, T.c.window_start, T.c.window_end, T.c.severity, T.c.risk,
                                          T.c.findings)
                                .where(T.c.model == model, T.c.window_end > since)
                                .order_by(T.c.window_start, T.c.stream)).all()
        verdicts = []
        for row in rows:
            if not is_data_stream(row.stream):
                continue  # a status stream, one window per period: it says nothing of the model's data
            signals: dict[str, str] = {}
            for finding in row.findings or []:
                signal, tier = lifecycle_signal(str(finding.get("signal"))), str(finding.get("tier"))
                signals[signal] = max(signals.get(signal, tier), tier, key=severity_rank)
            verdict = WindowVerdict(row.window_start, row.window_end, row.severity, float(row.risk),
                                    signals)
            if verdict.mostly_after(since):
                verdicts.append(verdict)
        return verdicts


class DatabricksMonitorRefresher:
    """Refreshes through the monitor API (legacy or data-quality, as discovery found)."""

    def __init__(self, settings: Settings, discovery: MonitorDiscovery) -> None:
        self._settings = settings
        self._discovery = discovery

    def _table(self, model: str) -> str:
        source = self._settings.model(model).sources.lakehouse
        if source is None:
            raise ValueError(f"model {model} has no lakehouse source: there is no monitor to refresh")
        return source.table

    def start_refresh(self, model: str, since: datetime | None = None) -> str:
        return self._discovery.refresh(self._table(model), since=since).refresh_id

    def refresh_state(self, model: str, refresh_id: str) -> tuple[RefreshState, str]:
        info = self._discovery.refresh_status(self._table(model), refresh_id)
        if info.state is MonitorRefreshState.SUCCESS:
            return RefreshState.SUCCEEDED, info.message or "refresh succeeded"
        if info.state.final:
            why = f": {info.message}" if info.message else ""
            return RefreshState.FAILED, f"refresh ended {info.state.value}{why}"
        return RefreshState.RUNNING, f"refresh {info.state.value}"


class LocalProfileRefresher:
    """``lakewarden profile`` for the model's lakehouse source: the embedded default's monitor refresh."""

    def __init__(self, settings: Settings, engine: Engine, state: sa.Engine, clock: Clock) -> None:
        self._settings = settings
        self._engine = engine
        self._state = state
        self._clock = clock
        self._results: dict[str, tuple[RefreshState, str]] = {}

    def start_refresh(self, model: str, since: datetime | None = None) -> str:
        # ``since`` is not needed: a profile run is incremental (windows whose rows did not change are
        # not written again), so a second run after a kill writes nothing the first one wrote.
        refresh_id = f"local-{uuid.uuid4().hex[:12]}"
        self._run(model, refresh_id)
        return refresh_id

    def refresh_state(self, model: str, refresh_id: str) -> tuple[RefreshState, str]:
        if refresh_id not in self._results:
            # Started by a process that stopped before it could tell how the refresh went: run it again
            # (a refresh only recomputes metric tables, so twice is harmless).
            self._run(model, refresh_id)
        return self._results[refresh_id]

    def _run(self, model: str, refresh_id: str) -> None:
        from monitor.profile import ProfileStore, write_profile  # noqa: PLC0415 - Spark-side code
        from monitor.profile.from_config import Overrides, granularities_of, spec_from_source  # noqa: PLC0415

        source = self._settings.model(model).sources.lakehouse
        if source is None:
            self._results[refresh_id] = (RefreshState.FAILED, f"model {model} has no lakehouse source to profile")
            return
        try:
            columns = list(self._engine.columns(source.table))
            written = 0
            for granularity in granularities_of(source):
                spec = spec_from_source(source, columns, Overrides(), granularity)
                result = write_profile(self._engine, spec, now=self._clock(),  # type: ignore[arg-type]
                                       store=ProfileStore(self._state, self._clock))
                written += len(result.windows_written) + len(result.windows_rewritten)
            self._results[refresh_id] = (RefreshState.SUCCEEDED, f"profiled {written} window(s) of {source.table}")
        except Exception as exc:
            log.exception("local_refresh_failed", model=model)
            self._results[refresh_id] = (RefreshState.FAILED, f"{type(exc).__name__}: {exc}")
