"""Rows of ``<table>_drift_metrics``: one window of the monitored table against a reference.

BASELINE rows compare with the baseline table (bins: the baseline's deciles; per model id against
the same model's baseline rows, or the whole baseline when that model has none). CONSECUTIVE rows
compare with the previous window (bins: that window's deciles). Bins always come from the
all-models reference, so every slice of a column shares them.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from monitor.profile import stats
from monitor.profile.profile_rows import (
    Row,
    Scanned,
    distinct_count,
    key_columns,
    non_null_columns,
    percent,
    window_struct,
)
from monitor.profile.scan import ModelKey, Moments
from monitor.profile.schema import ALL_MODELS, TABLE_COLUMN
from monitor.profile.spec import ColumnInfo, ProfileSpec
from monitor.profile.windows import Window


@dataclass(frozen=True)
class Reference:
    """What a window is compared with."""

    drift_type: str  # "BASELINE" or "CONSECUTIVE"
    scanned: Scanned
    w: int  # window index of the reference inside ``scanned``
    window: Window | None  # written as window_cmp (None for the baseline)
    own_kind: str  # counts of the reference in its own bins ("base" or "self")
    cur_kind: str  # counts of the current window in the reference's bins ("base" or "prev")
    edges: Mapping[str, list[float]]  # reference bin edges per numeric column
    fall_back_to_all: bool  # compare a model missing from the reference with all models


def _delta(cur: float | None, ref: float | None) -> float | None:
    return None if cur is None or ref is None else cur - ref


def _bins(counts: Mapping[str, int], n_bins: int) -> np.ndarray[Any, np.dtype[np.float64]]:
    array = np.zeros(n_bins, dtype=np.float64)
    for key, n in counts.items():
        array[min(int(key), n_bins - 1)] += n
    return array


def _distribution_stats(info: ColumnInfo, ref_counts: Mapping[str, int], cur_counts: Mapping[str, int], *,
                        edges: Sequence[float], ref_m: Moments, cur_m: Moments) -> dict[str, Any]:
    if sum(ref_counts.values()) <= 0 or sum(cur_counts.values()) <= 0:
        return {}
    if info.categorical:
        _, p, q = stats.align_categories(ref_counts, cur_counts)
        chi = stats.chi_square(p, q)
        return {"js_distance": stats.js_distance(p, q),
                "chi_squared_test": {"statistic": chi.statistic, "pvalue": chi.pvalue},
                "tv_distance": stats.tv_distance(p, q),
                "l_infinity_distance": stats.l_infinity_distance(p, q)}
    p, q = _bins(ref_counts, len(edges) + 1), _bins(cur_counts, len(edges) + 1)
    ks = stats.ks_from_bins(p, q)
    result: dict[str, Any] = {"js_distance": stats.js_distance(p, q),
                              "ks_test": {"statistic": ks.statistic, "pvalue": ks.pvalue},
                              "population_stability_index": stats.psi(p, q)}
    if ref_m.quantiles and cur_m.quantiles:
        result["wasserstein_distance"] = stats.wasserstein_from_quantiles(ref_m.quantiles, cur_m.quantiles)
    return result


def _column_row(info: ColumnInfo, ref: Reference, ref_model: ModelKey, *, cur: Scanned, w: int,
                model: ModelKey) -> Row | None:
    cur_m = cur.moments.get((w, model, info.name))
    ref_m = ref.scanned.moments.get((ref.w, ref_model, info.name))
    if cur_m is None or ref_m is None:
        return None
    kind = "cat" if info.categorical else None
    ref_counts = ref.scanned.counts.get((ref.w, ref_model, info.name, kind or ref.own_kind), {})
    cur_counts = cur.counts.get((w, model, info.name, kind or ref.cur_kind), {})
    row: Row = {
        "column_name": info.name, "data_type": info.data_type,
        "count_delta": float(cur_m.count - ref_m.count),
        "avg_delta": _delta(cur_m.avg, ref_m.avg) if info.numeric else None,
        "percent_null_delta": _delta(percent(cur_m.num_nulls, cur_m.count),
                                     percent(ref_m.num_nulls, ref_m.count)),
        "percent_zeros_delta": _delta(percent(cur_m.num_zeros, cur_m.count),
                                      percent(ref_m.num_zeros, ref_m.count)) if info.numeric else None,
        "percent_distinct_delta": _delta(percent(distinct_count(info, cur_m), cur_m.count),
                                         percent(distinct_count(info, ref_m), ref_m.count)),
    }
    edges = ref.edges.get(info.name, [])
    row.update(_distribution_stats(info, ref_counts, cur_counts, edges=edges, ref_m=ref_m, cur_m=cur_m))
    return row


def drift_rows(spec: ProfileSpec, infos: Sequence[ColumnInfo], cur: Scanned, w: int, *, window: Window,
               ref: Reference) -> list[Row]:
    """Drift rows of window index ``w`` of ``cur`` against ``ref``: per model key, columns and ``:table``."""
    rows: list[Row] = []
    for model in cur.models(w):
        if ref.scanned.has(ref.w, model):
            ref_model: ModelKey = model
        elif ref.fall_back_to_all and ref.scanned.has(ref.w, ALL_MODELS):
            ref_model = ALL_MODELS
        else:
            continue
        keys = {"window": window_struct(window), **key_columns(spec, model),
                "window_cmp": window_struct(ref.window), "drift_type": ref.drift_type}
        for info in infos:
            row = _column_row(info, ref, ref_model, cur=cur, w=w, model=model)
            if row is not None:
                rows.append({**keys, **row})
        cur_cols = set(non_null_columns(cur, w, model, infos))
        ref_cols = set(non_null_columns(ref.scanned, ref.w, ref_model, infos))
        rows.append({**keys, "column_name": TABLE_COLUMN, "data_type": None,
                     "count_delta": float(cur.table_count(w, model, infos)
                                          - ref.scanned.table_count(ref.w, ref_model, infos)),
                     "non_null_columns_delta": {"added": len(cur_cols - ref_cols),
                                                "missing": len(ref_cols - cur_cols)}})
    return rows
