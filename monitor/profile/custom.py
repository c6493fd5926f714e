"""Aggregate custom metrics: user SQL aggregates per window, model id and slice, in one query.

Lakehouse Monitoring lets a monitor add aggregate metrics defined as SQL (``avg(...)``, ``sum(...)``
over the window's rows); each becomes a column of the profile table. They cannot run in the numpy
kernel, so all of them go into one extra aggregation with ``GROUPING SETS`` that mirror the kernel's
groups. Templates: ``{{input_column}}``, ``{{prediction_col}}``, ``{{label_col}}`` become quoted
column names.
"""

from __future__ import annotations

from typing import Any

from monitor.engines.base import EngineError
from monitor.engines.identifiers import quote_ident
from monitor.profile.kernel import ALL_MODELS
from monitor.profile.partials import GroupKey
from monitor.profile.scan import Rows, Slices, SparkEngine
from monitor.profile.spec import TABLE_INPUT, CustomMetricDefinition, ProfileError, ProfileSpec

CustomValues = dict[GroupKey, dict[tuple[str, str], float | None]]  # group -> (column, metric) -> value


def _expand(metric: CustomMetricDefinition, column: str, spec: ProfileSpec) -> str:
    sql = metric.definition
    if column != TABLE_INPUT:
        sql = sql.replace("{{input_column}}", quote_ident(column))
    elif "{{input_column}}" in sql:
        raise ProfileError(f"custom metric {metric.name!r} uses {{{{input_column}}}} but its input is ':table'")
    for name, value in (("prediction_col", spec.prediction_col), ("label_col", spec.label_col)):
        token = "{{" + name + "}}"
        if token in sql:
            if value is None:
                raise ProfileError(f"custom metric {metric.name!r} uses {token} but the monitor has no such column")
            sql = sql.replace(token, quote_ident(value))
    return sql


def custom_values(engine: SparkEngine, spec: ProfileSpec, rows: Rows, slices: Slices) -> CustomValues:
    """Every custom metric of ``spec`` for every group of ``rows``; empty without custom metrics."""
    if not spec.custom_metrics:
        return {}
    params: dict[str, Any] = dict(rows.params)
    extra = [f"CAST({rows.window_sql} AS INT) AS __lw_w"]
    keys = ["__lw_w"]
    if spec.model_id_col is not None:
        extra.append(f"CAST({quote_ident(spec.model_id_col)} AS STRING) AS __lw_m")
        keys.append("__lw_m")
    for k, (expr, values) in enumerate(slices):
        params[f"sv{k}"] = list(values) or [""]
        extra.append(f"coalesce(array_position(:sv{k}, CAST(({expr}) AS STRING)), 0) AS __lw_s{k}")
    metrics: list[tuple[str, str, str]] = []  # (alias, column, metric name)
    aggregates = []
    for i, metric in enumerate(spec.custom_metrics):
        for j, column in enumerate(metric.input_columns):
            alias = f"__lw_cm{i}_{j}"
            metrics.append((alias, column, metric.name))
            aggregates.append(f"CAST(({_expand(metric, column, spec)}) AS DOUBLE) AS {alias}")
    model_sets = [keys] if spec.model_id_col is None else [["__lw_w"], keys]
    sets = [list(s) for s in model_sets]
    sets += [[*s, f"__lw_s{k}"] for k in range(len(slices)) for s in model_sets]
    grouping_cols = ["__lw_m"] if spec.model_id_col is not None else []
    grouping_cols += [f"__lw_s{k}" for k in range(len(slices))]
    selected = list(dict.fromkeys(["__lw_w", *grouping_cols]))
    flags = [f"grouping({c}) AS __lw_g_{c}" for c in grouping_cols]
    sql = (f"WITH src AS (SELECT *, {', '.join(extra)} FROM {engine.table_ref(rows.table)} WHERE {rows.where_sql}) "
           f"SELECT {', '.join(selected + flags + aggregates)} FROM src WHERE __lw_w > 0 "
           f"GROUP BY GROUPING SETS ({', '.join('(' + ', '.join(s) + ')' for s in sets)})")
    try:
        table = engine.query(sql, params)
    except EngineError as exc:
        names = [m.name for m in spec.custom_metrics]
        raise ProfileError(f"custom metrics {names} could not be computed on {rows.table}: {exc}") from exc
    result: CustomValues = {}
    for row in table.to_pylist():
        model = ALL_MODELS
        if spec.model_id_col is not None and not row["__lw_g___lw_m"]:
            model = row["__lw_m"]
        slice_key = slice_value = None
        for k, (expr, values) in enumerate(slices):
            if not row[f"__lw_g___lw_s{k}"]:
                code = int(row[f"__lw_s{k}"])
                if code == 0:
                    break
                slice_key, slice_value = expr, values[code - 1]
        else:
            key: GroupKey = (int(row["__lw_w"]), model, slice_key, slice_value)
            result[key] = {(column, name): row[alias] for alias, column, name in metrics}
    return result
