"""One scan of a table for all requested windows: Spark SQL selects, the numpy kernel aggregates.

Spark SQL does what it is good at (reading Parquet or Delta, pruning columns, filtering the time
range, assigning each row its window, model id and slice values, casting); ``mapInArrow`` runs
:mod:`monitor.profile.kernel` on each task's Arrow batches and sends back one small binary row per
group; the driver merges them. Only a few kilobytes per window, model and slice leave the engine.

On local Parquet tables the same kernel runs over row groups that the tasks read themselves
(:mod:`monitor.profile.direct`); :func:`scan` picks that path where it applies.

Column names are quoted identifiers; window bounds, slice values and names-as-data are bound
parameters. Slicing expressions and custom metrics are SQL by design (as in Lakehouse Monitoring):
they are checked to be single expressions (:func:`monitor.profile.spec.check_sql_expression`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from itertools import pairwise
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import pyarrow as pa

from monitor.engines.base import EngineError
from monitor.engines.identifiers import quote_ident
from monitor.profile import codec
from monitor.profile.direct import TASKS_SCHEMA, DirectPlan, Piece, direct_function, pieces, tasks
from monitor.profile.kernel import (
    MODEL_COL,
    OUTPUT_SCHEMA,
    WINDOW_COL,
    Layout,
    QualitySlots,
    Slot,
    partition_function,
    slice_column,
)
from monitor.profile.partials import GroupKey, GroupStats, merge_into
from monitor.profile.pool import scan_local
from monitor.profile.spec import ColumnInfo, ProfileError, ProfileSpec
from monitor.profile.windows import EPOCH, Window

BATCH_ROWS = 1 << 16  # Arrow batch size for the kernel: 512 KB per column, its temporaries stay in cache
_BATCH_CONF = "spark.sql.execution.arrow.maxRecordsPerBatch"


@runtime_checkable
class SparkEngine(Protocol):
    """An engine that exposes a SparkSession (local Spark, Spark Connect): the kernel runs in it."""

    @property
    def spark(self) -> Any: ...

    def table_ref(self, name: str) -> str: ...

    def table_exists(self, name: str) -> bool: ...

    def columns(self, name: str) -> dict[str, str]: ...

    def query(self, sql: str, params: Mapping[str, Any] | None = None) -> Any: ...


def require_spark(engine: object) -> SparkEngine:
    if not isinstance(engine, SparkEngine):
        raise ProfileError(f"profiling runs its kernel inside Spark (mapInArrow); the engine "
                           f"{type(engine).__name__} has no Spark session: use a local_spark or spark_connect engine")
    return engine


@dataclass(frozen=True)
class Rows:
    """Which rows to scan: a table, the SQL of each row's 1-based window index (0 = skip), a filter.

    ``windows`` and ``timestamp_col`` say the same for the fast Parquet reader (``monitor.profile.direct``):
    row in window i when ``windows[i-1][0] <= ts < windows[i-1][1]``; None means "all rows, window 1".
    """

    table: str
    window_sql: str
    where_sql: str = "TRUE"
    params: Mapping[str, Any] = field(default_factory=dict)
    windows: tuple[Window, ...] | None = None
    timestamp_col: str | None = None
    # "auto": the fast Parquet reader in this process where it applies; "spark_arrow": the same reader
    # inside Spark tasks; "spark": always Spark SQL
    reader: str = "auto"


Slices = tuple[tuple[str, tuple[str, ...]], ...]  # (slicing expression, kept values)


def slice_values(engine: SparkEngine, spec: ProfileSpec, rows: Rows) -> Slices:
    """The most frequent values (at most ``spec.slice_values_limit``) of each slicing expression."""
    found = []
    ref = engine.table_ref(rows.table)
    for expr in spec.slicing_exprs:
        sql = (f"SELECT CAST(({expr}) AS STRING) AS v, count(1) AS n FROM {ref} WHERE {rows.where_sql} "
               "GROUP BY 1 HAVING v IS NOT NULL ORDER BY n DESC, v LIMIT :limit")
        try:
            result = engine.query(sql, {**rows.params, "limit": spec.slice_values_limit})
        except EngineError as exc:
            raise ProfileError(f"slicing expression {expr!r} does not work on {rows.table}: {exc}") from exc
        found.append((expr, tuple(str(v) for v in result.column("v").to_pylist())))
    return tuple(found)


Cast = tuple[str, str, str]  # (batch column, source column, "DOUBLE" or "STRING")


def casts_of(spec: ProfileSpec, infos: Sequence[ColumnInfo]) -> tuple[list[Cast], Layout]:
    """The batch columns the kernel reads (each a cast of a source column) and its layout (no slices)."""
    casts: list[Cast] = []
    if spec.model_id_col is not None:
        casts.append((MODEL_COL, spec.model_id_col, "STRING"))
    slots: list[Slot] = []
    for j, info in enumerate(infos):
        if info.numeric:
            casts.append((f"__lw_n{j}", info.name, "DOUBLE"))
            slots.append(Slot(f"__lw_n{j}", info.name, numeric=True))
        if info.categorical or not info.numeric:
            casts.append((f"__lw_c{j}", info.name, "STRING"))
            slots.append(Slot(f"__lw_c{j}", info.stats_key, numeric=False))
    quality = None
    if spec.quality is not None and spec.prediction_col is not None and spec.label_col is not None:
        pred, label = spec.prediction_col, spec.label_col
        if spec.quality == "classification":
            casts += [("__lw_qp", pred, "STRING"), ("__lw_ql", label, "STRING")]
            score = None
            if spec.prediction_proba_col is not None:
                casts.append(("__lw_qs", spec.prediction_proba_col, "DOUBLE"))
                score = "__lw_qs"
            quality = QualitySlots(pred_text="__lw_qp", label_text="__lw_ql", score=score)
        else:
            casts += [("__lw_qpx", pred, "DOUBLE"), ("__lw_qlx", label, "DOUBLE")]
            quality = QualitySlots(pred_value="__lw_qpx", label_value="__lw_qlx")
    return casts, Layout(tuple(slots), has_model=spec.model_id_col is not None, quality=quality)


def _select(spec: ProfileSpec, infos: Sequence[ColumnInfo], rows: Rows, slices: Slices
            ) -> tuple[str, dict[str, Any], Layout]:
    params: dict[str, Any] = dict(rows.params)
    casts, layout = casts_of(spec, infos)
    exprs = [f"CAST({rows.window_sql} AS INT) AS {WINDOW_COL}"]
    for k, (expr, values) in enumerate(slices):
        params[f"sv{k}"] = list(values) or [""]
        exprs.append(f"coalesce(array_position(:sv{k}, CAST(({expr}) AS STRING)), 0) AS {slice_column(k)}")
    exprs += [f"CAST({quote_ident(source)} AS {kind}) AS {alias}" for alias, source, kind in casts]
    return ", ".join(exprs), params, replace(layout, slices=slices)


def _micros(moment: datetime) -> int:
    return (moment - EPOCH) // timedelta(microseconds=1)


def _direct(engine: SparkEngine, spec: ProfileSpec, infos: Sequence[ColumnInfo], rows: Rows,
            slices: Slices) -> tuple[DirectPlan, list[Piece]] | None:
    """The fast reader's plan and pieces, or None where Spark SQL must read (see monitor.profile.direct)."""
    path_of = getattr(engine, "path", None)
    if rows.reader not in ("auto", "spark_arrow") or slices or not callable(path_of):
        return None
    windows = rows.windows or ()
    if rows.windows is not None and any(a[1] > b[0] for a, b in pairwise(windows)):
        return None  # overlapping windows: the SQL CASE decides
    casts, _ = casts_of(spec, infos)
    plan = DirectPlan(tuple(casts), rows.timestamp_col if rows.windows is not None else None,
                      tuple(_micros(w[0]) for w in windows), tuple(_micros(w[1]) for w in windows), BATCH_ROWS)
    found = pieces(Path(path_of(rows.table)), plan.columns, plan.timestamp)
    return None if found is None else (plan, found)


def scan(engine: SparkEngine, spec: ProfileSpec, infos: Sequence[ColumnInfo], rows: Rows,
         slices: Slices = ()) -> dict[GroupKey, GroupStats]:
    """Sufficient statistics of every group (window, model id, slice) of ``rows``, in one pass."""
    select, params, layout = _select(spec, infos, rows, slices)
    sql = (f"SELECT * FROM (SELECT {select} FROM {engine.table_ref(rows.table)} WHERE {rows.where_sql}) "
           f"WHERE {WINDOW_COL} > 0")
    direct = _direct(engine, spec, infos, rows, slices)
    if direct is not None and rows.reader == "auto":  # local files, local Spark: no Spark job needed
        try:
            return scan_local(direct[1], direct[0], layout)
        except (OSError, ValueError, pa.ArrowException, BrokenProcessPool) as exc:
            first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
            raise EngineError(f"profiling scan of {rows.table} failed: {first}") from exc
    spark = engine.spark
    previous = spark.conf.get(_BATCH_CONF, None)
    spark.conf.set(_BATCH_CONF, str(BATCH_ROWS))
    try:
        if direct is not None:
            plan, found = direct
            frame = spark.createDataFrame(tasks(found), TASKS_SCHEMA)
            partials = frame.mapInArrow(direct_function(plan, layout), OUTPUT_SCHEMA).toArrow()
        else:
            frame = spark.sql(sql, args=params)
            partials = frame.mapInArrow(partition_function(layout), OUTPUT_SCHEMA).toArrow()
    except Exception as exc:
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        raise EngineError(f"profiling scan of {rows.table} failed: {first}") from exc
    finally:
        if previous is None:
            spark.conf.unset(_BATCH_CONF)
        else:
            spark.conf.set(_BATCH_CONF, previous)
    result: dict[GroupKey, GroupStats] = {}
    for row in partials.to_pylist():
        key: GroupKey = (int(row["w"]), row["model"], row["slice_key"], row["slice_value"])
        merge_into(result, key, codec.decode(row["stats"]))
    return result

