"""The Lakehouse Monitoring metric tables as lakewarden reads them (docs/external/lakehouse-monitoring.md).

Everything about the tables' columns that the sources rely on is here, so that it can be corrected
in one place against ``DESCRIBE TABLE`` on a real workspace. Structs are flattened in SQL:
``ks_test.pvalue`` is read as ``ks_pvalue``. Columns the contract does not name are read as metrics
when they are numeric, or structs of numbers (``f1_score.macro``): model quality, fairness and the
monitor's custom metrics all arrive that way. Other unknown columns are left out with a note.
"""

from __future__ import annotations

import re

# Key columns (window, slice, model id) and columns not needed for judging.
KEY_COLUMNS = frozenset({"window", "log_type", "granularity", "slice_key", "slice_value", "column_name",
                         "monitor_version", "logging_table_commit_version", "window_cmp", "drift_type"})
# Known and not judged: 101 quantiles per row (the drift table already compares them); the confusion
# matrix (type unconfirmed; the quality metrics derived from it are read instead).
SKIPPED_COLUMNS = frozenset({"quantiles", "confusion_matrix"})

# Drift table: contract path -> flat name. Statistics absent from a table are skipped by the judge.
DRIFT_FIELDS: dict[str, str] = {
    "data_type": "data_type",
    "count_delta": "count_delta",
    "avg_delta": "avg_delta",
    "percent_null_delta": "percent_null_delta",
    "percent_zeros_delta": "percent_zeros_delta",
    "percent_distinct_delta": "percent_distinct_delta",
    "non_null_columns_delta.added": "columns_added",
    "non_null_columns_delta.missing": "columns_missing",
    "js_distance": "js_distance",
    "population_stability_index": "population_stability_index",
    "ks_test.statistic": "ks_statistic",
    "ks_test.pvalue": "ks_pvalue",
    "wasserstein_distance": "wasserstein_distance",
    "chi_squared_test.statistic": "chi_squared_statistic",
    "chi_squared_test.pvalue": "chi_squared_pvalue",
    "tv_distance": "tv_distance",
    "l_infinity_distance": "l_infinity_distance",
}
DRIFT_NOT_STATISTICS = frozenset({"data_type", "columns_added", "columns_missing"})
DRIFT_REQUIRED = ("window", "granularity", "slice_key", "column_name", "drift_type")

# Profile table: contract column -> flat name; numeric ones also land in ColumnProfile.metrics.
PROFILE_FIELDS: dict[str, str] = {
    "count": "row_count",
    "data_type": "data_type",
    "num_nulls": "num_nulls",
    "num_nan": "num_nan",
    "num_zeros": "num_zeros",
    "distinct_count": "distinct_count",
    "percent_null": "percent_null",
    "non_null_columns": "non_null_columns",
    "frequent_items": "frequent_items",
    "avg": "avg",
    "min": "min",
    "max": "max",
    "stddev": "stddev",
    "median": "median",
    "min_length": "min_length",
    "max_length": "max_length",
    "avg_length": "avg_length",
    "percent_nan": "percent_nan",
    "percent_zeros": "percent_zeros",
    "percent_distinct": "percent_distinct",
}
PROFILE_STATISTICS = ("avg", "min", "max", "stddev", "median", "min_length", "max_length", "avg_length",
                      "percent_nan", "percent_zeros", "percent_distinct")
PROFILE_REQUIRED = ("window", "log_type", "granularity", "slice_key", "column_name", "count")

_NUMERIC = re.compile(r"^(tinyint|smallint|int|bigint|float|double|decimal(\(\d+,\s*\d+\))?)$")


def is_numeric(type_text: str) -> bool:
    return bool(_NUMERIC.match(type_text.strip().lower()))


def struct_fields(type_text: str) -> list[tuple[str, str]] | None:
    """Top-level fields of a ``struct<a:double,b:struct<...>>`` type string, or None for other types."""
    text = type_text.strip()
    if not text.lower().startswith("struct<") or not text.endswith(">"):
        return None
    body, fields, depth, start = text[7:-1], [], 0, 0
    for index, char in enumerate(body + ","):
        if char in "<(":
            depth += 1
        elif char in ">)":
            depth -= 1
        elif char == "," and depth == 0:
            part = body[start:index]
            name, _, kind = part.partition(":")
            if name.strip():
                fields.append((name.strip(), kind.strip()))
            start = index + 1
    return fields


def metric_paths(column: str, type_text: str) -> list[str] | None:
    """The numeric paths of an extra column (``[col]`` or ``[col.field, ...]``), None when not numeric."""
    if is_numeric(type_text):
        return [column]
    fields = struct_fields(type_text)
    if fields and all(is_numeric(kind) for _, kind in fields):
        return [f"{column}.{name}" for name, _ in fields]
    return None


def has_path(columns: dict[str, str], path: str) -> bool:
    """Whether ``columns`` (lower-cased name -> type) has ``a`` or struct field ``a.b``."""
    head, _, field = path.partition(".")
    kind = columns.get(head)
    if kind is None:
        return False
    if not field:
        return True
    return any(name.lower() == field for name, _ in struct_fields(kind) or [])
