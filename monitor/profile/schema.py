"""Column layout of the Lakehouse Monitoring metric tables (docs/external/lakehouse-monitoring.md).

Everything not pinned down by the contract is decided here and only here:
- the model-id column (string, the user's column name) comes after the contract's columns;
- the model-quality columns come after it, on ``:table`` rows: for classification ``accuracy_score``,
  ``precision``, ``recall``, ``f1_score``, ``confusion_matrix`` (type unconfirmed: here a list of
  (prediction, label, count)) and ``roc_auc_score`` (name unconfirmed); for regression
  ``mean_squared_error``, ``root_mean_squared_error``, ``mean_average_error`` (mean absolute error),
  ``mean_absolute_percentage_error`` and ``r2_score``;
- custom metrics come last, one double column each, in the order they are configured;
- ``count_delta`` is a double; percentages are on a 0-100 scale (``PERCENT_SCALE``);
- ``quantiles`` holds the 101 quantiles at probabilities 0.00, 0.01, ..., 1.00 (``QUANTILE_PROBS``);
- ``count`` is the number of rows (nulls included) in the window and slice;
- ``frequent_items`` holds the ``FREQUENT_ITEMS_LIMIT`` most frequent values of categorical columns;
- ``num_nan`` counts NaN and infinite values (non-finite values), which no statistic includes;
- ``distinct_count`` is exact for categorical columns and a HyperLogLog estimate (about 2 % error)
  for numeric ones, as Spark's ``approx_count_distinct``, never above the non-null values.
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
CONFUSION_CELL = pa.struct([("prediction", pa.string()), ("label", pa.string()), ("count", pa.int64())])
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
    ("confusion_matrix", pa.list_(CONFUSION_CELL)),
    ("roc_auc_score", pa.float64()),
)

REGRESSION_COLUMNS: tuple[tuple[str, pa.DataType], ...] = (
    ("mean_squared_error", pa.float64()),
    ("root_mean_squared_error", pa.float64()),
    ("mean_average_error", pa.float64()),
    ("mean_absolute_percentage_error", pa.float64()),
    ("r2_score", pa.float64()),
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


def reserved_columns() -> set[str]:
    """Column names of the metric tables that a model-id column or custom metric may not take."""
    groups = (PROFILE_COLUMNS, DRIFT_COLUMNS, CLASSIFICATION_COLUMNS, REGRESSION_COLUMNS)
    return {name for group in groups for name, _ in group}


def quality_columns(quality: str | None) -> tuple[tuple[str, pa.DataType], ...]:
    if quality == "classification":
        return CLASSIFICATION_COLUMNS
    if quality == "regression":
        return REGRESSION_COLUMNS
    return ()


def profile_schema(model_id_col: str | None, quality: str | bool | None,
                   custom_metrics: tuple[str, ...] = ()) -> pa.Schema:
    """Arrow schema of ``<table>_profile_metrics`` for a monitor with these settings.

    ``quality``: "classification", "regression" or None (True/False: classification or none).
    """
    if isinstance(quality, bool):
        quality = "classification" if quality else None
    columns = list(PROFILE_COLUMNS)
    if model_id_col is not None:
        columns.append((model_id_col, pa.string()))
    columns.extend(quality_columns(quality))
    columns.extend((name, pa.float64()) for name in custom_metrics)
    return pa.schema(columns)


def drift_schema(model_id_col: str | None) -> pa.Schema:
    """Arrow schema of ``<table>_drift_metrics`` for a monitor with these settings."""
    columns = list(DRIFT_COLUMNS)
    if model_id_col is not None:
        columns.append((model_id_col, pa.string()))
    return pa.schema(columns)
