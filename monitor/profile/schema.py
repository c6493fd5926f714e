"""Column layout of the Lakehouse Monitoring metric tables (contracts/lakehouse-monitoring.md).

Everything not pinned down by the contract is decided here and only here:
- the model-id column (string, the user's column name) comes after the contract's columns;
- the classification quality columns come after it, on ``:table`` rows; ``confusion_matrix`` (type
  unconfirmed) is left out;
- ``count_delta`` is a double; percentages are on a 0-100 scale (``PERCENT_SCALE``);
- ``quantiles`` holds the 101 quantiles at probabilities 0.00, 0.01, ..., 1.00 (``QUANTILE_PROBS``);
- ``count`` is the number of rows (nulls included) in the window and slice;
- ``frequent_items`` holds the ``FREQUENT_ITEMS_LIMIT`` most frequent values of categorical columns.
"""

from __future__ import annotations

import pyarrow as pa

MONITOR_VERSION = 0
PERCENT_SCALE = 100.0
QUANTILE_PROBS: tuple[float, ...] = tuple(round(i / 100, 2) for i in range(101))
DECILE_INDEXES: tuple[int, ...] = tuple(range(10, 100, 10))  # positions of 0.1 .. 0.9 in QUANTILE_PROBS
MEDIAN_INDEX = 50
FREQUENT_ITEMS_LIMIT = 20
TABLE_COLUMN = ":table"
ALL_MODELS = "*"
PROFILE_SUFFIX = "_profile_metrics"
DRIFT_SUFFIX = "_drift_metrics"

WINDOW = pa.struct([("start", pa.timestamp("us", tz="UTC")), ("end", pa.timestamp("us", tz="UTC"))])
TEST = pa.struct([("statistic", pa.float64()), ("pvalue", pa.float64())])
AVERAGED = pa.struct([("macro", pa.float64()), ("weighted", pa.float64())])
ITEM = pa.struct([("item", pa.string()), ("count", pa.int64())])
COLUMNS_DELTA = pa.struct([("added", pa.int32()), ("missing", pa.int32())])

PROFILE_COLUMNS: tuple[tuple[str, pa.DataType], ...] = (
    ("window", WINDOW),
    ("log_type", pa.string()),
    ("logging_table_commit_version", pa.int32()),
    ("monitor_version", pa.int64()),
    ("granularity", pa.string()),
    ("slice_key", pa.string()),
    ("slice_value", pa.string()),
    ("column_name", pa.string()),
    ("count", pa.int64()),
    ("data_type", pa.string()),
    ("num_nulls", pa.int64()),
    ("avg", pa.float64()),
    ("quantiles", pa.list_(pa.float64())),
    ("min", pa.float64()),
    ("max", pa.float64()),
    ("stddev", pa.float64()),
    ("num_zeros", pa.int64()),
    ("num_nan", pa.int64()),
    ("min_length", pa.float64()),
    ("max_length", pa.float64()),
    ("avg_length", pa.float64()),
    ("non_null_columns", pa.list_(pa.string())),
    ("frequent_items", pa.list_(ITEM)),
    ("median", pa.float64()),
    ("distinct_count", pa.int64()),
    ("percent_nan", pa.float64()),
    ("percent_null", pa.float64()),
    ("percent_zeros", pa.float64()),
    ("percent_distinct", pa.float64()),
)

CLASSIFICATION_COLUMNS: tuple[tuple[str, pa.DataType], ...] = (
    ("accuracy_score", pa.float64()),
    ("precision", AVERAGED),
    ("recall", AVERAGED),
    ("f1_score", AVERAGED),
)

DRIFT_COLUMNS: tuple[tuple[str, pa.DataType], ...] = (
    ("window", WINDOW),
    ("granularity", pa.string()),
    ("monitor_version", pa.int64()),
    ("slice_key", pa.string()),
    ("slice_value", pa.string()),
    ("column_name", pa.string()),
    ("data_type", pa.string()),
    ("window_cmp", WINDOW),
    ("drift_type", pa.string()),
    ("count_delta", pa.float64()),
    ("avg_delta", pa.float64()),
    ("percent_null_delta", pa.float64()),
    ("percent_zeros_delta", pa.float64()),
    ("percent_distinct_delta", pa.float64()),
    ("non_null_columns_delta", COLUMNS_DELTA),
    ("js_distance", pa.float64()),
    ("ks_test", TEST),
    ("wasserstein_distance", pa.float64()),
    ("population_stability_index", pa.float64()),
    ("chi_squared_test", TEST),
    ("tv_distance", pa.float64()),
    ("l_infinity_distance", pa.float64()),
)


def profile_schema(model_id_col: str | None, classification: bool) -> pa.Schema:
    """Arrow schema of ``<table>_profile_metrics`` for a monitor with these settings."""
    columns = list(PROFILE_COLUMNS)
    if model_id_col is not None:
        columns.append((model_id_col, pa.string()))
    if classification:
        columns.extend(CLASSIFICATION_COLUMNS)
    return pa.schema(columns)


def drift_schema(model_id_col: str | None) -> pa.Schema:
    """Arrow schema of ``<table>_drift_metrics`` for a monitor with these settings."""
    columns = list(DRIFT_COLUMNS)
    if model_id_col is not None:
        columns.append((model_id_col, pa.string()))
    return pa.schema(columns)
