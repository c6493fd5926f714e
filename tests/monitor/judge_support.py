"""Builders for the judge's inputs: a model's settings and one window's metrics, as data."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from config.models import ModelSettings
from monitor.observations import WHOLE, ColumnDrift, ColumnProfile, Operations, Scope, WindowMetrics
from monitor.risk import PriorWindow

T0 = datetime(2026, 1, 1, tzinfo=UTC)
HOUR = timedelta(hours=1)


def model(lakehouse: dict[str, Any] | None = None, risk: dict[str, Any] | None = None,
          inference: dict[str, Any] | None = None, **signals: Any) -> ModelSettings:
    sources: dict[str, Any] = {}
    if inference is not None:
        sources["inference"] = {"table": "main.ml.payload", **inference}
    if lakehouse is not None or inference is None:
        sources["lakehouse"] = {"table": "main.ml.t", "label_column": "label", **(lakehouse or {})}
    return ModelSettings.model_validate({"name": "churn", "sources": sources, "signals": signals,
                                         "risk": risk or {}})


def drift(column: str, scope: Scope = WHOLE, drift_type: str = "BASELINE", **stats: float | None) -> ColumnDrift:
    return ColumnDrift(column, drift_type, dict(stats), scope)


def profile(column: str, count: int = 1000, *, scope: Scope = WHOLE, log_type: str = "INPUT",
            nulls: int = 0, **extra: Any) -> ColumnProfile:
    metrics = extra.pop("metrics", {})
    return ColumnProfile(column, count, nulls, None, scope, log_type, metrics=metrics, **extra)  # type: ignore[arg-type]


def table(count: int = 1000, *, scope: Scope = WHOLE, log_type: str = "INPUT", **metrics: float | None
          ) -> ColumnProfile:
    return ColumnProfile(":table", count, 0, None, scope, log_type, metrics=dict(metrics))  # type: ignore[arg-type]


def window(*rows: ColumnDrift | ColumnProfile, baseline: tuple[ColumnProfile, ...] = (), index: int = 0,
           rows_in_window: int | None = 1000, operations: Operations | None = None,
           source: str = "lakehouse") -> WindowMetrics:
    start = T0 + index * HOUR
    return WindowMetrics(
        model="churn", source=source, granularity="1 hour", window_start=start, window_end=start + HOUR,
        monitor_version=0, row_count=rows_in_window,
        drift=tuple(r for r in rows if isinstance(r, ColumnDrift)),
        profile=tuple(r for r in rows if isinstance(r, ColumnProfile)), baseline=baseline,
        operations=operations, version=f"v{index}",
    )


def prior(index: int, severity: str = "ok", keys: frozenset[str] = frozenset(), **measures: float) -> PriorWindow:
    start = T0 + index * HOUR
    return PriorWindow(start, start + HOUR, severity, keys, dict(measures))  # type: ignore[arg-type]


def ops(requests: int = 1000, statuses: dict[int, int] | None = None, p99: float | None = 100.0,
        logging_errors: int | None = 0, freshness: float | None = 60.0) -> Operations:
    return Operations(requests, statuses if statuses is not None else {200: requests},
                      {"p50": 20.0, "p90": 50.0, "p99": p99}, logging_errors, T0, freshness)
