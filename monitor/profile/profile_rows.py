"""Rows of ``<table>_profile_metrics`` from the merged statistics of one group."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from monitor.profile import hll
from monitor.profile.partials import CategoricalStats, GroupKey, GroupStats, NumericStats
from monitor.profile.quality import classification_quality, regression_quality, roc_auc
from monitor.profile.schema import (
    ALL_MODELS,
    FREQUENT_ITEMS_LIMIT,
    MEDIAN_INDEX,
    PERCENT_SCALE,
    QUANTILE_PROBS,
    TABLE_COLUMN,
)
from monitor.profile.spec import ColumnInfo, ProfileSpec, category_key
from monitor.profile.windows import Window

Row = dict[str, Any]
_PROBS = np.asarray(QUANTILE_PROBS, dtype=np.float64)


def window_struct(window: Window | None) -> dict[str, Any] | None:
    return None if window is None else {"start": window[0], "end": window[1]}


def key_columns(spec: ProfileSpec, key: GroupKey, monitor_version: int) -> Row:
    """Slice and model-id columns shared by both tables."""
    _, model, slice_key, slice_value = key
    keys: Row = {"granularity": spec.granularity, "monitor_version": monitor_version,
                 "slice_key": slice_key, "slice_value": slice_value}
    if spec.model_id_col is not None:
        keys[spec.model_id_col] = model
    return keys


def percent(part: int | None, count: int) -> float | None:
    return None if part is None or count <= 0 else PERCENT_SCALE * part / count


def distinct_count(info: ColumnInfo, group: GroupStats) -> int | None:
    cats = group.columns.get(category_key(info.name) if info.numeric else info.name)
    if isinstance(cats, CategoricalStats):
        return len(cats.counts) + (1 if cats.other else 0)
    numeric = group.columns.get(info.name)
    if not isinstance(numeric, NumericStats):
        return None
    # an estimate can exceed the values there are (all-distinct columns: scores, ids); it never says more
    return min(hll.estimate(numeric.registers), max(group.rows - numeric.nulls, 0))


def non_null_columns(group: GroupStats, infos: Sequence[ColumnInfo]) -> list[str]:
    names = []
    for info in infos:
        stats = group.columns.get(info.name)
        if stats is not None and group.rows - stats.nulls > 0:
            names.append(info.name)
    return sorted(names)


def _numeric(stats: NumericStats, count: int) -> Row:
    finite = stats.finite > 0
    quantiles = [float(v) for v in stats.hist.quantiles(_PROBS, stats.min, stats.max)] if finite else None
    return {"avg": stats.moments.mean if finite else None, "quantiles": quantiles,
            "min": stats.min if finite else None, "max": stats.max if finite else None,
            "stddev": stats.moments.stddev, "num_zeros": stats.zeros, "num_nan": stats.nan + stats.inf,
            "median": quantiles[MEDIAN_INDEX] if quantiles else None,
            "percent_nan": percent(stats.nan + stats.inf, count), "percent_zeros": percent(stats.zeros, count)}


def _items(stats: CategoricalStats) -> list[dict[str, Any]]:
    ranked = sorted(stats.counts.items(), key=lambda kv: (-kv[1], kv[0]))[:FREQUENT_ITEMS_LIMIT]
    return [{"item": item, "count": n} for item, n in ranked]


def column_row(info: ColumnInfo, group: GroupStats) -> Row:
    count = group.rows
    stats = group.columns.get(info.name)
    row: Row = {"column_name": info.name, "count": count, "data_type": info.data_type,
                "num_nulls": stats.nulls if stats is not None else (0 if count == 0 else None)}
    if isinstance(stats, NumericStats):
        row.update(_numeric(stats, count))
    cats = group.columns.get(info.stats_key) if info.categorical else None
    if isinstance(cats, CategoricalStats):
        row["frequent_items"] = _items(cats)
        if info.is_string and cats.min_length is not None:
            row.update(min_length=float(cats.min_length), max_length=float(cats.max_length or 0),
                       avg_length=cats.total_length / cats.non_null if cats.non_null else None)
    distinct = distinct_count(info, group) if stats is not None else None
    row.update(distinct_count=distinct, percent_distinct=percent(distinct, count),
               percent_null=percent(row["num_nulls"], count))
    return row


def _quality(spec: ProfileSpec, group: GroupStats) -> Row:
    q = group.quality
    if q is None:
        return {}
    if spec.quality == "classification":
        found = classification_quality(q.confusion)
        if found is None:
            return {}
        cells = sorted(q.confusion.items())
        return {"accuracy_score": found.accuracy, "precision": found.precision.as_struct(),
                "recall": found.recall.as_struct(), "f1_score": found.f1.as_struct(),
                "confusion_matrix": [{"prediction": p, "label": label, "count": n} for (p, label), n in cells],
                "roc_auc_score": roc_auc(q.scores, spec.positive_label) if q.scores else None}
    reg = regression_quality(q.regression)
    if reg is None:
        return {}
    return {"mean_squared_error": reg.mean_squared_error, "root_mean_squared_error": reg.root_mean_squared_error,
            "mean_average_error": reg.mean_average_error,
            "mean_absolute_percentage_error": reg.mean_absolute_percentage_error, "r2_score": reg.r2_score}


def table_row(spec: ProfileSpec, group: GroupStats, infos: Sequence[ColumnInfo]) -> Row:
    return {"column_name": TABLE_COLUMN, "count": group.rows, "non_null_columns": non_null_columns(group, infos),
            **_quality(spec, group)}


def profile_rows(spec: ProfileSpec, infos: Sequence[ColumnInfo], groups: Mapping[GroupKey, GroupStats], *,
                 window: Window | None, log_type: str, monitor_version: int,
                 custom: Mapping[GroupKey, Mapping[tuple[str, str], float | None]] | None = None) -> list[Row]:
    """Profile rows of ``groups`` (all of one window): per group, one row per column and a ``:table`` row."""
    rows: list[Row] = []
    for key in sorted(groups, key=group_order):
        group = groups[key]
        base = {"window": window_struct(window), "log_type": log_type, "logging_table_commit_version": None,
                **key_columns(spec, key, monitor_version)}
        metrics = (custom or {}).get(key, {})
        for info in infos:
            rows.append({**base, **column_row(info, group), **_custom(metrics, info.name)})
        rows.append({**base, **table_row(spec, group, infos), **_custom(metrics, TABLE_COLUMN)})
    return rows


def _custom(metrics: Mapping[tuple[str, str], float | None], column: str) -> Row:
    return {name: value for (col, name), value in metrics.items() if col == column}


def group_order(key: GroupKey) -> tuple[Any, ...]:
    """Whole table before slices; all models first, then model ids, NULL model id last."""
    _, model, slice_key, slice_value = key
    rank = 0 if model == ALL_MODELS else (2 if model is None else 1)
    return (slice_key is not None, slice_key or "", slice_value or "", rank, model or "")
