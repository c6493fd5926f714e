"""What the lakehouse source remembers between polls, so that a table that did not change costs nothing.

Per model, the *view* of its metric tables from its last read: the tables' shapes, and per
granularity every window's version (plus the count of rows with a NULL window), together with the
tables' *versions* (``LocalSparkEngine.table_versions``: the folder's files; elsewhere the batched
``_metadata`` probe, ``lakehouse_batch.probe_sql``) taken before that read. When a later poll finds
the same table versions, the view is still true: the windows to judge are computed from it (against
the stored assessments, as always), no statement is sent, and only a window that changed is read.
Windows that left ``lookback`` since are dropped by their end time, as the query would have.

A table whose version cannot be known (a failed probe, a missing profile table on a warehouse) is
read afresh each poll, as before. A replay (``check --as-of``) never uses the cache.

Shapes (the tables' columns: Unity Catalog API calls on a warehouse, a schema read on local Spark)
are kept ``SHAPE_TTL``: a new column shows within that time; a column that went away fails the
statement, which drops the model's view and shapes, so its next poll reads everything afresh.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

import structlog

from config.basics.clock import utc
from config.models import ModelSettings
from monitor.sources.base import Stream
from monitor.sources.lakehouse_batch import VersionsJob, probe_versions
from monitor.sources.lakehouse_rows import Key
from monitor.sources.lakehouse_sql import Shape

log = structlog.get_logger(__name__)

SHAPE_TTL = 600.0  # seconds a table's columns are trusted without asking again
MIN_PER_STATEMENT = 16  # tables per batched statement at least, when the pool splits a batch
Versions = tuple[str | None, str | None]  # (profile table, drift table) versions, as ``tables`` orders them
# Runs work(item) for the items at once (the poll pool); yields (item, result or the exception).
Runner = Callable[[Callable[[Any], Any], Sequence[Any]], Iterable[tuple[Any, Any]]]


@dataclass(frozen=True)
class Windows:
    """Per-window versions of both tables for one granularity, and per table its NULL-window counts."""

    drift: dict[Key, str] = field(default_factory=dict)
    profile: dict[Key, str] = field(default_factory=dict)
    counts: dict[str, tuple[int, int]] = field(default_factory=dict)

    def since(self, since: datetime) -> Windows:
        return Windows({k: v for k, v in self.drift.items() if k[1] > since},
                       {k: v for k, v in self.profile.items() if k[1] > since}, self.counts)


@dataclass(frozen=True)
class View:
    tables: tuple[str, str]  # (profile, drift)
    versions: Versions | None  # None: unknown, not kept
    drift: Shape
    profile: Shape | None
    windows: dict[str, Windows]  # granularity -> versions


def _add(found: Windows, tbl: str, row: dict[str, Any], drift: Shape, profile: Shape | None) -> None:
    if tbl.endswith(":null"):
        table = drift.table if tbl == "drift:null" else profile.table if profile else ""
        found.counts[table] = (int(row["n"] or 0), int(row["mv"] or 0))
        return
    into = found.profile if tbl == "profile" else found.drift
    into[(utc(row["window_start"]), utc(row["window_end"]))] = f"v{row['mv']}:{row['n']}:{row['h']}:{row['cv']}"


def parse_versions(rows: Iterable[dict[str, Any]], drift: Shape, profile: Shape | None) -> Windows:
    found = Windows()
    for row in rows:
        _add(found, row["tbl"], row, drift, profile)
    return found


def split_versions(rows: Iterable[dict[str, Any]], shapes: Sequence[tuple[Shape, Shape | None]]) -> dict[int, Windows]:
    """Rows of ``versions_batch_sql`` -> job index -> its versions."""
    out: dict[int, Windows] = {index: Windows() for index in range(len(shapes))}
    for row in rows:
        job, _, tbl = str(row["tbl"]).partition("|")
        index = int(job)
        _add(out[index], tbl, row, *shapes[index])
    return out


class CachedSource(Protocol):
    """What the cache asks of the lakehouse source (``LakehouseMetricsSource``)."""

    engine: Any
    replay: bool

    def tables(self, model: ModelSettings) -> tuple[str, str]: ...
    def streams(self, model: ModelSettings) -> list[Stream]: ...
    def versions_job(self, model: ModelSettings, drift: Shape, profile: Shape | None,
                     stream: Stream) -> VersionsJob: ...
    def run_versions(self, jobs: Sequence[VersionsJob]) -> dict[int, Windows]: ...
    def run_probe(self, refs: Sequence[str]) -> list[dict[str, Any]]: ...


def _still_true(view: View | None, versions: Versions | None, granularities: Sequence[str]) -> bool:
    """A kept view answers a poll when it was read at the tables' versions of now and has every granularity."""
    return (view is not None and view.versions is not None and versions == view.versions
            and set(granularities) <= view.windows.keys())


class LakehouseCache:
    def __init__(self, source: CachedSource, batch_tables: int) -> None:
        self._source = source
        self._batch = max(1, batch_tables)
        self._views: dict[str, View] = {}
        self._shapes: dict[str, tuple[float, Shape]] = {}
        self._prefetched: dict[str, View] = {}
        self._probed: dict[str, str | None] = {}  # table -> version, from this batch's prefetch
        self._probe_for: set[str] = set()  # models that may still use ``_probed``
        self._lock = threading.Lock()

    # -- shapes ---------------------------------------------------------------------------------

    def shape(self, table: str) -> Shape | None:
        kept = self._shapes.get(table)
        return kept[1] if kept is not None and time.monotonic() - kept[0] < SHAPE_TTL else None

    def shaped(self, *shapes: Shape | None) -> None:
        now = time.monotonic()
        for found in shapes:
            if found is not None and self.shape(found.table) is None:  # new, or older than SHAPE_TTL
                self._shapes[found.table] = (now, found)

    def forget(self, model: ModelSettings) -> None:
        view = self._views.pop(model.name, None)
        self._prefetched.pop(model.name, None)
        for table in (*(view.tables if view else ()), *self._source.tables(model)):
            self._shapes.pop(table, None)

    # -- views ----------------------------------------------------------------------------------

    def view(self, model: ModelSettings, granularities: Sequence[str]) -> View | None:
        """The model's view if it is still true (its tables' versions are the ones it was read at)."""
        if self._source.replay:
            return None
        found = self._prefetched.pop(model.name, None)
        if found is not None and set(granularities) <= found.windows.keys():
            return self.keep(model, found)
        kept = self._views.get(model.name)
        if kept is None or kept.versions is None:
            return None  # never reused: the tables' versions need not be asked for
        return kept if _still_true(kept, self.versions(model), granularities) else None

    def keep(self, model: ModelSettings, view: View) -> View:
        """Remember the model's view; without its tables' versions it is never reused, but its tables
        are probed in the next batch (they exist), whose versions query then makes a reusable view."""
        if not self._source.replay:
            self._views[model.name] = view
        return view

    def done(self, model: ModelSettings) -> None:
        """The model's poll read what it needed: this batch's probe is no longer its news."""
        with self._lock:
            self._probe_for.discard(model.name)
        self._prefetched.pop(model.name, None)

    def versions(self, model: ModelSettings) -> Versions | None:
        """The model's tables' versions now: from this batch's probe, or asked of the engine when that is
        cheap (local Spark: no statement); None when unknown."""
        tables = self._source.tables(model)
        with self._lock:
            probed = model.name in self._probe_for
        if probed and all(t in self._probed for t in tables):
            return self._probed[tables[0]], self._probed[tables[1]]
        ask = getattr(self._source.engine, "table_versions", None)
        if ask is None:
            return None
        found = ask(list(tables))
        return found.get(tables[0]), found.get(tables[1])

    # -- a batch of polls -------------------------------------------------------------------------

    def _per_statement(self, tables: int, parallel: int) -> int:
        """Tables per batched statement: at most ``poll_batch_tables``, and few enough that the pool's
        threads all have a statement (one big statement runs on one thread while the others wait), but
        not fewer than ``MIN_PER_STATEMENT`` (a small fleet would pay a statement per model)."""
        return max(1, min(self._batch, max(MIN_PER_STATEMENT, -(-tables // max(1, parallel)))))

    def prefetch(self, models: Sequence[ModelSettings], run: Runner, parallel: int = 1) -> None:
        self._prefetched.clear()
        self._probe(models, run, parallel)
        stale = []
        for model in models:
            versions = self.versions(model)
            if not _still_true(self._views.get(model.name), versions,
                               [s.granularity for s in self._source.streams(model)]):
                stale.append((model, versions))
        # Only models whose tables' shapes are known: asking for a shape (an API call) could be slow for
        # one model, and this step is a barrier for all; the others read their own versions on the pool.
        shaped = [(model, versions, shapes) for model, versions in stale
                  if (shapes := self._known_shapes(model)) is not None]
        Item = tuple[ModelSettings, Versions | None, tuple[Shape, Shape | None]]
        batches: list[list[Item]] = []
        batch: list[Item] = []
        size = 0
        limit = self._per_statement(sum(1 if i[2][1] is None else 2 for i in shaped), parallel)
        for item in shaped:
            tables = 1 if item[2][1] is None else 2
            if batch and size + tables > limit:
                batches.append(batch)
                batch, size = [], 0
            batch.append(item)
            size += tables
        if batch:
            batches.append(batch)
        for _, result in run(self._versions_of, batches):
            if isinstance(result, BaseException):
                log.info("lakehouse_batch_failed", error=str(result)[:300],
                         note="each model of the batch reads its own versions instead")
                continue
            self._prefetched.update(result)

    def _known_shapes(self, model: ModelSettings) -> tuple[Shape, Shape | None] | None:
        profile_table, drift_table = self._source.tables(model)
        drift = self.shape(drift_table)
        kept = self._views.get(model.name)
        if drift is None or kept is None:
            return None
        profile = self.shape(profile_table) if kept.profile is not None else None
        if kept.profile is not None and profile is None:
            return None
        return drift, profile

    def _versions_of(self, batch: list[tuple[ModelSettings, Versions | None, tuple[Shape, Shape | None]]]
                     ) -> dict[str, View]:
        jobs, owners = [], []
        for model, versions, (drift, profile) in batch:
            for stream in self._source.streams(model):
                jobs.append(self._source.versions_job(model, drift, profile, stream))
                owners.append((model, versions, stream))
        rows = self._source.run_versions(jobs)
        out: dict[str, View] = {}
        for index, (model, versions, stream) in enumerate(owners):
            drift, profile = jobs[index][0], jobs[index][1]
            view = out.get(model.name) or View(self._source.tables(model), versions, drift, profile, {})
            view.windows[stream.granularity] = rows.get(index, Windows())
            out[model.name] = view
        return out

    def _probe(self, models: Sequence[ModelSettings], run: Runner, parallel: int) -> None:
        """Every table of the batch that was read before: its version (one statement per ``batch`` tables)."""
        self._probed = {}
        with self._lock:
            self._probe_for = {m.name for m in models}
        ask = getattr(self._source.engine, "table_versions", None)
        if ask is not None:  # cheap: no statement
            return
        shapes = {s.table: s for m in models if (v := self._views.get(m.name)) is not None and v.profile is not None
                  for s in (v.drift, v.profile) if s is not None}
        names = sorted(shapes)
        step = self._per_statement(len(names), parallel)
        chunks = [names[i:i + step] for i in range(0, len(names), step)]
        for chunk, result in run(lambda c: self._source.run_probe([shapes[t].ref for t in c]), chunks):
            if isinstance(result, BaseException):
                log.info("lakehouse_probe_failed", tables=len(chunk), error=str(result)[:300],
                         note="their models read their versions instead")
                continue
            found = probe_versions(result)
            for index, name in enumerate(chunk):
                self._probed[name] = found.get(index)  # None: no data file (the table went empty)
