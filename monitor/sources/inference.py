"""Inference source: serving health per window from a payload table, computed in the engine.

Every complete window that ended within ``lookback`` and at least ``settle`` ago is a window, with or
without rows (from the first logged request on): an endpoint that stops logging shows as windows
with no requests and growing freshness, which is the point. A window's version is its request count,
status counts, logging errors and newest row: late rows change it, and windows younger than
``recheck`` are re-judged when they do. Freshness is the time from the newest row at or before the
window's end to the window's end.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from config.basics.clock import Clock, utc
from config.models import ModelSettings
from config.sources import InferenceSource
from monitor.engines.base import Engine, EngineError
from monitor.observations import WHOLE, Newest, Operations, WindowMetrics
from monitor.profile.windows import Granularity, parse_granularity
from monitor.sources.base import SourceError, Stream
from monitor.sources.payload import (
    QUANTILES,
    PayloadSchema,
    detect,
    metrics_sql,
    newest_sql,
    range_params,
    status_sql,
)
from monitor.sources.unpack import sync_processed
from monitor.sources.validity import Checker, Where, wrong_types

Key = tuple[datetime, datetime]


class InferenceTableSource:
    kind = "inference"

    def __init__(self, engine: Engine, clock: Clock, replay: bool = False) -> None:
        self._engine = engine
        self._clock = clock
        self._replay = replay  # newest(): requests after the clock's time are left out (check --as-of)

    def streams(self, model: ModelSettings) -> list[Stream]:
        cfg = model.sources.inference
        return [] if cfg is None else [Stream(self.kind, g) for g in cfg.all_granularities]

    def horizon(self, model: ModelSettings) -> datetime:
        return self._clock() - _cfg(model).lookback

    def prepare(self, model: ModelSettings) -> None:
        """Unpack new requests and responses into the processed table, when one is configured."""
        cfg = _cfg(model)
        if cfg.processed is None:
            return
        try:
            sync_processed(self._engine, cfg, self.schema(cfg), self._clock())
        except EngineError as exc:
            raise SourceError(f"model {model.name}: unpacking {cfg.table} into {cfg.processed.table}: {exc}") from exc

    def read(self, model: ModelSettings, stream: Stream,
             known: Mapping[Key, str | None] | None = None) -> list[WindowMetrics]:
        cfg = _cfg(model)
        known = dict(known or {})
        now = self._clock()
        gran = parse_granularity(stream.granularity)
        windows = _windows(gran, now - cfg.lookback, now - cfg.settle)
        recheck_after = now - cfg.recheck
        wanted = [w for w in windows if w not in known or w[1] > recheck_after]
        if not wanted:
            return []
        index = windows.index(wanted[0])
        scan = windows[index:]  # later known windows are read too: a late row moves their freshness
        newest = _newest_of(known.get(windows[index - 1])) if index > 0 else None
        try:
            schema = self.schema(cfg)
            checker = Checker(cfg.table)
            measured = self._measure(cfg, schema, gran, scan[0][0], scan[-1][1], checker)
        except EngineError as exc:
            raise SourceError(f"model {model.name}: {exc}") from exc
        out = []
        for key in scan:
            ops = measured.get(key) or Operations(0, {}, dict.fromkeys(QUANTILES), None, None, None, 0.0)
            newest = ops.newest_row or newest
            if newest is None:
                continue  # no traffic yet: windows before the endpoint's first logged request are not judged
            age = (key[1] - newest).total_seconds() if newest is not None else None
            ops = Operations(ops.requests, ops.status_counts, ops.latency_ms, ops.logging_errors, newest, age,
                             ops.estimated_requests)
            version = _version(ops)
            if key in wanted and known.get(key, "") != version:
                out.append(WindowMetrics(model=model.name, source=self.kind, granularity=stream.granularity,
                                         window_start=key[0], window_end=key[1], monitor_version=None,
                                         row_count=ops.requests, operations=ops, version=version,
                                         notes=(f"payload table {cfg.table} ({schema.kind} schema)",),
                                         invalid=checker.of_window(key[0])))
        return out

    def newest(self, model: ModelSettings, stream: Stream) -> Newest | None:
        """The window of the payload table's newest request (the partitions within ``lookback`` first: cheap)."""
        cfg = _cfg(model)
        try:
            schema = self.schema(cfg)
            ref = self._engine.table_ref(cfg.table)
            newest, now = None, self._clock()
            for since in (now - cfg.lookback, None):  # the whole table only when nothing is recent
                row = self._rows(*newest_sql(ref, schema, cfg.served_entity, since, now if self._replay else None))
                newest = row[0]["newest"] if row else None
                if newest is not None:
                    break
        except EngineError as exc:
            raise SourceError(f"model {model.name}: {exc}") from exc
        if newest is None:
            return Newest(stream.name, cfg.table, stream.granularity)
        start, end = parse_granularity(stream.granularity).window_at(utc(newest))
        return Newest(stream.name, cfg.table, stream.granularity, start, end)

    def schema(self, cfg: InferenceSource) -> PayloadSchema:
        if not self._engine.table_exists(cfg.table):
            raise EngineError(f"inference table {cfg.table} does not exist: check sources.inference.table and that "
                              "inference tables are enabled on the serving endpoint")
        columns = self._engine.columns(cfg.table)
        found = detect(cfg.table, columns, cfg.payload_schema)
        numbers = {found.duration_sql.strip("`"): "latency", "status_code": "status_code",
                   "sampling_fraction": "sampling_fraction"}
        if wrong := wrong_types(cfg.table, columns, numbers):
            raise EngineError(f"{'; '.join(wrong)}: is it the serving endpoint's inference (payload) table?")
        return found

    def _measure(self, cfg: InferenceSource, schema: PayloadSchema, gran: Granularity, since: datetime,
                 until: datetime, checker: Checker) -> dict[Key, Operations]:
        """Per window, the serving metrics; latencies and estimated requests out of range are left out (``checker``)."""
        start_sql, gparams = gran.start_sql(schema.ts_sql)
        ref = self._engine.table_ref(cfg.table)
        params = {**range_params(since, until), **gparams}
        sql, extra = metrics_sql(ref, schema, start_sql, cfg.served_entity)
        rows = self._rows(sql, {**params, **extra})
        sql, extra = status_sql(ref, schema, start_sql, cfg.served_entity)
        statuses: dict[datetime, dict[int, int]] = defaultdict(dict)
        for row in self._rows(sql, {**params, **extra}):
            if row["status_code"] is not None:
                statuses[utc(row["window_start"])][int(row["status_code"])] = int(row["n"])
        out = {}
        for row in rows:
            start = utc(row["window_start"])
            latency = list(row["latency"] or [])
            where = Where(schema.duration_sql.strip("`"), WHOLE, start)
            out[(start, gran.end_of(start))] = Operations(
                requests=int(row["requests"]), status_counts=statuses.get(start, {}),
                latency_ms={name: None if i >= len(latency) else checker.number(latency[i], f"latency_{name}", where)
                            for i, name in enumerate(QUANTILES)},
                logging_errors=None if row["logging_errors"] is None else int(row["logging_errors"]),
                newest_row=None if row["newest"] is None else utc(row["newest"]), freshness_seconds=None,
                estimated_requests=checker.number(row["estimated"], "estimated_requests",
                                                  Where("sampling_fraction", WHOLE, start)))
        return out

    def _rows(self, sql: str, params: dict[str, Any]) -> list[dict[str, Any]]:
        rows: list[dict[str, Any]] = self._engine.query(sql, params).to_pylist()
        return rows


def _cfg(model: ModelSettings) -> InferenceSource:
    if model.sources.inference is None:
        raise SourceError(f"model {model.name} has no inference source")
    return model.sources.inference


def _windows(gran: Granularity, since: datetime, until: datetime) -> list[Key]:
    """Complete windows that end after ``since`` and at or before ``until``, oldest first."""
    out: list[Key] = []
    start = gran.start_of(since)
    while True:
        end = gran.end_of(start)
        if end > until:
            return out
        if end > since:
            out.append((start, end))
        start = end


def _version(ops: Operations) -> str:
    codes = ",".join(f"{c}={n}" for c, n in sorted(ops.status_counts.items()))
    newest = ops.newest_row.isoformat() if ops.newest_row else "-"
    return f"{ops.requests}:{codes}:{ops.logging_errors}:{newest}"


def _newest_of(version: str | None) -> datetime | None:
    """The newest row recorded in a stored window version (its last field), if any."""
    parts = (version or "").split(":", 3)
    if len(parts) < 4 or parts[3] == "-":
        return None
    try:
        return datetime.fromisoformat(parts[3])
    except ValueError:
        return None
