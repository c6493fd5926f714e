"""``WindowMetrics`` to JSON and back, exactly: an assessment stores its window so the decision can be replayed.

JSON has no NaN or infinity: non-finite floats are written as the strings ``"nan"``, ``"inf"`` and
``"-inf"`` and read back as floats. Times are ISO 8601 with their UTC offset.
"""

from __future__ import annotations

import math
from datetime import datetime
from typing import Any

from monitor.observations import (
    ColumnDrift,
    ColumnProfile,
    Freshness,
    InvalidValue,
    MonitorStatus,
    Newest,
    Operations,
    Scope,
    WindowMetrics,
)

_NON_FINITE = {"nan": math.nan, "inf": math.inf, "-inf": -math.inf}


def _num(value: float | None) -> float | str | None:
    if value is None or math.isfinite(value):
        return value
    return "nan" if math.isnan(value) else ("inf" if value > 0 else "-inf")


def _unnum(value: Any) -> float | None:
    if value is None:
        return None
    if isinstance(value, str):
        return _NON_FINITE[value]
    return float(value)


def _numbers(values: dict[str, float | None]) -> dict[str, float | str | None]:
    return {k: _num(v) for k, v in values.items()}


def _unnumbers(values: dict[str, Any]) -> dict[str, float | None]:
    return {k: _unnum(v) for k, v in values.items()}


def _scope(scope: Scope) -> list[str | None]:
    return [scope.slice_key, scope.slice_value, scope.model_id]


def _time(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat()


def _untime(value: str | None) -> datetime | None:
    return None if value is None else datetime.fromisoformat(value)


def _drift(row: ColumnDrift) -> dict[str, Any]:
    return {"column": row.column, "drift_type": row.drift_type, "statistics": _numbers(row.statistics),
            "scope": _scope(row.scope), "data_type": row.data_type, "columns_added": row.columns_added,
            "columns_missing": row.columns_missing}


def _undrift(data: dict[str, Any]) -> ColumnDrift:
    return ColumnDrift(column=data["column"], drift_type=data["drift_type"],
                       statistics=_unnumbers(data["statistics"]), scope=Scope(*data["scope"]),
                       data_type=data.get("data_type"), columns_added=data.get("columns_added"),
                       columns_missing=data.get("columns_missing"))


def _profile(row: ColumnProfile) -> dict[str, Any]:
    return {"column": row.column, "count": row.count, "num_nulls": row.num_nulls,
            "percent_null": _num(row.percent_null), "scope": _scope(row.scope), "log_type": row.log_type,
            "data_type": row.data_type, "num_nan": row.num_nan, "num_zeros": row.num_zeros,
            "distinct_count": row.distinct_count, "frequent_items": [list(i) for i in row.frequent_items],
            "non_null_columns": None if row.non_null_columns is None else list(row.non_null_columns),
            "metrics": _numbers(row.metrics)}


def _unprofile(data: dict[str, Any]) -> ColumnProfile:
    non_null = data.get("non_null_columns")
    return ColumnProfile(
        column=data["column"], count=data["count"], num_nulls=data["num_nulls"],
        percent_null=_unnum(data["percent_null"]), scope=Scope(*data["scope"]), log_type=data["log_type"],
        data_type=data.get("data_type"), num_nan=data.get("num_nan"), num_zeros=data.get("num_zeros"),
        distinct_count=data.get("distinct_count"),
        frequent_items=tuple((str(item), int(count)) for item, count in data.get("frequent_items", [])),
        non_null_columns=None if non_null is None else tuple(non_null),
        metrics=_unnumbers(data.get("metrics", {})),
    )


def _operations(ops: Operations | None) -> dict[str, Any] | None:
    if ops is None:
        return None
    return {"requests": ops.requests, "status_counts": {str(k): v for k, v in ops.status_counts.items()},
            "latency_ms": _numbers(ops.latency_ms), "logging_errors": ops.logging_errors,
            "newest_row": _time(ops.newest_row), "freshness_seconds": _num(ops.freshness_seconds),
            "estimated_requests": _num(ops.estimated_requests)}


def _unoperations(data: dict[str, Any] | None) -> Operations | None:
    if data is None:
        return None
    return Operations(requests=data["requests"], status_counts={int(k): v for k, v in data["status_counts"].items()},
                      latency_ms=_unnumbers(data["latency_ms"]), logging_errors=data["logging_errors"],
                      newest_row=_untime(data["newest_row"]), freshness_seconds=_unnum(data["freshness_seconds"]),
                      estimated_requests=_unnum(data.get("estimated_requests")))


def _monitor(status: MonitorStatus | None) -> dict[str, Any] | None:
    if status is None:
        return None
    return {"table": status.table, "state": status.state, "api": status.api, "message": status.message,
            "refresh_id": status.refresh_id, "refresh_state": status.refresh_state,
            "refresh_ended": _time(status.refresh_ended), "refresh_message": status.refresh_message}


def _unmonitor(data: dict[str, Any] | None) -> MonitorStatus | None:
    if data is None:
        return None
    return MonitorStatus(table=data["table"], state=data["state"], api=data["api"], message=data.get("message", ""),
                         refresh_id=data.get("refresh_id"), refresh_state=data.get("refresh_state"),
                         refresh_ended=_untime(data.get("refresh_ended")),
                         refresh_message=data.get("refresh_message", ""))


def _invalid(record: InvalidValue) -> dict[str, Any]:
    return {"table": record.table, "column": record.column, "statistic": record.statistic,
            "value": _num(record.value), "rule": record.rule, "scope": _scope(record.scope),
            "window_start": _time(record.window_start), "baseline": record.baseline, "rows": record.rows}


def _uninvalid(data: dict[str, Any]) -> InvalidValue:
    return InvalidValue(table=data["table"], column=data["column"], statistic=data["statistic"],
                        value=_unnum(data["value"]), rule=data["rule"], scope=Scope(*data["scope"]),
                        window_start=_untime(data.get("window_start")), baseline=data.get("baseline", False),
                        rows=data.get("rows", 1))


def _freshness(facts: Freshness | None) -> dict[str, Any] | None:
    if facts is None:
        return None
    return {"observed_at": _time(facts.observed_at),
            "newest": [{"stream": n.stream, "table": n.table, "granularity": n.granularity,
                        "window_start": _time(n.window_start), "window_end": _time(n.window_end)}
                       for n in facts.newest]}


def _unfreshness(data: dict[str, Any] | None) -> Freshness | None:
    if data is None:
        return None
    observed = _untime(data["observed_at"])
    if observed is None:
        raise ValueError("stored freshness facts without the time they were observed")
    return Freshness(observed_at=observed, newest=tuple(
        Newest(stream=n["stream"], table=n["table"], granularity=n["granularity"],
               window_start=_untime(n.get("window_start")), window_end=_untime(n.get("window_end")))
        for n in data.get("newest", [])))


def window_to_json(window: WindowMetrics) -> dict[str, Any]:
    return {
        "model": window.model, "source": window.source, "granularity": window.granularity,
        "window_start": _time(window.window_start), "window_end": _time(window.window_end),
        "monitor_version": window.monitor_version, "row_count": window.row_count, "version": window.version,
        "notes": list(window.notes), "drift": [_drift(r) for r in window.drift],
        "profile": [_profile(r) for r in window.profile], "baseline": [_profile(r) for r in window.baseline],
        "operations": _operations(window.operations), "monitor": _monitor(window.monitor),
        "invalid": [_invalid(r) for r in window.invalid],
        "freshness": _freshness(window.freshness),
    }


def window_from_json(data: dict[str, Any]) -> WindowMetrics:
    start, end = _untime(data["window_start"]), _untime(data["window_end"])
    if start is None or end is None:
        raise ValueError("a stored window without its start or end")
    return WindowMetrics(
        model=data["model"], source=data["source"], granularity=data["granularity"], window_start=start,
        window_end=end, monitor_version=data["monitor_version"], row_count=data["row_count"],
        version=data.get("version"), notes=tuple(data.get("notes", [])),
        drift=tuple(_undrift(r) for r in data.get("drift", [])),
        profile=tuple(_unprofile(r) for r in data.get("profile", [])),
        baseline=tuple(_unprofile(r) for r in data.get("baseline", [])),
        operations=_unoperations(data.get("operations")), monitor=_unmonitor(data.get("monitor")),
        invalid=tuple(_uninvalid(r) for r in data.get("invalid", [])),
        freshness=_unfreshness(data.get("freshness")),
    )
