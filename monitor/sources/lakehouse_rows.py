"""Flattened metric-table rows -> ``WindowMetrics``: scopes, counts, metrics, notes."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from config.basics.clock import utc
from monitor.observations import (
    ALL_MODELS,
    TABLE_COLUMN,
    ColumnDrift,
    ColumnProfile,
    InvalidValue,
    Scope,
    WindowMetrics,
)
from monitor.sources.contract import DRIFT_FIELDS, DRIFT_NOT_STATISTICS, PROFILE_STATISTICS
from monitor.sources.validity import Checker, Where

Key = tuple[datetime, datetime]
Row = dict[str, Any]


def scope_of(row: Row) -> Scope:
    model_id = row.get("model_id")
    return Scope(row.get("slice_key"), row.get("slice_value"), None if model_id is None else str(model_id))


def where_of(row: Row, baseline: bool = False) -> Where:
    start = row.get("window_start")
    return Where(row["column_name"], scope_of(row), None if start is None else utc(start), baseline)


def drift_row(row: Row, extras: dict[str, str], checker: Checker) -> ColumnDrift:
    """One drift row; values outside their range (``validity.RANGES``) become None and are recorded by ``checker``."""
    where = where_of(row)
    stats = {alias: checker.number(row[alias], alias, where) for alias in DRIFT_FIELDS.values()
             if alias in row and alias not in DRIFT_NOT_STATISTICS}
    stats.update({path: checker.number(row[alias], path, where) for alias, path in extras.items() if alias in row})
    return ColumnDrift(column=row["column_name"], drift_type=row["drift_type"], statistics=stats,
                       scope=where.scope, data_type=row.get("data_type"),
                       columns_added=checker.count(row.get("columns_added"), "columns_added", where),
                       columns_missing=checker.count(row.get("columns_missing"), "columns_missing", where))


def profile_row(row: Row, extras: dict[str, str], log_type: str, checker: Checker) -> ColumnProfile:
    """One profile row; values outside their range become None (counts too) and are recorded by ``checker``."""
    where = where_of(row, baseline=log_type == "BASELINE")
    metrics = {name: checker.number(row[name], name, where) for name in PROFILE_STATISTICS if name in row}
    metrics.update({path: checker.number(row[alias], path, where) for alias, path in extras.items() if alias in row})
    items = [(str(i["item"]), checker.count(i["count"], "frequent_items.count", where))
             for i in row.get("frequent_items") or [] if i and i.get("count") is not None]
    non_null = row.get("non_null_columns")
    return ColumnProfile(
        column=row["column_name"], count=checker.count(row.get("row_count"), "row_count", where),
        num_nulls=checker.count(row.get("num_nulls"), "num_nulls", where),
        percent_null=checker.number(row.get("percent_null"), "percent_null", where), scope=where.scope,
        log_type="BASELINE" if log_type == "BASELINE" else "INPUT", data_type=row.get("data_type"),
        num_nan=checker.count(row.get("num_nan"), "num_nan", where),
        num_zeros=checker.count(row.get("num_zeros"), "num_zeros", where),
        distinct_count=checker.count(row.get("distinct_count"), "distinct_count", where),
        frequent_items=tuple((item, count) for item, count in items if count is not None),
        non_null_columns=None if non_null is None else tuple(non_null), metrics=metrics,
    )


def by_window(rows: Iterable[Row]) -> dict[Key, list[Row]]:
    out: dict[Key, list[Row]] = defaultdict(list)
    for row in rows:
        out[(utc(row["window_start"]), utc(row["window_end"]))].append(row)
    return out


def row_count(profile: Iterable[ColumnProfile]) -> int | None:
    """The whole table's ``:table`` count over all models, else the largest whole-table count."""
    whole = [p for p in profile if p.scope.whole_table and p.count is not None]
    for row in whole:
        if row.column == TABLE_COLUMN and row.scope.model_id in (None, ALL_MODELS):
            return row.count
    return max((p.count for p in whole if p.count is not None), default=None)


def window_metrics(model: str, granularity: str, key: Key, version: str, drift: list[ColumnDrift],
                   profile: list[ColumnProfile], baseline: tuple[ColumnProfile, ...], notes: list[str],
                   monitor_version: int | None, invalid: tuple[InvalidValue, ...] = ()) -> WindowMetrics:
    return WindowMetrics(
        model=model, source="lakehouse", granularity=granularity, window_start=key[0], window_end=key[1],
        monitor_version=monitor_version, row_count=row_count(profile), drift=tuple(drift), profile=tuple(profile),
        notes=tuple(notes), baseline=baseline, version=version, invalid=invalid,
    )


def deduplicated(rows: list[Row]) -> tuple[list[Row], dict[Key, int]]:
    """One row per key (window, slice, model id, column, drift type or log type): the newest monitor version's.

    A refresh should rewrite a window in place; when a table holds the same key twice (an older
    monitor version left behind, a refresh that appended), judging both would count one problem twice.
    Returns the rows kept and, per window, how many were left out.
    """
    best: dict[tuple[Any, ...], Row] = {}
    dropped: dict[Key, int] = defaultdict(int)
    for row in rows:
        key = (row.get("window_start"), row.get("slice_key"), row.get("slice_value"), row.get("model_id"),
               row["column_name"], row.get("drift_type"), row.get("log_type"))
        kept = best.get(key)
        if kept is not None and row.get("window_start") is not None:
            dropped[(utc(row["window_start"]), utc(row["window_end"]))] += 1
        if kept is None or (row.get("row_version") or -1) > (kept.get("row_version") or -1):
            best[key] = row
    return list(best.values()), dict(dropped)
