"""Hand-made metric tables in the contract's shape, for cases the profile writer does not produce on purpose:
refresh rewrites, late windows, unknown column types, slices, custom and model-quality columns.
"""

from __future__ import annotations

import shutil
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

import pyarrow as pa
import pyarrow.parquet as pq

if TYPE_CHECKING:
    from monitor.engines.local_spark import LocalSparkEngine

START = datetime(2025, 6, 2, tzinfo=UTC)
TS = pa.timestamp("us", tz="UTC")
WINDOW = pa.struct([("start", TS), ("end", TS)])
TEST = pa.struct([("statistic", pa.float64()), ("pvalue", pa.float64())])
AVERAGED = pa.struct([("macro", pa.float64()), ("weighted", pa.float64())])

DRIFT = [
    ("window", WINDOW), ("granularity", pa.string()), ("monitor_version", pa.int64()), ("slice_key", pa.string()),
    ("slice_value", pa.string()), ("column_name", pa.string()), ("data_type", pa.string()), ("window_cmp", WINDOW),
    ("drift_type", pa.string()), ("count_delta", pa.float64()), ("avg_delta", pa.float64()),
    ("percent_null_delta", pa.float64()), ("percent_zeros_delta", pa.float64()),
    ("percent_distinct_delta", pa.float64()),
    ("non_null_columns_delta", pa.struct([("added", pa.int32()), ("missing", pa.int32())])),
    ("js_distance", pa.float64()), ("ks_test", TEST), ("wasserstein_distance", pa.float64()),
    ("population_stability_index", pa.float64()), ("chi_squared_test", TEST), ("tv_distance", pa.float64()),
    ("l_infinity_distance", pa.float64()), ("model_id", pa.string()),
]
PROFILE = [
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
]


def hour(index: int) -> dict[str, datetime]:
    return {"start": START + timedelta(hours=index), "end": START + timedelta(hours=index + 1)}


def drow(index: int, column: str, js: float | None, *, drift_type: str = "BASELINE", slice_: tuple[str, str] | None
         = None, model: str = "*", mv: int = 0, pvalue: float | None = None, **extra: Any) -> dict[str, Any]:
    return {"window": hour(index), "granularity": "1 hour", "monitor_version": mv,
            "slice_key": slice_[0] if slice_ else None, "slice_value": slice_[1] if slice_ else None,
            "column_name": column, "data_type": "double", "drift_type": drift_type, "js_distance": js,
            "ks_test": None if pvalue is None else {"statistic": js, "pvalue": pvalue}, "model_id": model, **extra}


def prow(index: int | None, column: str, count: int, *, log_type: str = "INPUT", slice_: tuple[str, str] | None
         = None, model: str = "*", mv: int = 0, commit: int = 1, **extra: Any) -> dict[str, Any]:
    return {"window": None if index is None else hour(index), "log_type": log_type,
            "logging_table_commit_version": commit, "monitor_version": mv, "granularity": "1 hour",
            "slice_key": slice_[0] if slice_ else None, "slice_value": slice_[1] if slice_ else None,
            "column_name": column, "count": count, "num_nulls": 0, "model_id": model, **extra}


def table(layout: list[tuple[str, pa.DataType]], rows: list[dict[str, Any]],
          extra: list[tuple[str, pa.DataType]] | None = None, drop: tuple[str, ...] = ()) -> pa.Table:
    schema = pa.schema([f for f in layout if f[0] not in drop] + (extra or []))
    return pa.Table.from_pylist([{name: row.get(name) for name in schema.names} for row in rows], schema=schema)


def put(engine: LocalSparkEngine, name: str, data: pa.Table) -> None:
    """Replace table ``name`` with ``data``, written as Parquet by pyarrow (fast; no Spark job)."""
    path = engine.path(name)
    if path.exists():
        shutil.rmtree(path)
    path.mkdir(parents=True)
    pq.write_table(data, path / "part-00000.parquet")
