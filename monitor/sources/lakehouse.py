"""Lakehouse metrics source: new windows of a monitor's profile and drift metrics tables.

Reads only windows that ended after the stored watermark (on the first read: within ``lookback``),
and only windows that already have drift rows: the two tables are written at different moments (a
monitor refresh writes one, then the other), so the drift table leads and the profile table, read
second, is at least as fresh. A window with profile rows and no drift rows yet waits for the next
poll instead of being judged half-seen and then skipped by the watermark.

for the configured granularity, the whole table (``slice_key IS NULL``) and the configured model id
(``'*'`` = all models). Structs are flattened in SQL so every engine returns flat columns. Columns
that an older monitor version does not have are left out of the query and show up as skipped
statistics, not as a crash. Every identifier comes from validated config and is quoted; every value
is bound as a parameter.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from config.models import LakehouseSource, ModelSettings
from monitor.engines.base import Engine, EngineError
from monitor.engines.identifiers import quote_ident
from monitor.observations import ColumnDrift, ColumnProfile, WindowMetrics

# Contract column -> flattened name. Statistics absent from a table are skipped by the judge.
DRIFT_STATISTICS: dict[str, str] = {
    "js_distance": "js_distance",
    "population_stability_index": "population_stability_index",
    "ks_test.statistic": "ks_statistic",
    "ks_test.pvalue": "ks_pvalue",
    "wasserstein_distance": "wasserstein_distance",
    "chi_squared_test.statistic": "chi_squared_statistic",
    "chi_squared_test.pvalue": "chi_squared_pvalue",
    "tv_distance": "tv_distance",
    "l_infinity_distance": "l_infinity_distance",
}
DRIFT_REQUIRED = ("window", "granularity", "slice_key", "column_name", "drift_type")
PROFILE_REQUIRED = ("window", "log_type", "granularity", "slice_key", "column_name", "count")


class SourceError(Exception):
    """A source could not be read; the message names the model, the table and what to do."""


class LakehouseMetricsSource:
    def __init__(self, engine: Engine, clock: Callable[[], datetime]) -> None:
        self._engine = engine
        self._clock = clock

    def name(self, model: ModelSettings) -> str:
        cfg = _cfg(model)
        return f"lakehouse:{cfg.drift_table}:{cfg.granularity}"

    def read(self, model: ModelSettings, since: datetime | None) -> list[WindowMetrics]:
        """Windows that ended after ``since`` (or within the lookback when None), oldest first."""
        cfg = _cfg(model)
        bound = since if since is not None else self._clock() - cfg.lookback
        try:
            drift = self._drift_rows(cfg, bound)
            if not drift:
                return []
            profile = self._profile_rows(cfg, bound)
        except EngineError as exc:
            raise SourceError(f"model {model.name}: {exc}") from exc
        return _combine(model.name, self.name(model), cfg, drift, profile)

    def _present(self, table: str, required: tuple[str, ...]) -> set[str]:
        if not self._engine.table_exists(table):
            raise EngineError(
                f"table {table} does not exist: check sources.lakehouse (table, output_schema or the "
                "*_metrics_table names) and that the monitor has refreshed at least once"
            )
        columns = {c.lower() for c in self._engine.columns(table)}
        missing = [c for c in required if c not in columns]
        if missing:
            raise EngineError(f"table {table} lacks the expected columns {', '.join(missing)}; "
                              "is it a Lakehouse Monitoring metrics table?")
        return columns

    def _filters(self, cfg: LakehouseSource, columns: set[str]) -> tuple[str, dict[str, Any]]:
        where = ["granularity = :granularity", "slice_key IS NULL", "`window`.`end` > :since"]
        params: dict[str, Any] = {"granularity": cfg.granularity}
        if cfg.model_id_column:
            if cfg.model_id_column.lower() not in columns:
                raise EngineError(f"model_id_column {cfg.model_id_column!r} is not a column of the metrics table")
            where.append(f"{quote_ident(cfg.model_id_column)} = :model_id")
            params["model_id"] = cfg.model_id
        return " AND ".join(where), params

    def _drift_rows(self, cfg: LakehouseSource, since: datetime) -> list[dict[str, Any]]:
        columns = self._present(cfg.drift_table, DRIFT_REQUIRED)
        stats = [
            f"{'.'.join(quote_ident(p) for p in source.split('.'))} AS {quote_ident(alias)}"
            for source, alias in DRIFT_STATISTICS.items()
            if source.split(".")[0] in columns
        ]
        where, params = self._filters(cfg, columns)
        version = "monitor_version" if "monitor_version" in columns else "CAST(NULL AS BIGINT)"
        sql = (
            "SELECT `window`.`start` AS window_start, `window`.`end` AS window_end, "
            f"{version} AS monitor_version, column_name, drift_type, {', '.join(stats) or 'NULL AS none'} "
            f"FROM {self._engine.table_ref(cfg.drift_table)} WHERE {where} AND drift_type = :drift_type "
            "ORDER BY window_start, column_name"
        )
        rows: list[dict[str, Any]] = self._engine.query(
            sql, {**params, "since": since, "drift_type": cfg.drift_type}).to_pylist()
        return rows

    def _profile_rows(self, cfg: LakehouseSource, since: datetime) -> list[dict[str, Any]]:
        if not self._engine.table_exists(cfg.profile_table):
            return []  # drift alone can be judged; the missing profile table shows in the window's notes
        columns = self._present(cfg.profile_table, PROFILE_REQUIRED)
        where, params = self._filters(cfg, columns)
        nulls = "num_nulls" if "num_nulls" in columns else "CAST(NULL AS BIGINT)"
        pct = "percent_null" if "percent_null" in columns else "CAST(NULL AS DOUBLE)"
        sql = (
            "SELECT `window`.`start` AS window_start, `window`.`end` AS window_end, column_name, "
            f"`count` AS row_count, {nulls} AS num_nulls, {pct} AS percent_null "
            f"FROM {self._engine.table_ref(cfg.profile_table)} WHERE {where} AND log_type = 'INPUT' "
            "ORDER BY window_start, column_name"
        )
        rows: list[dict[str, Any]] = self._engine.query(sql, {**params, "since": since}).to_pylist()
        return rows


def _cfg(model: ModelSettings) -> LakehouseSource:
    if model.sources.lakehouse is None:
        raise SourceError(f"model {model.name} has no lakehouse source")
    return model.sources.lakehouse


def _utc(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _combine(model: str, source: str, cfg: LakehouseSource, drift: list[dict[str, Any]],
             profile: list[dict[str, Any]]) -> list[WindowMetrics]:
    drift_by: dict[tuple[datetime, datetime], list[dict[str, Any]]] = defaultdict(list)
    profile_by: dict[tuple[datetime, datetime], list[dict[str, Any]]] = defaultdict(list)
    for row in drift:
        drift_by[(_utc(row["window_start"]), _utc(row["window_end"]))].append(row)
    for row in profile:
        profile_by[(_utc(row["window_start"]), _utc(row["window_end"]))].append(row)
    windows = []
    for start, end in sorted(drift_by):
        drows, prows = drift_by.get((start, end), []), profile_by.get((start, end), [])
        counts = [r["row_count"] for r in prows if r["row_count"] is not None]
        table_counts = [r["row_count"] for r in prows if r["column_name"] == ":table" and r["row_count"] is not None]
        versions = [r["monitor_version"] for r in drows if r["monitor_version"] is not None]
        notes = [] if prows else [f"no profile metrics for this window in {cfg.profile_table}"]
        windows.append(WindowMetrics(
            model=model, source=source, granularity=cfg.granularity, window_start=start, window_end=end,
            monitor_version=max(versions) if versions else None,
            row_count=table_counts[0] if table_counts else (max(counts) if counts else None),
            drift=tuple(ColumnDrift(r["column_name"], r["drift_type"],
                                    {a: r[a] for a in DRIFT_STATISTICS.values() if a in r}) for r in drows),
            profile=tuple(ColumnProfile(r["column_name"], r["row_count"], r["num_nulls"], r["percent_null"])
                          for r in prows),
            notes=tuple(notes),
        ))
    return windows

