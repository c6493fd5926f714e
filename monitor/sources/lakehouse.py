"""Lakehouse metrics source: the windows of a monitor's profile and drift metrics tables that are new or rewritten.

One poll, per granularity (a stream):
1. One small query per table gives every window that ended within ``lookback`` with its row count,
   newest ``monitor_version``, a hash of its rows (and, for the profile table, the logging table's
   commit version): together the window's *version*. A refresh that rewrites a window changes it.
2. Windows whose version differs from the stored one are read (new, late, or rewritten), oldest
   first. A refresh writes the two tables at different moments, so a window is ready once both
   tables have it, or one has it and the other has moved past it (a first window has no
   CONSECUTIVE drift) or holds nothing for the granularity: a half-written window waits for the
   next poll instead of being judged on half its metrics.
3. Rows are read for the whole table, the slices judged (``slices`` and fairness slices), the
   model ids judged (``'*'`` and the listed ones, or all with ``per_model_id``), both drift types,
   plus the baseline's profile rows. Structs are flattened in SQL; columns an older monitor lacks
   are left out (and show as skipped statistics); unknown extra columns become notes.

Metric table names come from config; ``resolve_tables`` is the hook for monitor discovery (the
monitor API's ``profile_metrics_table_name`` and ``drift_metrics_table_name``): when it returns
names they win, when it returns None the configured names are used.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

from config.basics.clock import Clock, utc
from config.models import LakehouseSource, ModelSettings
from monitor.engines.base import Engine, EngineError
from monitor.observations import WindowMetrics
from monitor.sources.base import SourceError, Stream
from monitor.sources.contract import DRIFT_FIELDS, DRIFT_REQUIRED, PROFILE_FIELDS, PROFILE_REQUIRED
from monitor.sources.lakehouse_rows import Key, by_window, deduplicated, drift_row, profile_row, window_metrics
from monitor.sources.lakehouse_sql import Selection, Shape, rows_sql, shape, versions_sql

TableResolver = Callable[[ModelSettings], tuple[str, str] | None]  # -> (profile table, drift table)


class LakehouseMetricsSource:
    kind = "lakehouse"

    def __init__(self, engine: Engine, clock: Clock,
                 resolve_tables: TableResolver | None = None) -> None:
        self._engine = engine
        self._clock = clock
        self._resolve = resolve_tables

    def streams(self, model: ModelSettings) -> list[Stream]:
        cfg = model.sources.lakehouse
        return [] if cfg is None else [Stream(self.kind, g) for g in cfg.all_granularities]

    def horizon(self, model: ModelSettings) -> datetime:
        return self._clock() - _cfg(model).lookback

    def prepare(self, model: ModelSettings) -> None:
        """Nothing to do before reading: the monitor writes the metric tables."""

    def tables(self, model: ModelSettings) -> tuple[str, str]:
        """(profile metrics table, drift metrics table): discovered, else configured."""
        cfg = _cfg(model)
        found = self._resolve(model) if self._resolve is not None else None
        return found if found is not None else (cfg.profile_table, cfg.drift_table)

    def read(self, model: ModelSettings, stream: Stream,
             known: Mapping[Key, str | None] | None = None) -> list[WindowMetrics]:
        """Windows of ``stream`` that are new or whose version differs from ``known``, oldest first."""
        cfg = _cfg(model)
        profile_table, drift_table = self.tables(model)
        try:
            drift = self._shape(drift_table, DRIFT_REQUIRED, cfg, DRIFT_FIELDS)
            profile = (self._shape(profile_table, PROFILE_REQUIRED, cfg, PROFILE_FIELDS)
                       if self._engine.table_exists(profile_table) else None)
            sel = _selection(model, cfg, stream.granularity)
            return self._read(model, stream, sel, drift, profile, dict(known or {}))
        except EngineError as exc:
            raise SourceError(f"model {model.name}: {exc}") from exc

    def _read(self, model: ModelSettings, stream: Stream, sel: Selection, drift: Shape, profile: Shape | None,
              known: dict[Key, str | None]) -> list[WindowMetrics]:
        since = self.horizon(model)
        drift_versions: dict[Key, str] = {}
        profile_versions: dict[Key, str] = {}
        for row in self._query(*versions_sql(drift, profile, sel, since)):
            found = profile_versions if row["tbl"] == "profile" else drift_versions
            key = (utc(row["window_start"]), utc(row["window_end"]))
            found[key] = f"v{row['mv']}:{row['n']}:{row['h']}:{row['cv']}"
        ready = _ready(drift_versions, profile_versions)
        versions = {key: f"{drift_versions.get(key, '-')}|{profile_versions.get(key, '-')}" for key in ready}
        changed = sorted(key for key in ready if key not in known or known[key] != versions[key])
        if not changed:
            return []
        first, last = changed[0][0], changed[-1][0]
        drift_read, dropped = deduplicated(self._query(*rows_sql(drift, sel, first, last, profile=False)))
        drift_rows = by_window(drift_read)
        read, dropped_profile = (deduplicated(self._query(*rows_sql(profile, sel, first, last, profile=True)))
                                 if profile else ([], {}))
        profile_rows = by_window(r for r in read if r["log_type"] == "INPUT")
        baseline = tuple(profile_row(r, profile.extras, "BASELINE") for r in read
                         if r["log_type"] == "BASELINE") if profile else ()
        out = []
        for key in changed:
            notes = [*drift.notes, *(profile.notes if profile else ())]
            if profile is None:
                notes.append(f"no profile metrics table {self.tables(model)[0]}: drift alone is judged")
            elif not profile_rows.get(key):
                notes.append(f"no profile metrics for this window in {profile.table}")
            if not drift_rows.get(key):
                notes.append(f"no drift metrics for this window in {drift.table}")
            if duplicates := dropped.get(key, 0) + dropped_profile.get(key, 0):
                notes.append(f"{duplicates} duplicated metric rows (same window, scope and column) were left out: "
                             "only the newest monitor version's rows are judged")
            out.append(window_metrics(
                model.name, stream.granularity, key, versions[key],
                [drift_row(r, drift.extras) for r in drift_rows.get(key, [])],
                [profile_row(r, profile.extras, "INPUT") for r in profile_rows.get(key, [])] if profile else [],
                baseline, notes, _monitor_version(drift_versions.get(key))))
        return out

    def _shape(self, table: str, required: tuple[str, ...], cfg: LakehouseSource, known: dict[str, str]) -> Shape:
        if not self._engine.table_exists(table):
            raise EngineError(
                f"table {table} does not exist: check sources.lakehouse (table, output_schema or the "
                "*_metrics_table names) and that the monitor has refreshed at least once"
            )
        columns = self._engine.columns(table)
        lower = {c.lower() for c in columns}
        missing = [c for c in required if c not in lower]
        if missing:
            raise EngineError(f"table {table} lacks the expected columns {', '.join(missing)}; "
                              "is it a Lakehouse Monitoring metrics table?")
        if cfg.model_id_column and cfg.model_id_column.lower() not in lower:
            raise EngineError(f"model_id_column {cfg.model_id_column!r} is not a column of {table}")
        return shape(table, self._engine.table_ref(table), columns, cfg.model_id_column, known)

    def _query(self, sql: str, params: dict[str, Any]) -> list[dict[str, Any]]:
        rows: list[dict[str, Any]] = self._engine.query(sql, params).to_pylist()
        return rows


def _cfg(model: ModelSettings) -> LakehouseSource:
    if model.sources.lakehouse is None:
        raise SourceError(f"model {model.name} has no lakehouse source")
    return model.sources.lakehouse


def _selection(model: ModelSettings, cfg: LakehouseSource, granularity: str) -> Selection:
    fairness = model.signals.fairness.slices if model.signals.fairness.enabled else ()
    slices = tuple(dict.fromkeys((*cfg.slices, *fairness)))
    model_ids = () if cfg.per_model_id or not cfg.model_id_column else cfg.all_model_ids
    drift_types = (cfg.drift_type,) if cfg.drift_type in ("BASELINE", "CONSECUTIVE") else ()
    return Selection(granularity, slices, model_ids, drift_types)


def _ready(drift: dict[Key, str], profile: dict[Key, str]) -> list[Key]:
    """Windows in both tables, or in one while the other table has moved past them (or holds nothing)."""
    newest_drift = max((start for start, _ in drift), default=None)
    newest_profile = max((start for start, _ in profile), default=None)
    ready = set(drift) & set(profile)
    ready |= {k for k in drift if k not in profile and (newest_profile is None or newest_profile > k[0])}
    ready |= {k for k in profile if k not in drift and (newest_drift is None or newest_drift > k[0])}
    return sorted(ready)


def _monitor_version(version: str | None) -> int | None:
    if not version:
        return None
    text = version.split(":", 1)[0].removeprefix("v")
    return None if text == "None" else int(text)
