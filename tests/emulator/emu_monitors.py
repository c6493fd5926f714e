"""Lakehouse monitors through both APIs over one store of monitors keyed by table name.

Legacy ``/api/2.1/unity-catalog/tables/{t}/monitor`` (status ``MONITOR_STATUS_*``, refresh states
``PENDING``...) and the new ``/api/data-quality/v1/monitors/table/{uuid}`` (``DATA_PROFILING_STATUS_*``,
``MONITOR_REFRESH_STATE_*``). A monitor is PENDING for ``pending_seconds`` after creation, then its
scripted status; a refresh is PENDING, then RUNNING, then its scripted outcome, on the emulator clock.
Either API can be switched off to answer ENDPOINT_NOT_FOUND (or ``unavailable``: another status and
code, such as FEATURE_NOT_ENABLED), as on a workspace without it.
"""

from __future__ import annotations

import itertools
import threading
from dataclasses import dataclass, field
from typing import Any

from emu_clock import EmuClock
from emu_http import ApiError, Request, Router, bad_request
from emu_tables import Tables, table_uuid

_GRANULARITY = {"5 minutes": "5_MINUTES", "30 minutes": "30_MINUTES", "1 hour": "1_HOUR", "1 day": "1_DAY",
                "1 week": "1_WEEK", "1 month": "1_MONTH", "1 year": "1_YEAR"}


@dataclass
class Refresh:
    refresh_id: int
    started: float
    outcome: str = "SUCCESS"
    message: str = ""
    canceled_at: float | None = None


@dataclass
class Monitor:
    table: str
    output_schema: str
    created: float
    status: str = "ACTIVE"             # what it becomes after pending_seconds: ACTIVE, ERROR, FAILED
    failure_message: str = ""
    pending_seconds: float = 1.0
    monitor_version: int = 0
    baseline_table: str | None = None
    inference_log: dict[str, Any] | None = None
    refreshes: list[Refresh] = field(default_factory=list)


class Monitors:
    def __init__(self, tables: Tables, clock: EmuClock) -> None:
        self.tables = tables
        self.clock = clock
        self.monitors: dict[str, Monitor] = {}
        self.legacy_enabled = True
        self.data_quality_enabled = True
        self.unavailable = (404, "ENDPOINT_NOT_FOUND")  # what a switched-off API answers: (status, error code)
        self.refresh_pending = 1.0
        self.refresh_running = 2.0
        self.refresh_outcomes: list[tuple[str, str]] = []   # scripted (state, message), taken in order
        self._ids = itertools.count(728491530194723)
        self._lock = threading.Lock()

    def add(self, table: str, output_schema: str | None = None, **fields: Any) -> Monitor:
        """Create a monitor directly (as if created in the UI)."""
        schema = output_schema or table.rsplit(".", 1)[0]
        monitor = Monitor(table, schema, self.clock.now(), **fields)
        self.monitors[table] = monitor
        return monitor

    def register(self, router: Router) -> None:
        base = "/api/2.1/unity-catalog/tables/{table}/monitor"
        router.add("GET", base, self._legacy(lambda r: self.legacy_info(self._monitor(r.params["table"]))))
        router.add("POST", base, self._legacy(self._legacy_create))
        router.add("DELETE", base, self._legacy(self._delete))
        router.add("POST", base + "/refreshes",
                   self._legacy(lambda r: self.legacy_refresh(*self._start(r.params["table"]))))
        router.add("GET", base + "/refreshes", self._legacy(self._legacy_list))
        router.add("GET", base + "/refreshes/{rid}", self._legacy(
            lambda r: self.legacy_refresh(*self._refresh(r.params["table"], r.params["rid"]))))
        router.add("POST", base + "/refreshes/{rid}/cancel", self._legacy(self._legacy_cancel))
        new = "/api/data-quality/v1/monitors/{otype}/{oid}"
        router.add("GET", new, self._new(lambda r: self.new_info(self._monitor(self._table(r)))))
        router.add("POST", new + "/refreshes", self._new(lambda r: self.new_refresh(*self._start(self._table(r)))))
        router.add("GET", new + "/refreshes", self._new(self._new_list))
        router.add("GET", new + "/refreshes/{rid}", self._new(
            lambda r: self.new_refresh(*self._refresh(self._table(r), r.params["rid"]))))
        router.add("POST", new + "/refreshes/{rid}/cancel", self._new(self._new_cancel))

    # -- state on the clock ---------------------------------------------------------------------

    def status(self, monitor: Monitor) -> str:
        return "PENDING" if self.clock.now() < monitor.created + monitor.pending_seconds else monitor.status

    def refresh_state(self, refresh: Refresh) -> tuple[str, float | None]:
        """The refresh's state and its end time (seconds), if it ended."""
        now = self.clock.now()
        end = refresh.started + self.refresh_pending + self.refresh_running
        if refresh.canceled_at is not None and refresh.canceled_at < end:
            return "CANCELED", refresh.canceled_at
        if now < refresh.started + self.refresh_pending:
            return "PENDING", None
        if now < end:
            return "RUNNING", None
        return refresh.outcome, end

    # -- shared operations ----------------------------------------------------------------------

    def _monitor(self, table: str) -> Monitor:
        monitor = self.monitors.get(table)
        if monitor is None:
            raise ApiError(404, "RESOURCE_DOES_NOT_EXIST", f"Monitor for table '{table}' does not exist.")
        return monitor

    def _start(self, table: str) -> tuple[Monitor, Refresh]:
        monitor = self._monitor(table)
        with self._lock:
            if any(self.refresh_state(r)[0] in ("PENDING", "RUNNING") for r in monitor.refreshes):
                raise ApiError(409, "RESOURCE_CONFLICT", f"A refresh of the monitor on '{table}' is already running.")
            outcome, message = self.refresh_outcomes.pop(0) if self.refresh_outcomes else ("SUCCESS", "")
            refresh = Refresh(next(self._ids), self.clock.now(), outcome, message)
            monitor.refreshes.append(refresh)
        return monitor, refresh

    def _refresh(self, table: str, rid: str) -> tuple[Monitor, Refresh]:
        monitor = self._monitor(table)
        for refresh in monitor.refreshes:
            if str(refresh.refresh_id) == rid:
                return monitor, refresh
        raise ApiError(404, "RESOURCE_DOES_NOT_EXIST", f"Refresh {rid} of the monitor on '{table}' does not exist.")

    def _delete(self, request: Request) -> tuple[int, Any]:
        self._monitor(request.params["table"])
        del self.monitors[request.params["table"]]
        return 200, {}

    def _unavailable(self, request: Request) -> ApiError:
        status, code = self.unavailable
        if code == "ENDPOINT_NOT_FOUND":
            return ApiError(status, code, f"No API found for '{request.method} {request.path}'")
        return ApiError(status, code, "This feature is not enabled for this workspace.")

    # -- legacy ---------------------------------------------------------------------------------

    def _legacy(self, handler: Any) -> Any:
        def wrapped(request: Request) -> tuple[int, Any]:
            if not self.legacy_enabled:
                raise self._unavailable(request)
            answer = handler(request)
            return answer if isinstance(answer, tuple) else (200, answer)
        return wrapped

    def legacy_info(self, monitor: Monitor) -> dict[str, Any]:
        name = monitor.table.rsplit(".", 1)[1]
        info: dict[str, Any] = {
            "table_name": monitor.table, "status": f"MONITOR_STATUS_{self.status(monitor)}",
            "monitor_version": monitor.monitor_version, "output_schema_name": monitor.output_schema,
            "profile_metrics_table_name": f"{monitor.output_schema}.{name}_profile_metrics",
            "drift_metrics_table_name": f"{monitor.output_schema}.{name}_drift_metrics",
            "assets_dir": f"/Workspace/Shared/lakehouse_monitoring/{monitor.table}",
        }
        if monitor.baseline_table:
            info["baseline_table_name"] = monitor.baseline_table
        if monitor.inference_log:
            info["inference_log"] = monitor.inference_log
        if monitor.failure_message and self.status(monitor) in ("ERROR", "FAILED"):
            info["latest_monitor_failure_msg"] = monitor.failure_message
        return info

    def _legacy_create(self, request: Request) -> tuple[int, Any]:
        table = request.params["table"]
        if table in self.monitors:
            raise ApiError(409, "RESOURCE_ALREADY_EXISTS", f"Monitor for table '{table}' already exists.")
        if not self.tables.exists(table):
            raise ApiError(404, "TABLE_DOES_NOT_EXIST", f"Table '{table}' does not exist.")
        schema = request.body.get("output_schema_name")
        if not schema:
            raise bad_request("output_schema_name is required")
        monitor = self.add(table, schema, baseline_table=request.body.get("baseline_table_name"),
                           inference_log=request.body.get("inference_log"))
        return 200, self.legacy_info(monitor)

    def legacy_refresh(self, _monitor: Monitor, refresh: Refresh) -> dict[str, Any]:
        state, end = self.refresh_state(refresh)
        info: dict[str, Any] = {"refresh_id": refresh.refresh_id, "state": state, "trigger": "MANUAL",
                                "start_time_ms": int(refresh.started * 1000)}
        if end is not None:
            info["end_time_ms"] = int(end * 1000)
        if state == "FAILED" and refresh.message:
            info["message"] = refresh.message
        return info

    def _legacy_list(self, request: Request) -> tuple[int, Any]:
        monitor = self._monitor(request.params["table"])
        return 200, {"refreshes": [self.legacy_refresh(monitor, r) for r in reversed(monitor.refreshes)]}

    def _legacy_cancel(self, request: Request) -> tuple[int, Any]:
        _, refresh = self._refresh(request.params["table"], request.params["rid"])
        if self.refresh_state(refresh)[0] in ("PENDING", "RUNNING"):
            refresh.canceled_at = self.clock.now()
        return 200, {}

    # -- data quality (new) ---------------------------------------------------------------------

    def _new(self, handler: Any) -> Any:
        def wrapped(request: Request) -> tuple[int, Any]:
            if not self.data_quality_enabled:
                raise self._unavailable(request)
            if request.params["otype"] != "table":
                raise bad_request(f"object_type must be 'table' or 'schema', not {request.params['otype']!r}")
            answer = handler(request)
            return answer if isinstance(answer, tuple) else (200, answer)
        return wrapped

    def _table(self, request: Request) -> str:
        table = self.tables.by_uuid(request.params["oid"])
        if table is None or table not in self.monitors:
            raise ApiError(404, "RESOURCE_DOES_NOT_EXIST", f"Monitor for table {request.params['oid']} does not exist.")
        return table

    def new_info(self, monitor: Monitor) -> dict[str, Any]:
        legacy = self.legacy_info(monitor)
        config: dict[str, Any] = {
            "output_schema_id": table_uuid(monitor.output_schema),
            "profile_metrics_table_name": legacy["profile_metrics_table_name"],
            "drift_metrics_table_name": legacy["drift_metrics_table_name"],
            "status": f"DATA_PROFILING_STATUS_{self.status(monitor)}",
            "monitor_version": monitor.monitor_version,
            "assets_dir": legacy["assets_dir"],
        }
        if monitor.baseline_table:
            config["baseline_table_name"] = monitor.baseline_table
        if monitor.inference_log:
            log = monitor.inference_log
            config["inference_log"] = {
                "timestamp_column": log.get("timestamp_col"), "prediction_column": log.get("prediction_col"),
                "model_id_column": log.get("model_id_col"), "label_column": log.get("label_col"),
                "problem_type": f"INFERENCE_PROBLEM_TYPE_{log.get('problem_type', 'PROBLEM_TYPE_CLASSIFICATION')}"
                                .replace("PROBLEM_TYPE_PROBLEM_TYPE_", "PROBLEM_TYPE_"),
                "granularities": [f"AGGREGATION_GRANULARITY_{_GRANULARITY.get(g, g)}"
                                  for g in log.get("granularities", [])],
            }
        if "latest_monitor_failure_msg" in legacy:
            config["latest_monitor_failure_message"] = legacy["latest_monitor_failure_msg"]
        return {"object_type": "table", "object_id": table_uuid(monitor.table), "data_profiling_config": config}

    def new_refresh(self, monitor: Monitor, refresh: Refresh) -> dict[str, Any]:
        legacy = self.legacy_refresh(monitor, refresh)
        legacy["state"] = f"MONITOR_REFRESH_STATE_{legacy['state']}"
        legacy["trigger"] = "MONITOR_REFRESH_TRIGGER_MANUAL"
        return {"object_type": "table", "object_id": table_uuid(monitor.table), **legacy}

    def _new_list(self, request: Request) -> tuple[int, Any]:
        monitor = self._monitor(self._table(request))
        return 200, {"refreshes": [self.new_refresh(monitor, r) for r in reversed(monitor.refreshes)]}

    def _new_cancel(self, request: Request) -> tuple[int, Any]:
        monitor, refresh = self._refresh(self._table(request), request.params["rid"])
        if self.refresh_state(refresh)[0] in ("PENDING", "RUNNING"):
            refresh.canceled_at = self.clock.now()
        return 200, {"refresh": self.new_refresh(monitor, refresh)}
