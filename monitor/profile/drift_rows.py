"""Rows of ``<table>_drift_metrics``: the groups of one window against a reference.

BASELINE rows compare with the baseline table's statistics (per model id against the same model's
baseline rows, or the whole baseline when that model has none; per slice against the same slice of
the baseline). CONSECUTIVE rows compare with the same group in the previous window; a group without
traffic in the previous window gets no CONSECUTIVE rows.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from monitor.profile.compare import ColumnComparison, column_drift
from monitor.profile.partials import GroupKey, GroupStats, NumericStats
from monitor.profile.profile_rows import (
    Row,
    distinct_count,
    group_order,
    key_columns,
    non_null_columns,
    percent,
    window_struct,
)
from monitor.profile.schema import ALL_MODELS, TABLE_COLUMN
from monitor.profile.spec import ColumnInfo, ProfileSpec
from monitor.profile.windows import Window


@dataclass(frozen=True)
class DriftReference:
    """What the groups of a window are compared with."""

    drift_type: str  # "BASELINE" or "CONSECUTIVE"
    groups: Mapping[GroupKey, GroupStats]  # keyed like the current window's groups (same window index)
    window: Window | None  # written as window_cmp (None for the baseline)
    fall_back_to_all: bool  # compare a model missing from the reference with all models


def _delta(cur: float | None, ref: float | None) -> float | None:
    return None if cur is None or ref is None else cur - ref


def _mean(group: GroupStats, info: ColumnInfo) -> float | None:
    stats = group.columns.get(info.name)
    return stats.moments.mean if isinstance(stats, NumericStats) and stats.finite > 0 else None


def _nulls(group: GroupStats, name: str) -> int | None:
    stats = group.columns.get(name)
    return None if stats is None else stats.nulls


def _zeros(group: GroupStats, name: str) -> int | None:
    stats = group.columns.get(name)
    return stats.zeros if isinstance(stats, NumericStats) else None


def drift_fields(drift: ColumnComparison) -> Row:
    """The Lakehouse drift columns of a :class:`ColumnComparison` (Hellinger and normed Wasserstein stay out)."""
    return {"js_distance": drift.js_distance,
            "ks_test": None if drift.ks is None else {"statistic": drift.ks.statistic, "pvalue": drift.ks.pvalue},
            "wasserstein_distance": drift.wasserstein, "population_stability_index": drift.psi,
            "chi_squared_test": None if drift.chi_square is None else {
                "statistic": drift.chi_square.statistic, "pvalue": drift.chi_square.pvalue},
            "tv_distance": drift.tv_distance, "l_infinity_distance": drift.l_infinity}


def column_row(info: ColumnInfo, cur: GroupStats, ref: GroupStats) -> Row:
    row: Row = {
        "column_name": info.name, "data_type": info.data_type, "count_delta": float(cur.rows - ref.rows),
        "avg_delta": _delta(_mean(cur, info), _mean(ref, info)),
        "percent_null_delta": _delta(percent(_nulls(cur, info.name), cur.rows),
                                     percent(_nulls(ref, info.name), ref.rows)),
        "percent_zeros_delta": _delta(percent(_zeros(cur, info.name), cur.rows),
                                      percent(_zeros(ref, info.name), ref.rows)),
        "percent_distinct_delta": _delta(percent(distinct_count(info, cur), cur.rows),
                                         percent(distinct_count(info, ref), ref.rows)),
    }
    a, b = ref.columns.get(info.stats_key), cur.columns.get(info.stats_key)
    if a is not None and b is not None:
        row.update(drift_fields(column_drift(a, b)))
    return row


def _reference_group(ref: DriftReference, key: GroupKey) -> GroupStats | None:
    found = ref.groups.get(key)
    if found is None and ref.fall_back_to_all:
        w, _, slice_key, slice_value = key
        found = ref.groups.get((w, ALL_MODELS, slice_key, slice_value))
    return found


def drift_rows(spec: ProfileSpec, infos: Sequence[ColumnInfo], groups: Mapping[GroupKey, GroupStats], *,
               window: Window, ref: DriftReference, monitor_version: int) -> list[Row]:
    """Drift rows of ``groups`` (one window) against ``ref``: per group, columns and ``:table``."""
    rows: list[Row] = []
    for key in sorted(groups, key=group_order):
        cur = groups[key]
        base = _reference_group(ref, key)
        if base is None or base.rows == 0:
            continue
        keys = {"window": window_struct(window), **key_columns(spec, key, monitor_version),
                "window_cmp": window_struct(ref.window), "drift_type": ref.drift_type}
        for info in infos:
            rows.append({**keys, **column_row(info, cur, base)})
        cur_cols, ref_cols = set(non_null_columns(cur, infos)), set(non_null_columns(base, infos))
        rows.append({**keys, "column_name": TABLE_COLUMN, "data_type": None,
                     "count_delta": float(cur.rows - base.rows),
                     "non_null_columns_delta": {"added": len(cur_cols - ref_cols),
                                                "missing": len(ref_cols - cur_cols)}})
    return rows


def reindexed(groups: Mapping[GroupKey, GroupStats], w: int) -> dict[GroupKey, GroupStats]:
    """The groups of one window index, re-keyed to window index ``w``."""
    return {(w, m, sk, sv): g for (_, m, sk, sv), g in groups.items()}


def of_window(groups: Mapping[GroupKey, GroupStats], w: int) -> dict[GroupKey, GroupStats]:
    return {key: g for key, g in groups.items() if key[0] == w}


