"""``write_profile``: compute Lakehouse-Monitoring-shaped metric tables with Spark SQL and append them.

Incremental and idempotent: a window already in the profile table is not profiled again, a window
already in the drift table gets no new drift rows, and baseline profile rows are written once. The
drift rows of a window are written before its profile rows, so a crash in between leaves the window
"not done" and the next run completes it without duplicates. Late rows for a written window are not
picked up (a later version will rewrite windows in place).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

import pyarrow as pa
import structlog

from monitor.engines.identifiers import TableName, quote_ident
from monitor.engines.local_spark import LocalSparkEngine
from monitor.profile.drift_rows import Reference, drift_rows
from monitor.profile.profile_rows import Row, Scanned, profile_rows
from monitor.profile.scan import Edges, Moments, MomentsKey, Source, scan_counts, scan_moments
from monitor.profile.schema import ALL_MODELS, DECILE_INDEXES, MONITOR_VERSION, drift_schema, profile_schema
from monitor.profile.spec import ColumnInfo, ProfileResult, ProfileSpec, column_infos
from monitor.profile.stats import bin_edges
from monitor.profile.windows import Granularity, Window, case_sql

log = structlog.get_logger(__name__)


def _utc_window(window: Window) -> Window:
    start, end = window
    if start.tzinfo is None or end.tzinfo is None:
        raise ValueError(f"window {start.isoformat()}..{end.isoformat()} must use timezone-aware UTC times")
    if not start < end:
        raise ValueError(f"window start {start.isoformat()} is not before its end {end.isoformat()}")
    return window


def _existing_starts(engine: LocalSparkEngine, table: TableName, spec: ProfileSpec,
                     input_only: bool) -> set[datetime]:
    if not engine.table_exists(str(table)):
        return set()
    log_filter = " AND log_type = 'INPUT'" if input_only else ""
    sql = (f"SELECT DISTINCT `window`.start AS s FROM {engine.table_ref(str(table))} "
           f"WHERE `window` IS NOT NULL AND granularity = :g AND monitor_version = :v{log_filter}")
    rows = engine.query(sql, {"g": spec.granularity, "v": MONITOR_VERSION}).to_pylist()
    return {row["s"] for row in rows}


def _baseline_written(engine: LocalSparkEngine, table: TableName, spec: ProfileSpec) -> bool:
    if not engine.table_exists(str(table)):
        return False
    sql = (f"SELECT count(1) AS n FROM {engine.table_ref(str(table))} "
           "WHERE log_type = 'BASELINE' AND granularity = :g AND monitor_version = :v")
    return int(engine.query(sql, {"g": spec.granularity, "v": MONITOR_VERSION}).column("n")[0].as_py()) > 0


def _windows_with_data(engine: LocalSparkEngine, gran: Granularity, table_sql: str,
                       ts_sql: str) -> list[Window]:
    start_sql, params = gran.start_sql(ts_sql)
    sql = f"SELECT DISTINCT {start_sql} AS s FROM {table_sql} WHERE {ts_sql} IS NOT NULL"
    starts = sorted(row["s"] for row in engine.query(sql, params).to_pylist())
    return [(start, gran.end_of(start)) for start in starts]


def _edges(moments: Mapping[MomentsKey, Moments], w: int, name: str) -> list[float]:
    found = moments.get((w, ALL_MODELS, name))
    if found is None or not found.quantiles:
        return []
    return bin_edges([found.quantiles[i] for i in DECILE_INDEXES])


def _binned(infos: Sequence[ColumnInfo]) -> list[str]:
    return [info.name for info in infos if not info.categorical]


def _scan_baseline(engine: LocalSparkEngine, spec: ProfileSpec, baseline_table: str,
                   infos: Sequence[ColumnInfo]) -> tuple[Scanned, dict[str, list[float]], list[ColumnInfo]]:
    schema = engine.columns(baseline_table)
    b_infos = [info for info in infos if info.name in schema]
    model = spec.model_id_col if spec.model_id_col in schema else None
    source = Source(engine.table_ref(baseline_table), "1", quote_ident(model) if model else None)
    moments = scan_moments(engine, source, b_infos)
    edges = {name: _edges(moments, 1, name) for name in _binned(b_infos)}
    confusion = _confusion(spec, schema)
    counts = scan_counts(engine, source, b_infos, Edges(base=edges), confusion)
    return Scanned(moments, counts), edges, b_infos


def _confusion(spec: ProfileSpec, schema: Mapping[str, str]) -> tuple[str, str] | None:
    if spec.prediction_col is None or spec.label_col is None:
        return None
    if spec.prediction_col not in schema or spec.label_col not in schema:
        return None
    return (spec.prediction_col, spec.label_col)


def _write(engine: LocalSparkEngine, table: TableName, rows: list[Row], schema: pa.Schema) -> None:
    if rows:
        engine.write(str(table), pa.Table.from_pylist(rows, schema=schema), mode="append")


@dataclass(frozen=True)
class _Windows:
    """The windows to write (``targets``), their previous windows, and all windows to scan."""

    targets: list[Window]
    previous: dict[Window, Window]
    scanned: list[Window]

    @property
    def index(self) -> dict[Window, int]:
        return {w: i for i, w in enumerate(self.scanned, start=1)}


def _plan(gran: Granularity, candidates: list[Window], targets: list[Window], explicit: bool) -> _Windows:
    previous = {w: (gran.previous_start(w[0]), w[0]) for w in targets}
    known = set(candidates)
    extra = {p for p in previous.values() if explicit or p in known}
    return _Windows(targets, previous, sorted(set(targets) | extra))


def _scan_windows(engine: LocalSparkEngine, spec: ProfileSpec, infos: Sequence[ColumnInfo],
                  plan: _Windows, *, explicit: bool, base_edges: dict[str, list[float]],
                  confusion: tuple[str, str] | None) -> tuple[Scanned, dict[str, list[list[float]]]]:
    """Moments and counts of every scanned window in two aggregations; also the windows' own edges."""
    ts_sql = f"CAST({quote_ident(spec.timestamp_col)} AS TIMESTAMP)"
    windows, index = plan.scanned, plan.index
    if explicit:
        assign, params = case_sql(ts_sql, windows)
    else:
        start_sql, params = spec.parsed_granularity.start_sql(ts_sql)
        assign = f"array_position(:starts, {start_sql})"
        params["starts"] = [w[0] for w in windows]
    params.update(lo=windows[0][0], hi=max(w[1] for w in windows))
    model_sql = quote_ident(spec.model_id_col) if spec.model_id_col else None
    source = Source(engine.table_ref(spec.table), assign, model_sql, f"{ts_sql} >= :lo AND {ts_sql} < :hi",
                    params)
    moments = scan_moments(engine, source, infos)
    own = {name: [_edges(moments, index[w], name) for w in windows] for name in _binned(infos)}
    prev = {name: [own[name][index[plan.previous[w]] - 1] if plan.previous.get(w) in index else []
                   for w in windows] for name in own}
    counts = scan_counts(engine, source, infos, Edges(base=base_edges, own=own, prev=prev), confusion)
    return Scanned(moments, counts), own


def write_profile(engine: LocalSparkEngine, spec: ProfileSpec, windows: list[Window] | None = None,
                  *, now: datetime | None = None) -> ProfileResult:
    """Profile the windows of ``spec.table`` not yet written (or the given ``windows``) and append
    their rows to ``<table>_profile_metrics`` and ``<table>_drift_metrics``.

    Windows ending after ``now`` (when given) are still open and left for a later run.
    """
    gran = spec.parsed_granularity
    profile_table, drift_table = spec.output_tables()
    schema = engine.columns(spec.table)
    infos = column_infos(spec, schema)
    if windows is None:
        ts_sql = f"CAST({quote_ident(spec.timestamp_col)} AS TIMESTAMP)"
        candidates = _windows_with_data(engine, gran, engine.table_ref(spec.table), ts_sql)
    else:
        candidates = sorted({_utc_window(w) for w in windows})
    if now is not None:
        candidates = [w for w in candidates if w[1] <= now]
    done_profile = _existing_starts(engine, profile_table, spec, input_only=True)
    done_drift = _existing_starts(engine, drift_table, spec, input_only=False)
    targets = [w for w in candidates if w[0] not in done_profile or w[0] not in done_drift]
    write_baseline = spec.baseline_table is not None and not _baseline_written(engine, profile_table, spec)

    profile: list[Row] = []
    drift: list[Row] = []
    baseline: Scanned | None = None
    base_edges: dict[str, list[float]] = {}
    if spec.baseline_table is not None and (targets or write_baseline):
        baseline, base_edges, b_infos = _scan_baseline(engine, spec, spec.baseline_table, infos)
        if write_baseline:
            profile += profile_rows(spec, b_infos, baseline, 1, window=None, log_type="BASELINE")

    if targets:
        plan = _plan(gran, candidates, targets, explicit=windows is not None)
        cur, own = _scan_windows(engine, spec, infos, plan, explicit=windows is not None,
                                 base_edges=base_edges, confusion=_confusion(spec, schema))
        index = plan.index
        for window in targets:
            w = index[window]
            if window[0] not in done_profile:
                profile += profile_rows(spec, infos, cur, w, window=window, log_type="INPUT")
            if window[0] in done_drift:
                continue
            if baseline is not None:
                ref = Reference("BASELINE", baseline, 1, None, "base", "base", base_edges, True)
                drift += drift_rows(spec, infos, cur, w, window=window, ref=ref)
            p = index.get(plan.previous[window])
            if p is not None:
                edges = {name: own[name][p - 1] for name in own}
                ref = Reference("CONSECUTIVE", cur, p, plan.previous[window], "self", "prev", edges, False)
                drift += drift_rows(spec, infos, cur, w, window=window, ref=ref)

    _write(engine, drift_table, drift, drift_schema(spec.model_id_col))
    _write(engine, profile_table, profile, profile_schema(spec.model_id_col, spec.classification))
    written = tuple(w for w in targets if _has_rows(profile, w) or _has_rows(drift, w))
    log.info("profile_written", table=spec.table, windows=len(written), baseline=write_baseline,
             profile_rows=len(profile), drift_rows=len(drift))
    return ProfileResult(profile_table=str(profile_table), drift_table=str(drift_table),
                         windows_written=written, baseline_written=write_baseline and baseline is not None,
                         profile_rows=len(profile), drift_rows=len(drift))


def _has_rows(rows: list[Row], window: Window) -> bool:
    """True when ``rows`` hold a row for ``window``."""
    target = {"start": window[0], "end": window[1]}
    return any(row.get("window") == target for row in rows)
