"""Small Lakehouse-Monitoring-shaped metric tables (the contract's columns and types), written fast.

Three hourly windows, both drift types, model ids ``'*'`` and ``m1``, one slice, NULL, NaN and
infinite statistics, and baseline profile rows with a NULL window: enough variety to compare
engines value by value without running the profile writer.
"""

from __future__ import annotations

import shutil
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

START = datetime(2025, 6, 2, tzinfo=UTC)
TS = pa.timestamp("us", tz="UTC")
WINDOW = pa.struct([("start", TS), ("end", TS)])
TEST = pa.struct([("statistic", pa.float64()), ("pvalue", pa.float64())])

DRIFT = pa.schema([
    ("window", WINDOW), ("granularity", pa.string()), ("monitor_version", pa.int64()), ("slice_key", pa.string()),
    ("slice_value", pa.string()), ("column_name", pa.string()), ("data_type", pa.string()), ("window_cmp", WINDOW),
    ("drift_type", pa.string()), ("count_delta", pa.float64()), ("avg_delta", pa.float64()),
    ("percent_null_delta", pa.float64()), ("percent_zeros_delta", pa.float64()),
    ("percent_distinct_delta", pa.float64()),
    ("non_null_columns_delta", pa.struct([("added", pa.int32()), ("missing", pa.int32())])),
    ("js_distance", pa.float64()), ("ks_test", TEST), ("wasserstein_distance", pa.float64()),
    ("population_stability_index", pa.float64()), ("chi_squared_test", TEST), ("tv_distance", pa.float64()),
    ("l_infinity_distance", pa.float64()), ("model_id", pa.string()),
])
PROFILE = pa.schema([
    ("window", WINDOW), ("log_type", pa.string()), ("logging_table_commit_version", pa.int32()),
    ("monitor_version", pa.int64()), ("granularity", pa.string()), ("slice_key", pa.string()),
    ("slice_value", pa.string()), ("column_name", pa.string()), ("count", pa.int64()), ("data_type", pa.string()),
    ("num_nulls", pa.int64()), ("avg", pa.float64()), ("quantiles", pa.list_(pa.float64())), ("min", pa.float64()),
    ("max", pa.float64()), ("stddev", pa.float64()), ("num_zeros", pa.int64()), ("num_nan", pa.int64()),
    ("min_length", pa.float64()), ("max_length", pa.float64()), ("avg_length", pa.float64()),
    ("non_null_columns", pa.list_(pa.string())),
    ("frequent_items", pa.list_(pa.struct([("item", pa.string()), ("count", pa.int64())]))),
    ("median", pa.float64()), ("distinct_count", pa.int64()), ("percent_nan", pa.float64()),
    ("percent_null", pa.float64()), ("percent_zeros", pa.float64()), ("percent_distinct", pa.float64()),
    ("model_id", pa.string()),
])
COLUMNS = ("prediction", "tenure", "plan")
WINDOWS = 3


def _window(index: int) -> dict[str, datetime]:
    return {"start": START + timedelta(hours=index), "end": START + timedelta(hours=index + 1)}


def _js(index: int, column: str, model: str) -> float | None:
    if column == "plan" and index == 1:
        return None if model == "*" else float("nan")
    return round(0.05 + 0.13 * index + 0.01 * COLUMNS.index(column), 6)


def drift_rows(windows: int = WINDOWS) -> list[dict[str, Any]]:
    rows = []
    for index in range(windows):
        for model in ("*", "m1"):
            for column in COLUMNS:
                for drift_type in ("BASELINE", "CONSECUTIVE"):
                    if drift_type == "CONSECUTIVE" and index == 0:
                        continue
                    js = _js(index, column, model)
                    rows.append({
                        "window": _window(index), "granularity": "1 hour", "monitor_version": 1,
                        "column_name": column, "data_type": "double", "drift_type": drift_type, "js_distance": js,
                        "window_cmp": _window(index - 1) if drift_type == "CONSECUTIVE" else None,
                        "ks_test": {"statistic": js, "pvalue": 0.01 * (index + 1)} if js is not None else None,
                        "population_stability_index": float("inf") if column == "tenure" and index == 2 else js,
                        "model_id": model})
        rows.append({"window": _window(index), "granularity": "1 hour", "monitor_version": 1,
                     "slice_key": "plan", "slice_value": "gold", "column_name": "prediction",
                     "drift_type": "BASELINE", "js_distance": 0.3, "model_id": "*"})
    return rows


def profile_rows(windows: int = WINDOWS) -> list[dict[str, Any]]:
    rows = []
    for index in (None, *range(windows)):
        for model in ("*", "m1"):
            for column in (":table", *COLUMNS):
                count = 1000 + 10 * (index or 0)
                rows.append({
                    "window": None if index is None else _window(index),
                    "log_type": "BASELINE" if index is None else "INPUT", "logging_table_commit_version": 3,
                    "monitor_version": 1, "granularity": "1 hour", "column_name": column, "count": count,
                    "num_nulls": 0 if column != "plan" else 25 * ((index or 0) + 1), "avg": 0.5,
                    "quantiles": [0.1, 0.5, 0.9], "frequent_items": [{"item": "gold", "count": 7}],
                    "percent_null": None if column == ":table" else 2.5, "model_id": model})
    return rows


def put(root: Path, name: str, data: pa.Table) -> None:
    """Table ``name`` as one Parquet file in its lakehouse folder (no Spark: fast, and the same layout)."""
    folder = root.joinpath(*name.split("."))
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    pq.write_table(data, folder / "part-00000.parquet")


def write_metric_tables(root: Path, schema: str, table: str = "inference") -> str:
    """Write ``main.<schema>.<table>`` and its ``_drift_metrics`` and ``_profile_metrics``; return its name."""
    monitored = f"main.{schema}.{table}"
    put(root, f"{monitored}_drift_metrics", pa.Table.from_pylist(drift_rows(), schema=DRIFT))
    put(root, f"{monitored}_profile_metrics", pa.Table.from_pylist(profile_rows(), schema=PROFILE))
    put(root, monitored, pa.table({"prediction": [0.5], "tenure": [3.0], "plan": ["gold"]}))
    return monitored


def add_window(root: Path, monitored: str, index: int) -> None:
    """Window ``index`` (after the ones written) added to the metric tables of ``monitored``, as a
    refresh appends it: a second Parquet file per table, moved in whole (a reader sees it or not)."""
    start = START + timedelta(hours=index)
    for suffix, rows, schema in (("_drift_metrics", drift_rows(index + 1), DRIFT),
                                 ("_profile_metrics", profile_rows(index + 1), PROFILE)):
        folder = root.joinpath(*f"{monitored}{suffix}".split("."))
        new = [row for row in rows if row["window"] is not None and row["window"]["start"] == start]
        hidden = folder / f".part-{index:05d}.parquet"  # Spark skips files starting with '.'
        pq.write_table(pa.Table.from_pylist(new, schema=schema), hidden)
        hidden.rename(folder / f"part-{index:05d}.parquet")
