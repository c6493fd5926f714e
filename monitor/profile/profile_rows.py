"""Rows of ``<table>_profile_metrics`` from scanned sufficient statistics."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from monitor.profile.quality import classification_quality
from monitor.profile.scan import CONFUSION, CountsKey, ModelKey, Moments, MomentsKey, split_pair
from monitor.profile.schema import (
    ALL_MODELS,
    FREQUENT_ITEMS_LIMIT,
    MEDIAN_INDEX,
    MONITOR_VERSION,
    PERCENT_SCALE,
    TABLE_COLUMN,
)
from monitor.profile.spec import ColumnInfo, ProfileSpec
from monitor.profile.windows import Window

Row = dict[str, Any]


@dataclass(frozen=True)
class Scanned:
    """The sufficient statistics of one table (the baseline, or the monitored table's windows)."""

    moments: dict[MomentsKey, Moments]
    counts: dict[CountsKey, dict[str, int]]

    def models(self, w: int) -> list[ModelKey]:
        """Model keys seen in window ``w``: all models first, then ids in order (NULL id last)."""
        keys = {model for (index, model, _) in self.moments if index == w}
        ids = sorted(k for k in keys if k is not None and k != ALL_MODELS)
        return ([ALL_MODELS] if ALL_MODELS in keys else []) + ids + ([None] if None in keys else [])

    def has(self, w: int, model: ModelKey) -> bool:
        return any(index == w and key == model for (index, key, _) in self.moments)

    def table_count(self, w: int, model: ModelKey, infos: Sequence[ColumnInfo]) -> int:
        for info in infos:
            moments = self.moments.get((w, model, info.name))
            if moments is not None:
                return moments.count
        return 0


def window_struct(window: Window | None) -> dict[str, Any] | None:
    return None if window is None else {"start": window[0], "end": window[1]}


def key_columns(spec: ProfileSpec, model: ModelKey) -> Row:
    """Slice and model-id columns shared by both tables."""
    keys: Row = {"granularity": spec.granularity, "monitor_version": MONITOR_VERSION,
                 "slice_key": None, "slice_value": None}
    if spec.model_id_col is not None:
        keys[spec.model_id_col] = model
    return keys


def percent(part: int | None, count: int) -> float | None:
    return None if part is None or count <= 0 else PERCENT_SCALE * part / count


def distinct_count(info: ColumnInfo, moments: Moments) -> int:
    return moments.distinct_string if info.categorical or not info.numeric else moments.distinct_numeric


def non_null_columns(scanned: Scanned, w: int, model: ModelKey, infos: Sequence[ColumnInfo]) -> list[str]:
    names = []
    for info in infos:
        moments = scanned.moments.get((w, model, info.name))
        if moments is not None and moments.count - moments.num_nulls > 0:
            names.append(info.name)
    return sorted(names)


def _column_row(info: ColumnInfo, moments: Moments, items: dict[str, int] | None) -> Row:
    count = moments.count
    numeric = info.numeric
    quantiles = moments.quantiles if numeric else None
    distinct = distinct_count(info, moments)
    frequent = None
    if items is not None:
        ranked = sorted(items.items(), key=lambda kv: (-kv[1], kv[0]))[:FREQUENT_ITEMS_LIMIT]
        frequent = [{"item": item, "count": n} for item, n in ranked]
    return {
        "column_name": info.name, "count": count, "data_type": info.data_type,
        "num_nulls": moments.num_nulls, "avg": moments.avg if numeric else None, "quantiles": quantiles,
        "min": moments.min if numeric else None, "max": moments.max if numeric else None,
        "stddev": moments.stddev if numeric else None,
        "num_zeros": moments.num_zeros if numeric else None, "num_nan": moments.num_nan if numeric else None,
        "min_length": moments.min_length if info.is_string else None,
        "max_length": moments.max_length if info.is_string else None,
        "avg_length": moments.avg_length if info.is_string else None,
        "non_null_columns": None, "frequent_items": frequent,
        "median": quantiles[MEDIAN_INDEX] if quantiles else None,
        "distinct_count": distinct,
        "percent_nan": percent(moments.num_nan, count) if numeric else None,
        "percent_null": percent(moments.num_nulls, count),
        "percent_zeros": percent(moments.num_zeros, count) if numeric else None,
        "percent_distinct": percent(distinct, count),
    }


def _table_row(spec: ProfileSpec, scanned: Scanned, w: int, model: ModelKey,
               infos: Sequence[ColumnInfo]) -> Row:
    row: Row = {"column_name": TABLE_COLUMN, "count": scanned.table_count(w, model, infos),
                "non_null_columns": non_null_columns(scanned, w, model, infos)}
    if spec.classification:
        pairs = scanned.counts.get((w, model, TABLE_COLUMN, CONFUSION), {})
        quality = classification_quality({split_pair(k): n for k, n in pairs.items()})
        if quality is not None:
            row.update(accuracy_score=quality.accuracy, precision=quality.precision.as_struct(),
                       recall=quality.recall.as_struct(), f1_score=quality.f1.as_struct())
    return row


def profile_rows(spec: ProfileSpec, infos: Sequence[ColumnInfo], scanned: Scanned, w: int, *,
                 window: Window | None, log_type: str) -> list[Row]:
    """All profile rows of window index ``w``: per model key, one row per column and a ``:table`` row."""
    rows: list[Row] = []
    for model in scanned.models(w):
        keys = {"window": window_struct(window), "log_type": log_type,
                "logging_table_commit_version": None, **key_columns(spec, model)}
        for info in infos:
            moments = scanned.moments.get((w, model, info.name))
            if moments is None:
                continue
            items = scanned.counts.get((w, model, info.name, "cat"), {}) if info.categorical else None
            rows.append({**keys, **_column_row(info, moments, items)})
        rows.append({**keys, **_table_row(spec, scanned, w, model, infos)})
    return rows
