"""Sufficient statistics from Spark SQL: two aggregations per table, each one scan for all windows.

1. ``scan_moments``: per window, model id (and all models) and column: counts, nulls, zeros, NaN,
   mean, min, max, stddev, quantiles, string lengths, approximate distinct counts.
2. ``scan_counts``: per window, model id and column, the number of rows per category, or per bin of
   the reference deciles (``base``: baseline edges, ``self``: the window's own edges, ``prev``: the
   previous window's edges), plus (prediction, label) pairs for model quality.

Columns are stacked into long form (``stack``), so one ``GROUP BY`` covers every column. Column names
are quoted identifiers, every value (names as data, bin edges, windows) a bound parameter.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from monitor.engines.base import Engine
from monitor.engines.identifiers import quote_ident
from monitor.profile.schema import ALL_MODELS, QUANTILE_PROBS, TABLE_COLUMN
from monitor.profile.spec import ColumnInfo

ModelKey = str | None  # a model id, ALL_MODELS for all models, None for rows whose model id is NULL
PERCENTILE_ACCURACY = 10_000
CONFUSION = "confusion"
_SEPARATOR = "\x1f"
_NAN_EDGES = [float("nan")]  # stands in for "no edges": nothing is below NaN, every value lands in bin 0


@dataclass(frozen=True)
class Source:
    """Where rows come from: a table, how a row maps to a window index (1-based, 0 = skip), a filter."""

    table_sql: str
    window_index_sql: str
    model_sql: str | None  # quoted model id column, None when the monitor has none
    where_sql: str = "TRUE"
    params: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Moments:
    count: int
    num_nulls: int
    num_nan: int
    num_zeros: int
    avg: float | None
    min: float | None
    max: float | None
    stddev: float | None
    quantiles: list[float] | None
    min_length: float | None
    max_length: float | None
    avg_length: float | None
    distinct_numeric: int
    distinct_string: int


MomentsKey = tuple[int, ModelKey, str]  # (window index, model, column)
CountsKey = tuple[int, ModelKey, str, str]  # (window index, model, column, reference kind)


def _src_sql(source: Source, columns: Sequence[str]) -> str:
    """CTE ``src``: window index, model id and ``columns`` (select expressions) of the rows to scan."""
    model = f"CAST({source.model_sql} AS STRING)" if source.model_sql else f"'{ALL_MODELS}'"
    return (f"WITH src0 AS (SELECT CAST({source.window_index_sql} AS INT) AS __lw_w, {model} AS __lw_m, "
            f"{', '.join(dict.fromkeys(columns))} FROM {source.table_sql} WHERE {source.where_sql}), "
            "src AS (SELECT * FROM src0 WHERE __lw_w > 0)")


def _grouping(source: Source, keys: str) -> tuple[str, str]:
    if source.model_sql:
        return (f"CASE WHEN grouping(__lw_m) = 1 THEN '{ALL_MODELS}' ELSE __lw_m END",
                f"GROUPING SETS ((__lw_w, __lw_m, {keys}), (__lw_w, {keys}))")
    return "__lw_m", f"__lw_w, __lw_m, {keys}"


def _clean_double(info: ColumnInfo) -> str:
    raw = f"CAST({quote_ident(info.name)} AS DOUBLE)"
    return f"(CASE WHEN isnan({raw}) THEN NULL ELSE {raw} END)"


def scan_moments(engine: Engine, source: Source, infos: Sequence[ColumnInfo]) -> dict[MomentsKey, Moments]:
    """One aggregation over ``source`` giving the moments of every column per window and model."""
    params: dict[str, Any] = dict(source.params)
    entries = []
    for j, info in enumerate(infos):
        params[f"c{j}"] = info.name
        ident = quote_ident(info.name)
        x = f"CAST({ident} AS DOUBLE)" if info.numeric else "CAST(NULL AS DOUBLE)"
        v = f"CAST({ident} AS STRING)" if info.categorical or not info.numeric else "CAST(NULL AS STRING)"
        entries.append(f":c{j}, {x}, {v}")
    params.update(probs=list(QUANTILE_PROBS), accuracy=PERCENTILE_ACCURACY)
    model, group_by = _grouping(source, "__lw_c")
    sql = (
        f"{_src_sql(source, [quote_ident(i.name) for i in infos])}, "
        f"long AS (SELECT __lw_w, __lw_m, __lw_c, __lw_x, __lw_v, "
        "CASE WHEN isnan(__lw_x) THEN NULL ELSE __lw_x END AS __lw_xn FROM src "
        f"LATERAL VIEW stack({len(entries)}, {', '.join(entries)}) s AS __lw_c, __lw_x, __lw_v) "
        f"SELECT __lw_w AS w, {model} AS model, __lw_c AS c, count(1) AS n, "
        "count_if(__lw_x IS NULL AND __lw_v IS NULL) AS num_nulls, count_if(isnan(__lw_x)) AS num_nan, "
        "count_if(__lw_x = 0) AS num_zeros, avg(__lw_xn) AS avg, min(__lw_xn) AS min, "
        "max(__lw_xn) AS max, stddev_samp(__lw_xn) AS stddev, "
        "percentile_approx(__lw_xn, :probs, :accuracy) AS quantiles, "
        "min(length(__lw_v)) AS min_length, max(length(__lw_v)) AS max_length, "
        "avg(length(__lw_v)) AS avg_length, approx_count_distinct(__lw_xn) AS distinct_x, "
        f"approx_count_distinct(__lw_v) AS distinct_v FROM long GROUP BY {group_by}"
    )
    result: dict[MomentsKey, Moments] = {}
    for row in engine.query(sql, params).to_pylist():
        result[(int(row["w"]), row["model"], row["c"])] = Moments(
            count=int(row["n"]), num_nulls=int(row["num_nulls"]), num_nan=int(row["num_nan"]),
            num_zeros=int(row["num_zeros"]), avg=row["avg"], min=row["min"], max=row["max"],
            stddev=row["stddev"], quantiles=row["quantiles"], min_length=_float(row["min_length"]),
            max_length=_float(row["max_length"]), avg_length=row["avg_length"],
            distinct_numeric=int(row["distinct_x"]), distinct_string=int(row["distinct_v"]))
    return result


def _float(value: Any) -> float | None:
    return None if value is None else float(value)


@dataclass(frozen=True)
class Edges:
    """Bin edges per numeric column: ``base`` shared by all windows, ``self``/``prev`` per window index."""

    base: Mapping[str, list[float]] = field(default_factory=dict)
    own: Mapping[str, list[list[float]]] = field(default_factory=dict)
    prev: Mapping[str, list[list[float]]] = field(default_factory=dict)


def _edges_param(edges: list[float]) -> list[float]:
    return [float(e) for e in edges] if edges else list(_NAN_EDGES)


def scan_counts(engine: Engine, source: Source, infos: Sequence[ColumnInfo], edges: Edges,
                confusion: tuple[str, str] | None) -> dict[CountsKey, dict[str, int]]:
    """One aggregation over ``source`` giving rows per category or decile bin, per window and model.

    ``confusion`` = (prediction column, label column) adds (prediction, label) pair counts under the
    column ``:table`` and reference kind ``confusion``.
    """
    params: dict[str, Any] = dict(source.params)
    columns: list[str] = []
    entries: list[str] = []
    for j, info in enumerate(infos):
        params[f"c{j}"] = info.name
        if info.categorical:
            columns.append(f"CAST({quote_ident(info.name)} AS STRING) AS __lw_v{j}")
            entries.append(f":c{j}, 'cat', __lw_v{j}")
            continue
        columns.append(f"{_clean_double(info)} AS __lw_x{j}")
        refs = (("base", f"b{j}", f":b{j}"), ("self", f"s{j}", f"element_at(:s{j}, __lw_w)"),
                ("prev", f"p{j}", f"element_at(:p{j}, __lw_w)"))
        for kind, param, array_sql in refs:
            if kind == "base":
                if info.name not in edges.base:
                    continue
                params[param] = _edges_param(edges.base[info.name])
            else:
                per_window = (edges.own if kind == "self" else edges.prev).get(info.name)
                if per_window is None:
                    continue
                params[param] = [_edges_param(e) for e in per_window]
            bin_sql = f"CAST(size(filter({array_sql}, __lw_e -> __lw_e < __lw_x{j})) AS STRING)"
            entries.append(f":c{j}, '{kind}', CASE WHEN __lw_x{j} IS NULL THEN NULL ELSE {bin_sql} END")
    if confusion is not None:
        pred, label = (quote_ident(c) for c in confusion)
        params.update(table_col=TABLE_COLUMN, sep=_SEPARATOR)
        columns.append(f"CASE WHEN {pred} IS NULL OR {label} IS NULL THEN NULL "
                       f"ELSE concat(CAST({pred} AS STRING), :sep, CAST({label} AS STRING)) END AS __lw_pair")
        entries.append(f":table_col, '{CONFUSION}', __lw_pair")
    sql = (
        f"{_src_sql(source, columns)} "
        "SELECT __lw_w AS w, __lw_m AS model, __lw_c AS c, __lw_r AS r, __lw_b AS b, count(1) AS n "
        f"FROM src LATERAL VIEW stack({len(entries)}, {', '.join(entries)}) s AS __lw_c, __lw_r, __lw_b "
        "WHERE __lw_b IS NOT NULL GROUP BY __lw_w, __lw_m, __lw_c, __lw_r, __lw_b"
    )
    result: dict[CountsKey, dict[str, int]] = {}
    for row in engine.query(sql, params).to_pylist():
        w, model, column, kind, key, n = (int(row["w"]), row["model"], row["c"], row["r"], row["b"],
                                          int(row["n"]))
        result.setdefault((w, model, column, kind), {})[key] = n
        if source.model_sql is not None:  # counts add up: all models = sum over model ids
            totals = result.setdefault((w, ALL_MODELS, column, kind), {})
            totals[key] = totals.get(key, 0) + n
    return result


def split_pair(key: str) -> tuple[str, str]:
    """(prediction, label) from a confusion bin key."""
    pred, _, label = key.partition(_SEPARATOR)
    return pred, label
