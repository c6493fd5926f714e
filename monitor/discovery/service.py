"""Monitor discovery and refresh: which metric tables a model's monitor writes, is it healthy, refresh it.

``MonitorDiscovery`` answers from the monitor API chosen by ``workspace.monitor_api``: ``legacy``,
``data_quality``, or ``auto`` (the data-quality API when the workspace serves it, else legacy; the
choice is made once, on the first answer). Answers are cached for ``ttl``.

For the lakehouse source it offers :meth:`resolve` (a ``monitor.sources.TableResolver``): the
monitor's ``profile_metrics_table_name`` and ``drift_metrics_table_name``, or None to keep the
configured names. It never raises: a missing, failed or pending monitor, a failed newest refresh, or
an API error, becomes a :class:`MonitorProblem` (logged, and listed by :meth:`problems`), and the
source reads the tables the config names. Explicit ``profile_metrics_table``/``drift_metrics_table``
in the config always win.

For the judge it offers :meth:`status` (a ``monitor.sources.StatusReader``): the monitor and its
newest ended refresh as a ``MonitorStatus``, which the monitor-status source turns into one window
per ``signals.monitor_health.window``, judged by ``monitor.risk.monitor_rules``.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import replace
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Literal, TypeVar

import structlog

from config.basics.clock import Clock, utc_now
from config.models import ModelSettings
from monitor.discovery.apis import (
    ApiUnavailable,
    DataQualityMonitors,
    LegacyMonitors,
    MonitorApi,
    adoptable,
    newest_ended,
)
from monitor.discovery.model import (
    MonitorInfo,
    MonitorProblem,
    MonitorRefreshState,
    MonitorState,
    RefreshInfo,
    monitor_status,
)
from monitor.observations import MonitorStatus
from retrain.databricks.client import describe_error

if TYPE_CHECKING:
    from databricks.sdk import WorkspaceClient

log = structlog.get_logger(__name__)

ApiChoice = Literal["auto", "legacy", "data_quality"]
T = TypeVar("T")


class DiscoveryError(Exception):
    """A monitor API call failed; the message says which and why."""


class MonitorDiscovery:
    def __init__(self, client: WorkspaceClient, api: ApiChoice = "auto", *,
                 clock: Clock = utc_now, sleep: Callable[[float], None] = time.sleep,
                 ttl: timedelta = timedelta(minutes=10)) -> None:
        self._client = client
        self._choice = api
        self._api: MonitorApi | None = None
        self._clock = clock
        self._sleep = sleep
        self._ttl = ttl
        self._cache: dict[str, tuple[datetime, MonitorInfo]] = {}
        self._problems: dict[str, MonitorProblem] = {}
        self._lock = threading.Lock()

    @property
    def host(self) -> str:
        return str(self._client.config.host)

    # -- which API ------------------------------------------------------------------------------

    def _candidates(self) -> list[MonitorApi]:
        if self._api is not None:
            return [self._api]
        if self._choice == "legacy":
            return [LegacyMonitors(self._client)]
        if self._choice == "data_quality":
            return [DataQualityMonitors(self._client)]
        return [DataQualityMonitors(self._client), LegacyMonitors(self._client)]

    def _ask(self, doing: str, call: Callable[[MonitorApi], T]) -> T:
        last: BaseException | None = None
        for api in self._candidates():
            try:
                answer = call(api)
            except ApiUnavailable as exc:
                last = exc
                log.info("monitor_api_unavailable", api=api.name, host=self.host)
                continue
            except LookupError as exc:
                raise DiscoveryError(f"{doing}: {exc}") from exc
            except Exception as exc:
                raise DiscoveryError(describe_error(exc, doing, self.host)) from exc
            if self._api is None:
                self._api = api
                log.info("monitor_api_chosen", api=api.name, host=self.host)
            return answer
        raise DiscoveryError(f"{doing} at {self.host} failed: the workspace serves no monitor API "
                             f"(workspace.monitor_api: {self._choice}): {last}")

    @property
    def api_name(self) -> str | None:
        """The API in use once one answered (``legacy`` or ``data_quality``)."""
        return None if self._api is None else self._api.name

    # -- monitors -------------------------------------------------------------------------------

    def monitor(self, table: str, *, fresh: bool = False) -> MonitorInfo:
        """The monitor on ``table`` (state MISSING when there is none); raises DiscoveryError on API errors."""
        now = self._clock()
        with self._lock:
            cached = self._cache.get(table)
        if cached is not None and not fresh and now - cached[0] < self._ttl:
            return cached[1]
        info = self._ask(f"reading the monitor of {table}", lambda api: _with_refresh(api, api.get(table)))
        with self._lock:
            self._cache[table] = (now, info)
        return info

    def check(self, model: ModelSettings) -> tuple[MonitorInfo | None, MonitorProblem | None]:
        """The model's monitor and, when it is not active (or could not be read), the problem."""
        table = model.sources.lakehouse.table if model.sources.lakehouse else None
        if table is None:
            return None, None
        try:
            info = self.monitor(table)
        except DiscoveryError as exc:
            return None, MonitorProblem(model.name, table, MonitorState.UNKNOWN, str(exc))
        refresh = info.last_refresh
        if info.state is MonitorState.ACTIVE and refresh is not None and refresh.state is MonitorRefreshState.FAILED:
            return info, MonitorProblem(model.name, table, info.state, refresh.message or "no message from the "
                                        "workspace", refresh)
        if info.state is MonitorState.ACTIVE:
            return info, None
        why = info.message or {MonitorState.MISSING: "no monitor exists on the table",
                               MonitorState.PENDING: "the monitor is still being created",
                               MonitorState.DELETE_PENDING: "the monitor is being deleted"}.get(info.state, "")
        return info, MonitorProblem(model.name, table, info.state, why or "no message from the workspace")

    def status(self, model: ModelSettings) -> MonitorStatus | None:
        """The model's monitor for the judge (a ``monitor.sources.StatusReader``); None when the model's metric
        tables are not the monitor's (no lakehouse source, or both tables named in the config).

        Raises DiscoveryError when the monitor API fails: a monitor that could not be read is not judged.
        """
        cfg = model.sources.lakehouse
        if cfg is None or (cfg.profile_metrics_table and cfg.drift_metrics_table):
            return None
        return monitor_status(self.monitor(cfg.table))

    def resolve(self, model: ModelSettings) -> tuple[str, str] | None:
        """(profile table, drift table) from the monitor, or None to read the configured tables. Never raises."""
        cfg = model.sources.lakehouse
        if cfg is None or (cfg.profile_metrics_table and cfg.drift_metrics_table):
            return None
        info, problem = self.check(model)
        with self._lock:
            previous = self._problems.pop(model.name, None)
            if problem is not None:
                self._problems[model.name] = problem
        if problem is not None and problem != previous:
            log.warning("monitor_problem", model=model.name, table=problem.table, state=problem.state.value,
                        message=problem.message)
        if previous is not None and problem is None:
            log.info("monitor_recovered", model=model.name, table=previous.table)
        return None if info is None else info.metric_tables

    def problems(self) -> list[MonitorProblem]:
        """The current problem of every model whose monitor is not active, as last seen by ``resolve``."""
        with self._lock:
            return list(self._problems.values())

    # -- refreshes ------------------------------------------------------------------------------

    def refresh(self, table: str, *, since: datetime | None = None) -> RefreshInfo:
        """Start a refresh of the monitor on ``table``, or follow one that is already there.

        With ``since`` (when the caller first set out to refresh), the monitor's refreshes are listed
        first and a PENDING/RUNNING one, or one started since then, is adopted instead of asking
        (``apis.adoptable``): a caller killed after asking and before recording the answer does not
        start a second. Without it, a ``RESOURCE_CONFLICT`` answer (a refresh is already running) still
        adopts the running one; it is never asked again.
        """
        def start(api: MonitorApi) -> tuple[RefreshInfo, bool]:
            if since is not None:
                found = adoptable(api.refreshes(table), since)
                if found is not None:
                    return found, True
            try:
                return api.start_refresh(table), False
            except Exception as exc:
                if not _conflict(exc):
                    raise
                found = adoptable(api.refreshes(table), since)
                if found is None:
                    raise
                return found, True

        info, adopted = self._ask(f"starting a refresh of the monitor on {table}", start)
        if adopted:
            log.info("monitor_refresh_adopted", table=table, refresh_id=info.refresh_id, state=info.state.value,
                     trigger=info.trigger, started=info.started.isoformat() if info.started else None)
        else:
            log.info("monitor_refresh_started", table=table, refresh_id=info.refresh_id)
        with self._lock:
            self._cache.pop(table, None)
        return info

    def refresh_status(self, table: str, refresh_id: str) -> RefreshInfo:
        info = self._ask(f"reading refresh {refresh_id} of the monitor on {table}",
                         lambda api: api.get_refresh(table, refresh_id))
        return info

    def cancel_refresh(self, table: str, refresh_id: str) -> None:
        def cancel(api: MonitorApi) -> RefreshInfo:
            api.cancel_refresh(table, refresh_id)
            return api.get_refresh(table, refresh_id)

        self._ask(f"cancelling refresh {refresh_id} of the monitor on {table}", cancel)

    def wait_for_refresh(self, table: str, refresh_id: str, timeout: timedelta,
                         poll: timedelta = timedelta(seconds=10)) -> RefreshInfo:
        """Poll the refresh until it ends (SUCCESS, FAILED or CANCELED) or ``timeout`` passes.

        Past the timeout the refresh keeps running on the workspace; the answer is its last state.
        """
        deadline = self._clock() + timeout
        info = self.refresh_status(table, refresh_id)
        while not info.state.final and self._clock() < deadline:
            self._sleep(poll.total_seconds())
            info = self.refresh_status(table, refresh_id)
        log.info("monitor_refresh_tracked", table=table, refresh_id=refresh_id, state=info.state.value,
                 message=info.message)
        if info.state is MonitorRefreshState.SUCCESS:
            with self._lock:
                self._cache.pop(table, None)
        return info


def _conflict(exc: BaseException) -> bool:
    """The workspace refused to start a refresh because one is already running (HTTP 409)."""
    from databricks.sdk import errors  # noqa: PLC0415

    return isinstance(exc, errors.ResourceConflict) or getattr(exc, "error_code", None) == "RESOURCE_CONFLICT"


def _with_refresh(api: MonitorApi, info: MonitorInfo) -> MonitorInfo:
    """An active monitor with its newest ended refresh (a failed one is a problem too)."""
    if info.state is not MonitorState.ACTIVE:
        return info
    return replace(info, last_refresh=newest_ended(api.refreshes(info.table)))
