"""Compute the metric rows of some windows: reference statistics, one scan, then small-array statistics.

This is the part of ``write_profile`` that touches data; the bench times it (fit = the reference,
calculate = the windows) apart from writing the tables.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from monitor.engines.identifiers import quote_ident
from monitor.profile.custom import custom_values
from monitor.profile.drift_rows import DriftReference, drift_rows, of_window, reindexed
from monitor.profile.partials import GroupKey, GroupStats
from monitor.profile.profile_rows import Row, profile_rows
from monitor.profile.reference import compute_reference
from monitor.profile.scan import Rows, SparkEngine, scan, slice_values
from monitor.profile.schema import ALL_MODELS
from monitor.profile.spec import ColumnInfo, ProfileSpec
from monitor.profile.store import ProfileStore
from monitor.profile.windows import Window, case_sql


@dataclass(frozen=True)
class Computed:
    profile: list[Row]  # INPUT rows of the target windows
    baseline: list[Row]  # BASELINE rows (empty without a baseline table)
    drift: list[Row]
    reference_reused: bool
    timings: Mapping[str, float] = field(default_factory=dict)
    groups: Mapping[GroupKey, GroupStats] = field(default_factory=dict)  # scanned windows, by window index
    index: Mapping[Window, int] = field(default_factory=dict)  # window -> its index in ``groups``


def _rows(spec: ProfileSpec, scanned: list[Window], explicit: bool) -> Rows:
    ts_sql = f"CAST({quote_ident(spec.timestamp_col)} AS TIMESTAMP)"
    params: dict[str, Any]
    if explicit:
        window_sql, params = case_sql(ts_sql, scanned)
    else:
        start_sql, params = spec.parsed_granularity.start_sql(ts_sql)
        window_sql = f"coalesce(array_position(:starts, {start_sql}), 0)"
        params["starts"] = [w[0] for w in scanned]
    params.update(lo=scanned[0][0], hi=max(w[1] for w in scanned))
    return Rows(spec.table, window_sql, f"{ts_sql} >= :lo AND {ts_sql} < :hi", params, windows=tuple(scanned),
                timestamp_col=spec.timestamp_col, reader=spec.reader)


def scan_windows(engine: SparkEngine, spec: ProfileSpec, infos: Sequence[ColumnInfo], windows: list[Window],
                 explicit: bool) -> tuple[dict[GroupKey, GroupStats], dict[GroupKey, dict[tuple[str, str], Any]]]:
    """Statistics (and custom metrics) of every group of ``windows``, keyed by 1-based window index."""
    rows = _rows(spec, windows, explicit)
    slices = slice_values(engine, spec, rows)
    return scan(engine, spec, infos, rows, slices), custom_values(engine, spec, rows, slices)


def compute(engine: SparkEngine, spec: ProfileSpec, infos: Sequence[ColumnInfo], targets: list[Window],
            candidates: Mapping[Window, Any], *, explicit: bool, store: ProfileStore | None, version: int,
            baseline_rows: bool = True) -> Computed:
    """Rows for ``targets``: profile (INPUT), drift (BASELINE, CONSECUTIVE) and, if asked, BASELINE profile."""
    began = time.perf_counter()
    ref = None
    if spec.baseline_table is not None and (targets or baseline_rows):
        ref = compute_reference(engine, spec, tuple(infos), store)
    fitted = time.perf_counter()
    gran = spec.parsed_granularity
    previous: dict[Window, Window] = {w: (gran.previous_start(w[0]), w[0]) for w in targets}
    scanned = sorted(set(targets) | {p for p in previous.values() if explicit or p in candidates})
    index = {w: i for i, w in enumerate(scanned, start=1)}
    groups: dict[GroupKey, GroupStats] = {}
    custom: dict[GroupKey, dict[tuple[str, str], Any]] = {}
    if targets:
        groups, custom = scan_windows(engine, spec, infos, scanned, explicit)
    scanned_at = time.perf_counter()

    profile: list[Row] = []
    drift: list[Row] = []
    for window in targets:
        w = index[window]
        current = of_window(groups, w) or {(w, ALL_MODELS, None, None): GroupStats()}  # an empty window
        profile += profile_rows(spec, infos, current, window=window, log_type="INPUT", monitor_version=version,
                                custom=custom)
        if ref is not None:
            base = DriftReference("BASELINE", reindexed(ref.stats.groups, w), None, fall_back_to_all=True)
            drift += drift_rows(spec, infos, current, window=window, ref=base, monitor_version=version)
        p = index.get(previous[window])
        if p is not None:
            before = DriftReference("CONSECUTIVE", reindexed(of_window(groups, p), w), previous[window],
                                    fall_back_to_all=False)
            drift += drift_rows(spec, infos, current, window=window, ref=before, monitor_version=version)
    baseline: list[Row] = []
    if ref is not None and baseline_rows:
        baseline = profile_rows(spec, ref.infos, ref.stats.groups, window=None, log_type="BASELINE",
                                monitor_version=version, custom=ref.stats.custom)
    done = time.perf_counter()
    return Computed(profile, baseline, drift, reference_reused=ref is not None and ref.reused,
                    timings={"reference": fitted - began, "scan": scanned_at - fitted, "statistics": done - scanned_at},
                    groups=groups, index=index)

