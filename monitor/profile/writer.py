"""``write_profile``: Lakehouse-Monitoring-shaped metric tables for the windows that need them.

Incremental and idempotent. A window is written when it has ended (``now``), has rows (or was asked
for explicitly) and is not yet in both metric tables for the current monitor version; with a state
store (:class:`ProfileStore`) a written window whose row count or timestamp checksum changed since
(late rows) is rewritten in place, the baseline's statistics are reused while the baseline table is
unchanged, and the monitor version goes up when the spec changes (every window is then rewritten).
Drift rows of a window are written before its profile rows, so a crash in between leaves the window
"not done" and the next run completes it without duplicates.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

import structlog

from monitor.engines.identifiers import quote_ident
from monitor.profile import tables
from monitor.profile.compute import Computed, compute
from monitor.profile.scan import require_spark
from monitor.profile.schema import drift_schema, profile_schema
from monitor.profile.spec import ProfileResult, ProfileSpec, column_infos
from monitor.profile.store import ProfileStore, WindowState
from monitor.profile.windows import Window, case_sql

log = structlog.get_logger(__name__)
WindowCounts = dict[Window, tuple[int, str]]  # window -> (rows, checksum of its timestamps)


def _utc_window(window: Window) -> Window:
    start, end = window
    if start.tzinfo is None or end.tzinfo is None:
        raise ValueError(f"window {start.isoformat()}..{end.isoformat()} must use timezone-aware UTC times")
    if not start < end:
        raise ValueError(f"window start {start.isoformat()} is not before its end {end.isoformat()}")
    return window


def window_counts(engine: tables.WritableEngine, spec: ProfileSpec, windows: Sequence[Window] | None
                  ) -> WindowCounts:
    """Rows and a timestamp checksum per window: of every window with data, or of ``windows``."""
    ts_sql = f"CAST({quote_ident(spec.timestamp_col)} AS TIMESTAMP)"
    ref = engine.table_ref(spec.table)
    checksum = f"CAST(sum(CAST(unix_micros({ts_sql}) AS DECIMAL(38, 0))) AS STRING)"
    gran = spec.parsed_granularity
    if windows is None:
        start_sql, params = gran.start_sql(ts_sql)
        sql = (f"SELECT {start_sql} AS s, count(1) AS n, {checksum} AS c FROM {ref} "
               f"WHERE {ts_sql} IS NOT NULL GROUP BY 1")
        return {(row["s"], gran.end_of(row["s"])): (int(row["n"]), row["c"] or "0")
                for row in engine.query(sql, params).to_pylist()}
    ordered = sorted(windows)
    found: WindowCounts = dict.fromkeys(ordered, (0, "0"))
    if not ordered:
        return found
    index_sql, params = case_sql(ts_sql, ordered)
    params.update(lo=ordered[0][0], hi=max(w[1] for w in ordered))
    sql = (f"SELECT {index_sql} AS w, count(1) AS n, {checksum} AS c FROM {ref} "
           f"WHERE {ts_sql} >= :lo AND {ts_sql} < :hi GROUP BY 1")
    for row in engine.query(sql, params).to_pylist():
        if int(row["w"]) > 0:
            found[ordered[int(row["w"]) - 1]] = (int(row["n"]), row["c"] or "0")
    return found


@dataclass
class _Done:
    """Which windows are already written, and which of those must be rewritten."""

    targets: list[Window] = field(default_factory=list)
    rewrite: list[Window] = field(default_factory=list)


def _decide(candidates: WindowCounts, present: set[datetime], states: dict[datetime, WindowState] | None,
            version: int, refresh: bool) -> _Done:
    done = _Done()
    for window, (count, checksum) in sorted(candidates.items()):
        written = window[0] in present
        state = None if states is None else states.get(window[0])
        fresh = written and (states is None or (state is not None and state.monitor_version == version
                                                and (state.row_count, state.checksum) == (count, checksum)))
        if fresh and not refresh:
            continue
        done.targets.append(window)
        if written or state is not None:
            done.rewrite.append(window)
    return done


def write_profile(engine: tables.WritableEngine, spec: ProfileSpec, windows: list[Window] | None = None, *,
                  now: datetime | None = None, store: ProfileStore | None = None,
                  refresh: bool = False) -> ProfileResult:
    """Profile the windows of ``spec.table`` that need it (or the given ``windows``) and write their rows
    to ``<table>_profile_metrics`` and ``<table>_drift_metrics``.

    Windows ending after ``now`` (when given) are still open and left for a later run. ``refresh``
    rewrites every window (and the baseline rows) even when nothing changed.
    """
    began = time.perf_counter()
    spark = require_spark(engine)
    profile_table, drift_table = spec.output_tables()
    infos, skipped = column_infos(spec, engine.columns(spec.table))
    version, changed = (spec.monitor_version, False) if store is None else store.monitor_version(
        str(profile_table), spec.fingerprint())
    p_schema = profile_schema(spec.model_id_col, spec.quality, tuple(m.name for m in spec.custom_metrics))
    d_schema = drift_schema(spec.model_id_col)
    reshaped = not (tables.same_columns(engine, profile_table, p_schema)
                    and tables.same_columns(engine, drift_table, d_schema))
    refresh = refresh or changed or reshaped

    explicit = None if windows is None else sorted({_utc_window(w) for w in windows})
    candidates = window_counts(engine, spec, explicit)
    if now is not None:
        candidates = {w: c for w, c in candidates.items() if w[1] <= now}
    present = (tables.written_starts(engine, profile_table, spec.granularity, version, input_only=True)
               & tables.written_starts(engine, drift_table, spec.granularity, version, input_only=False))
    states = None if store is None else store.windows(str(profile_table), spec.granularity)
    plan = _decide(candidates, present, states, version, refresh)
    write_baseline = spec.baseline_table is not None and (
        refresh or not tables.baseline_written(engine, profile_table, spec.granularity, version))
    planned = time.perf_counter()

    result: Computed = compute(spark, spec, infos, plan.targets, candidates, explicit=explicit is not None,
                               store=store, version=version, baseline_rows=write_baseline or store is not None)
    computed = time.perf_counter()
    # a baseline whose statistics had to be computed again (it changed) gets its rows rewritten too
    write_baseline = bool(result.baseline) and (write_baseline or not result.reference_reused)
    starts = [w[0] for w in plan.rewrite]
    tables.rewrite(engine, drift_table, d_schema, granularity=spec.granularity, starts=starts, baseline=False,
                   everything=reshaped)
    tables.rewrite(engine, profile_table, p_schema, granularity=spec.granularity, starts=starts,
                   baseline=write_baseline, everything=reshaped)
    tables.append(engine, drift_table, result.drift, d_schema)
    tables.append(engine, profile_table, (result.baseline if write_baseline else []) + result.profile, p_schema)
    if store is not None and plan.targets:
        store.record_windows(str(profile_table), spec.granularity, version,
                             {w: candidates[w] for w in plan.targets})
    finished = time.perf_counter()
    timings = {"plan": planned - began, **result.timings, "write": finished - computed, "total": finished - began}
    log.info("profile_written", table=spec.table, windows=len(plan.targets), rewritten=len(plan.rewrite),
             baseline=write_baseline, monitor_version=version, profile_rows=len(result.profile),
             drift_rows=len(result.drift), reference_reused=result.reference_reused,
             seconds=round(timings["total"], 3))
    return ProfileResult(profile_table=str(profile_table), drift_table=str(drift_table),
                         windows_written=tuple(plan.targets), baseline_written=write_baseline,
                         profile_rows=len(result.profile) + len(result.baseline) * write_baseline,
                         drift_rows=len(result.drift),
                         windows_rewritten=tuple(plan.rewrite), monitor_version=version,
                         reference_reused=result.reference_reused, skipped_columns=skipped, timings=timings)
