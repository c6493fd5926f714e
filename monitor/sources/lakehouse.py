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

With ``replay`` (``lakewarden check --as-of``), windows that end after the clock's time are left
out: at that time they did not exist yet.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from typing import Any

from config.basics.clock import Clock, utc
from config.models import LakehouseSource, ModelSettings
from config.service import POLL_BATCH_TABLES
from monitor.engines.base import Engine, EngineError
from monitor.observations import TABLE_COLUMN, InvalidValue, Newest, WindowMetrics
from monitor.sources.base import SourceError, Stream
from monitor.sources.baseline_rule import baseline_rows
from monitor.sources.contract import DRIFT_FIELDS, DRIFT_REQUIRED, PROFILE_FIELDS, PROFILE_REQUIRED
from monitor.sources.lakehouse_batch import VersionsJob, probe_sql, rows_all_sql, split_rows, versions_batch_sql
from monitor.sources.lakehouse_cache import (
    LakehouseCache,
    Runner,
    Versions,
    View,
    Windows,
    parse_versions,
    split_versions,
)
from monitor.sources.lakehouse_rows import Key, by_window, deduplicated, drift_row, profile_row, window_metrics
from monitor.sources.lakehouse_sql import Selection, Shape, newest_sql, shape, versions_sql
from monitor.sources.validity import Checker, wrong_types

TableResolver = Callable[[ModelSettings], tuple[str, str] | None]  # -> (profile table, drift table)
WINDOWS_PER_READ = 24  # changed windows read by one statement (a day of hourly windows)


class LakehouseMetricsSource:
    kind = "lakehouse"

    def __init__(self, engine: Engine, clock: Clock,
                 resolve_tables: TableResolver | None = None, replay: bool = False, *,
                 windows_per_read: int = WINDOWS_PER_READ, batch_tables: int = POLL_BATCH_TABLES) -> None:
        self.engine = engine  # public, as the cache reads it (``lakehouse_cache.CachedSource``)
        self._per_read = max(1, windows_per_read)
        self._clock = clock
        self._resolve = resolve_tables
        self.replay = replay
        self._cached = LakehouseCache(self, batch_tables)
        # (model, stream) -> per table, its newest window as this poll's versions query saw it: the
        # freshness source asks ``newest`` right after ``read``, and need not query again.
        self._seen: dict[tuple[str, str], dict[str, Key | None]] = {}

    def _until(self) -> datetime | None:
        return self._clock() if self.replay else None

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
        return self.read_many(model, [stream], {stream.name: known or {}})[stream.name]

    def read_many(self, model: ModelSettings, streams: Sequence[Stream],
                  known: Mapping[str, Mapping[Key, str | None]]) -> dict[str, list[WindowMetrics]]:
        """Per stream, the windows that are new or whose version differs from ``known``, oldest first.

        At most two statements for all the streams: the versions (none when the tables did not change
        since the previous poll, or when the cycle's prefetch read them), then the rows of every
        changed window of every stream, both tables (none when nothing changed)."""
        cfg = _cfg(model)
        try:
            view = self._cached.view(model, [s.granularity for s in streams])
            if view is None:
                versions = self._cached.versions(model)  # before the read: a change after it shows next time
                drift, profile = self._shapes(model, cfg)
                view = self._cached.keep(model, self._query_versions(model, drift, profile, streams, versions))
            return self._read(model, cfg, streams, view, known)
        except EngineError as exc:
            self._cached.forget(model)  # a table dropped or its columns changed: everything afresh next time
            raise SourceError(f"model {model.name}: {exc}") from exc
        finally:
            self._cached.done(model)

    # -- for the cache's batches (``lakehouse_cache``) -------------------------------------------

    def shapes_of(self, model: ModelSettings) -> tuple[Shape, Shape | None]:
        return self._shapes(model, _cfg(model))

    def versions_job(self, model: ModelSettings, drift: Shape, profile: Shape | None, stream: Stream) -> VersionsJob:
        return drift, profile, _selection(model, _cfg(model), stream.granularity), self.horizon(model)

    def run_versions(self, jobs: Sequence[VersionsJob]) -> dict[int, Windows]:
        return split_versions(self._query(*versions_batch_sql(jobs)), [(j[0], j[1]) for j in jobs])

    def run_probe(self, refs: Sequence[str]) -> list[dict[str, Any]]:
        return self._query(probe_sql(refs), {})

    def prefetch(self, models: Sequence[ModelSettings], run: Runner, parallel: int = 1) -> None:
        """Before a batch of polls (``monitor.poll_pool``): the tables' versions, then the per-window
        versions of every model whose tables changed, many models per statement. What fails here is
        left to each model's own poll, which reports it."""
        if self.replay:
            return
        self._cached.prefetch([m for m in models if m.sources.lakehouse is not None], run, parallel)

    def _shapes(self, model: ModelSettings, cfg: LakehouseSource) -> tuple[Shape, Shape | None]:
        """The drift table's shape, and the profile table's where it exists (kept a while: ``LakehouseCache``)."""
        profile_table, drift_table = self.tables(model)
        drift = self._cached.shape(drift_table) or self._shape(drift_table, DRIFT_REQUIRED, cfg, DRIFT_FIELDS)
        profile = self._cached.shape(profile_table)
        if profile is None and self.engine.table_exists(profile_table):
            profile = self._shape(profile_table, PROFILE_REQUIRED, cfg, PROFILE_FIELDS)
        self._cached.shaped(drift, profile)
        return drift, profile

    def _query_versions(self, model: ModelSettings, drift: Shape, profile: Shape | None,
                        streams: Sequence[Stream], versions: Versions | None = None) -> View:
        """One statement: the per-window versions of every stream's granularity."""
        jobs = [self.versions_job(model, drift, profile, s) for s in streams]
        if self.replay:
            return View(self.tables(model), None, drift, profile, {
                s.granularity: parse_versions(self._query(*versions_sql(drift, profile, job[2], job[3], self._until())),
                                              drift, profile)
                for s, job in zip(streams, jobs, strict=True)})
        found = self.run_versions(jobs)
        return View(self.tables(model), versions, drift, profile,
                    {s.granularity: found.get(i, Windows()) for i, s in enumerate(streams)})

    def newest(self, model: ModelSettings, stream: Stream) -> Newest | None:
        """The stream's newest window in the metric tables, whenever it ended: the older of the two
        tables' newest (a window is judged once both have it), in the table that lags."""
        cfg = _cfg(model)
        profile_table, drift_table = self.tables(model)
        names = {"drift": drift_table, "profile": profile_table}
        seen = self._seen.pop((model.name, stream.name), None)
        if seen is not None and all(key is not None for key in seen.values()):
            # Every table had a window within lookback: the newest of those is its newest of all (the same
            # selection, and windows that end later are in lookback too), so the poll's read already knows.
            found = [(key[1], key[0], names[tbl]) for tbl, key in seen.items() if key is not None]
        else:
            try:
                drift, profile = self._shapes(model, cfg)
                rows = self._query(*newest_sql(drift, profile, _selection(model, cfg, stream.granularity),
                                               self._until()))
            except EngineError as exc:
                raise SourceError(f"model {model.name}: {exc}") from exc
            found = [(utc(r["window_end"]), utc(r["window_start"]), names[r["tbl"]]) for r in rows
                     if r["window_end"] is not None and r["window_start"] is not None]
        if not found:
            return Newest(stream.name, drift_table, stream.granularity)
        end, start, table = min(found)
        return Newest(stream.name, table, stream.granularity, start, end)

    def _read(self, model: ModelSettings, cfg: LakehouseSource, streams: Sequence[Stream], view: View,
              known: Mapping[str, Mapping[Key, str | None]]) -> dict[str, list[WindowMetrics]]:
        since = self.horizon(model)
        plans: dict[str, tuple[Windows, dict[Key, str], list[Key], list[InvalidValue]]] = {}
        for stream in streams:
            found = view.windows[stream.granularity].since(since)
            self._seen[(model.name, stream.name)] = {
                "drift": max(found.drift, key=lambda k: k[1], default=None),
                **({"profile": max(found.profile, key=lambda k: k[1], default=None)} if view.profile else {})}
            undated = null_windows(model, found.counts, stream.granularity)
            ready = _ready(found.drift, found.profile)
            versions = {key: f"{found.drift.get(key, '-')}|{found.profile.get(key, '-')}" for key in ready}
            mine = known.get(stream.name) or {}
            changed = sorted(key for key in ready if key not in mine or mine[key] != versions[key])
            plans[stream.name] = (found, versions, changed, undated)
        todo = {s.granularity: plans[s.name][2] for s in streams if plans[s.name][2]}
        if not todo:
            return {s.name: [] for s in streams}
        # One statement for every granularity and both tables, ``windows_per_read`` windows of each
        # granularity at most (no statement grows with the lookback); the baseline with the first.
        sel = _selection(model, cfg, streams[0].granularity)
        drift_of: dict[str | None, list[dict[str, Any]]] = {}
        profile_of: dict[str | None, list[dict[str, Any]]] = {}
        per = self._per_read
        for k in range(max(-(-len(keys) // per) for keys in todo.values())):
            ranges = {g: (keys[k * per][0], keys[min(len(keys), (k + 1) * per) - 1][0])
                      for g, keys in todo.items() if len(keys) > k * per}
            sql, params, names = rows_all_sql(view.drift, view.profile, sel, ranges, baseline=k == 0)
            parts = split_rows(self._query(sql, params), names)
            for g, rows in parts["drift"].items():
                drift_of.setdefault(g, []).extend(rows)
            for g, rows in parts.get("profile", {}).items():
                profile_of.setdefault(g, []).extend(rows)
        return {s.name: self._windows(model, s.granularity, view, *plans[s.name], drift_of.get(s.granularity, []),
                                      [*profile_of.get(s.granularity, []),
                                       *(r for r in profile_of.get(None, [])
                                         if r["granularity"] in (s.granularity, None))])
                for s in streams}

    def _windows(self, model: ModelSettings, granularity: str, view: View, found: Windows, versions: dict[Key, str],
                 changed: list[Key], undated: list[InvalidValue], drift_rows_read: list[dict[str, Any]],
                 profile_rows_read: list[dict[str, Any]]) -> list[WindowMetrics]:
        drift, profile = view.drift, view.profile
        if not changed:
            return []
        drift_check, profile_check = Checker(drift.table), Checker(profile.table if profile else "")
        table_level = (*missing_statistics(model, drift), *undated)
        drift_read, dropped = deduplicated(drift_rows_read)
        drift_rows = by_window(drift_read)
        read, dropped_profile = deduplicated(profile_rows_read) if profile else ([], {})
        profile_rows = by_window(r for r in read if r["log_type"] == "INPUT")
        baseline = tuple(profile_row(r, profile.extras, "BASELINE", profile_check)
                         for r in baseline_rows(read, granularity)) if profile else ()
        baseline_invalid = profile_check.of_window(None, baseline=True)
        out = []
        for key in changed:
            notes = [*drift.notes, *(profile.notes if profile else ())]
            if profile is None:
                notes.append(f"no profile metrics table {view.tables[0]}: drift alone is judged")
            elif not profile_rows.get(key):
                notes.append(f"no profile metrics for this window in {profile.table}")
            if not drift_rows.get(key):
                notes.append(f"no drift metrics for this window in {drift.table}")
            if duplicates := dropped.get(key, 0) + dropped_profile.get(key, 0):
                notes.append(f"{duplicates} duplicated metric rows (same window, scope and column) were left out: "
                             "only the newest monitor version's rows are judged")
            drift_of = [drift_row(r, drift.extras, drift_check) for r in drift_rows.get(key, [])]
            profile_of = ([profile_row(r, profile.extras, "INPUT", profile_check) for r in profile_rows.get(key, [])]
                          if profile else [])
            invalid = (*drift_check.of_window(key[0]), *profile_check.of_window(key[0]), *baseline_invalid,
                       *table_level)
            out.append(window_metrics(model.name, granularity, key, versions[key], drift_of, profile_of,
                                      baseline, notes, _monitor_version(found.drift.get(key)), invalid))
        return out

    def _shape(self, table: str, required: tuple[str, ...], cfg: LakehouseSource, known: dict[str, str]) -> Shape:
        if not self.engine.table_exists(table):
            raise EngineError(
                f"table {table} does not exist: check sources.lakehouse (table, output_schema or the "
                "*_metrics_table names) and that the monitor has refreshed at least once"
            )
        columns = self.engine.columns(table)
        lower = {c.lower() for c in columns}
        missing = [c for c in required if c not in lower]
        if missing:
            raise EngineError(f"table {table} lacks the expected columns {', '.join(missing)}; "
                              "is it a Lakehouse Monitoring metrics table?")
        if cfg.model_id_column and cfg.model_id_column.lower() not in lower:
            raise EngineError(f"model_id_column {cfg.model_id_column!r} is not a column of {table}")
        if wrong := wrong_types(table, columns, known):
            raise EngineError(f"{'; '.join(wrong)}: lakewarden cannot judge a metrics table whose statistics are "
                              "not numbers; fix what writes it (a Lakehouse monitor writes numbers: refresh it, or "
                              "point sources.lakehouse at the monitor's own metric tables)")
        return shape(table, self.engine.table_ref(table), columns, cfg.model_id_column, known)

    def _query(self, sql: str, params: dict[str, Any]) -> list[dict[str, Any]]:
        rows: list[dict[str, Any]] = self.engine.query(sql, params).to_pylist()
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


DRIFT_PATHS = {alias: path for path, alias in DRIFT_FIELDS.items()}
NULL_WINDOW_RULE = "every row but the baseline's needs a window start and end"


def missing_statistics(model: ModelSettings, drift: Shape) -> list[InvalidValue]:
    """The statistics the model's enabled drift signals judge that the drift table lacks, one record each."""
    signals = model.signals
    wanted: dict[str, list[str]] = {}
    for name in ("feature_drift", "prediction_drift", "label_drift"):
        signal = getattr(signals, name)
        if signal.enabled:
            wanted.setdefault(signal.statistic, []).append(name)
    return [InvalidValue(drift.table, TABLE_COLUMN, statistic, None,
                         f"the statistic {', '.join(f'signals.{n}' for n in names)} judge{'' if names[1:] else 's'}")
            for statistic, names in wanted.items() if not drift.has(DRIFT_PATHS.get(statistic, statistic))]


def null_windows(model: ModelSettings, counts: dict[str, tuple[int, int]], granularity: str) -> list[InvalidValue]:
    """One record per table with rows of ``granularity`` whose window is NULL (reported on each window judged).

    When no table has a row with a window, there is no window to report them on: a SourceError.
    """
    found = [InvalidValue(table, TABLE_COLUMN, "window", None, NULL_WINDOW_RULE, rows=nulls)
             for table, (nulls, _) in counts.items() if nulls]
    if found and not any(dated for _, dated in counts.values()):
        tables = "; ".join(f"{r.table}: {r.rows} rows" for r in found)
        raise SourceError(f"model {model.name}: every row of granularity {granularity!r} in the metric tables has a "
                          f"NULL window ({tables}): such rows belong to no window and nothing can be judged; fix "
                          "what writes the tables (a Lakehouse monitor writes a window on every INPUT row: refresh "
                          "it)")
    return found


def _monitor_version(version: str | None) -> int | None:
    if not version:
        return None
    text = version.split(":", 1)[0].removeprefix("v")
    return None if text == "None" else int(text)
