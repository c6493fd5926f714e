"""The two monitor APIs of databricks-sdk behind one small interface.

``LegacyMonitors``: ``w.quality_monitors`` (``/api/2.1/unity-catalog/tables/{t}/monitor``).
``DataQualityMonitors``: ``w.data_quality`` (``/api/data-quality/v1/monitors/table/{uuid}``), the
table's UUID read from Unity Catalog first. A workspace that does not serve an API answers one of
``UNSERVED`` (whatever the HTTP status: 404, 400 or 403 have all been seen) or 501: that raises
:class:`ApiUnavailable`, so ``auto`` can fall back.
"""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, Protocol

from monitor.discovery.model import (
    MonitorInfo,
    MonitorRefreshState,
    MonitorState,
    RefreshInfo,
    from_ms,
    monitor_state,
    refresh_state,
    refresh_trigger,
)

if TYPE_CHECKING:
    from databricks.sdk import WorkspaceClient


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
# How far the workspace's clock may run behind ours: a refresh that started this long before a step
# began still counts as the step's own (a refresh started by a daemon killed before it recorded it).
CLOCK_SKEW = timedelta(seconds=30)
_LISTED = 100  # refreshes read from a listing: the newest ones, on the first page or two
# Every "this workspace does not offer that API" answer: the route is unknown (ENDPOINT_NOT_FOUND), the
# feature is off or not enabled for the workspace (FEATURE_DISABLED, FEATURE_NOT_ENABLED), or not built
# there (NOT_IMPLEMENTED, HTTP 501).
UNSERVED = frozenset({"ENDPOINT_NOT_FOUND", "FEATURE_DISABLED", "FEATURE_NOT_ENABLED", "NOT_IMPLEMENTED"})


class ApiUnavailable(Exception):
    """This workspace does not serve the monitor API that was asked."""


class MonitorApi(Protocol):
    name: str

    def get(self, table: str) -> MonitorInfo: ...
    def start_refresh(self, table: str) -> RefreshInfo: ...
    def get_refresh(self, table: str, refresh_id: str) -> RefreshInfo: ...
    def cancel_refresh(self, table: str, refresh_id: str) -> None: ...
    def refreshes(self, table: str) -> list[RefreshInfo]: ...


def newest_ended(refreshes: list[RefreshInfo]) -> RefreshInfo | None:
    """The refresh that ended last (SUCCESS, FAILED or CANCELED), whatever order the API listed them in."""
    ended = [r for r in refreshes if r.state.final]
    return max(ended, key=lambda r: (r.ended or r.started or _EPOCH, int(r.refresh_id or 0)), default=None)


def adoptable(refreshes: list[RefreshInfo], since: datetime | None) -> RefreshInfo | None:
    """The refresh a caller that asked for one (maybe before it was killed) should follow instead of asking again.

    A PENDING or RUNNING refresh, whoever started it (a monitor runs one refresh at a time: asking now
    would be refused with RESOURCE_CONFLICT); else, when ``since`` is given, the newest refresh that
    started at or after ``since`` less :data:`CLOCK_SKEW` (the workspace's clock is not ours). None:
    ask for one.
    """
    running = [r for r in refreshes if r.state in (MonitorRefreshState.PENDING, MonitorRefreshState.RUNNING)]
    if running:
        return max(running, key=_started)
    if since is None:
        return None
    recent = [r for r in refreshes if r.started is not None and r.started >= since - CLOCK_SKEW]
    return max(recent, key=_started, default=None)


def _started(refresh: RefreshInfo) -> tuple[datetime, int]:
    return refresh.started or _EPOCH, int(refresh.refresh_id) if refresh.refresh_id.isdigit() else 0


def _unavailable(exc: BaseException) -> bool:
    from databricks.sdk import errors  # noqa: PLC0415

    code = getattr(exc, "error_code", None) or ""
    return code in UNSERVED or isinstance(exc, errors.NotImplemented)


def _missing(exc: BaseException) -> bool:
    from databricks.sdk import errors  # noqa: PLC0415

    return isinstance(exc, errors.NotFound) and not _unavailable(exc)


def _enum(value: Any) -> str | None:
    return None if value is None else str(getattr(value, "value", value))


class LegacyMonitors:
    name = "legacy"

    def __init__(self, client: WorkspaceClient) -> None:
        self._api = client.quality_monitors

    def _call(self, fn: Any, *args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except Exception as exc:
            if _unavailable(exc):
                raise ApiUnavailable(str(exc)) from exc
            raise

    def get(self, table: str) -> MonitorInfo:
        try:
            info = self._call(self._api.get, table_name=table)
        except ApiUnavailable:
            raise
        except Exception as exc:
            if _missing(exc):
                return MonitorInfo(table, MonitorState.MISSING, self.name, message=str(exc).splitlines()[0])
            raise
        log = info.inference_log
        return MonitorInfo(
            table=table, state=monitor_state(_enum(info.status)), api=self.name,
            profile_metrics_table=info.profile_metrics_table_name, drift_metrics_table=info.drift_metrics_table_name,
            monitor_version=int(info.monitor_version) if info.monitor_version is not None else None,
            baseline_table=info.baseline_table_name,
            model_id_column=log.model_id_col if log else None,
            granularities=tuple(log.granularities or ()) if log else (),
            message=info.latest_monitor_failure_msg or "")

    def _refresh(self, table: str, info: Any) -> RefreshInfo:
        return RefreshInfo(table, str(info.refresh_id), refresh_state(_enum(info.state)),
                           from_ms(info.start_time_ms), from_ms(info.end_time_ms), info.message or "",
                           refresh_trigger(_enum(info.trigger)))

    def start_refresh(self, table: str) -> RefreshInfo:
        return self._refresh(table, self._call(self._api.run_refresh, table_name=table))

    def get_refresh(self, table: str, refresh_id: str) -> RefreshInfo:
        return self._refresh(table, self._call(self._api.get_refresh, table_name=table, refresh_id=int(refresh_id)))

    def cancel_refresh(self, table: str, refresh_id: str) -> None:
        self._call(self._api.cancel_refresh, table_name=table, refresh_id=int(refresh_id))

    def refreshes(self, table: str) -> list[RefreshInfo]:
        listed = self._call(self._api.list_refreshes, table_name=table)
        return [self._refresh(table, r) for r in (listed.refreshes or ())]


_GRANULARITY = {"5_MINUTES": "5 minutes", "30_MINUTES": "30 minutes", "1_HOUR": "1 hour", "1_DAY": "1 day",
                "1_WEEK": "1 week", "2_WEEKS": "2 weeks", "3_WEEKS": "3 weeks", "4_WEEKS": "4 weeks",
                "1_MONTH": "1 month", "1_YEAR": "1 year"}


class DataQualityMonitors:
    name = "data_quality"

    def __init__(self, client: WorkspaceClient) -> None:
        self._client = client
        self._api = client.data_quality
        self._ids: dict[str, str] = {}

    def _call(self, fn: Any, *args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except Exception as exc:
            if _unavailable(exc):
                raise ApiUnavailable(str(exc)) from exc
            raise

    def _table_id(self, table: str) -> str | None:
        if table not in self._ids:
            try:
                info = self._client.tables.get(table)
            except Exception as exc:
                if _missing(exc):
                    return None
                raise
            self._ids[table] = str(info.table_id)
        return self._ids[table]

    def get(self, table: str) -> MonitorInfo:
        table_id = self._table_id(table)
        if table_id is None:
            return MonitorInfo(table, MonitorState.MISSING, self.name, message=f"table {table} does not exist")
        try:
            monitor = self._call(self._api.get_monitor, object_type="table", object_id=table_id)
        except ApiUnavailable:
            raise
        except Exception as exc:
            if _missing(exc):
                return MonitorInfo(table, MonitorState.MISSING, self.name, message=str(exc).splitlines()[0])
            raise
        config = monitor.data_profiling_config
        if config is None:
            return MonitorInfo(table, MonitorState.MISSING, self.name, message="the monitor has no data profiling")
        log = config.inference_log
        granularities = tuple(_GRANULARITY.get(str(_enum(g)).removeprefix("AGGREGATION_GRANULARITY_"), str(_enum(g)))
                              for g in (log.granularities or ())) if log else ()
        return MonitorInfo(
            table=table, state=monitor_state(_enum(config.status)), api=self.name,
            profile_metrics_table=config.profile_metrics_table_name,
            drift_metrics_table=config.drift_metrics_table_name,
            monitor_version=int(config.monitor_version) if config.monitor_version is not None else None,
            baseline_table=config.baseline_table_name, model_id_column=log.model_id_column if log else None,
            granularities=granularities, message=config.latest_monitor_failure_message or "")

    def _refresh(self, table: str, info: Any) -> RefreshInfo:
        return RefreshInfo(table, str(info.refresh_id), refresh_state(_enum(info.state)),
                           from_ms(info.start_time_ms), from_ms(info.end_time_ms), info.message or "",
                           refresh_trigger(_enum(info.trigger)))

    def _require_id(self, table: str) -> str:
        table_id = self._table_id(table)
        if table_id is None:
            raise LookupError(f"table {table} does not exist in Unity Catalog")
        return table_id

    def start_refresh(self, table: str) -> RefreshInfo:
        from databricks.sdk.service.dataquality import Refresh  # noqa: PLC0415

        table_id = self._require_id(table)
        refresh = Refresh(object_type="table", object_id=table_id)
        return self._refresh(table, self._call(self._api.create_refresh, object_type="table", object_id=table_id,
                                               refresh=refresh))

    def get_refresh(self, table: str, refresh_id: str) -> RefreshInfo:
        return self._refresh(table, self._call(self._api.get_refresh, object_type="table",
                                               object_id=self._require_id(table), refresh_id=int(refresh_id)))

    def cancel_refresh(self, table: str, refresh_id: str) -> None:
        self._call(self._api.cancel_refresh, object_type="table", object_id=self._require_id(table),
                   refresh_id=int(refresh_id))

    def refreshes(self, table: str) -> list[RefreshInfo]:
        table_id = self._require_id(table)
        listed = self._call(lambda: list(itertools.islice(
            self._api.list_refresh(object_type="table", object_id=table_id, page_size=_LISTED), _LISTED)))
        return [self._refresh(table, r) for r in listed]
