"""The SQL the Lakehouse metrics source sends: per-window versions and the newest window (the batched
statements and the rows of changed windows: ``lakehouse_batch``).

Identifiers come from validated config or from the table's own schema and are quoted; every value
is a bound scalar parameter (the SQL warehouse binds no arrays), so lists become ``IN (:p0, :p1)``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from monitor.engines.identifiers import quote_ident
from monitor.sources.contract import KEY_COLUMNS, SKIPPED_COLUMNS, has_path, metric_paths


@dataclass(frozen=True)
class Shape:
    """A metric table's columns as the engine reports them, plus what the source makes of them."""

    table: str
    ref: str
    types: dict[str, str]  # lower-cased name -> type
    names: dict[str, str]  # lower-cased name -> name as in the table
    model_id_column: str | None
    extras: dict[str, str] = field(default_factory=dict)  # alias -> metric path, for extra numeric columns
    notes: tuple[str, ...] = ()

    def has(self, path: str) -> bool:
        return has_path(self.types, path.lower())

    def col(self, path: str) -> str:
        head, _, rest = path.partition(".")
        return ".".join(quote_ident(p) for p in (self.names[head.lower()], *([rest] if rest else [])))


def shape(table: str, ref: str, columns: dict[str, str], model_id_column: str | None, known: dict[str, str]) -> Shape:
    types = {k.lower(): v for k, v in columns.items()}
    names = {k.lower(): k for k in columns}
    skip = set(KEY_COLUMNS) | set(SKIPPED_COLUMNS) | {p.split(".")[0] for p in known}
    if model_id_column:
        skip.add(model_id_column.lower())
    extras: dict[str, str] = {}
    notes = []
    for lower, kind in types.items():
        if lower in skip:
            continue
        paths = metric_paths(names[lower], kind)
        if paths is None:
            notes.append(f"column {names[lower]} of {table} has type {kind}: not a metric lakewarden can judge")
            continue
        for path in paths:
            extras[f"m{len(extras)}"] = path
    return Shape(table, ref, types, names, model_id_column, extras, tuple(notes))


@dataclass(frozen=True)
class Selection:
    """Which rows: granularity, windows, slices and model ids."""

    granularity: str
    slices: tuple[str, ...]  # slice keys besides the whole table; "*" for all
    model_ids: tuple[str, ...]  # empty: every model id
    drift_types: tuple[str, ...] = ()  # empty: all


def _in(column: str, values: Sequence[str], prefix: str, params: dict[str, Any]) -> str:
    names = []
    for index, value in enumerate(values):
        params[f"{prefix}{index}"] = value
        names.append(f":{prefix}{index}")
    return f"{column} IN ({', '.join(names)})"


def where(s: Shape, sel: Selection, *, windows: bool = True, p: str = "",
          granularity: bool = True) -> tuple[list[str], dict[str, Any]]:
    """The selection's filters; ``p`` prefixes the parameter names (several selections in one statement);
    ``granularity=False``: the caller filters on the granularity itself."""
    params: dict[str, Any] = {f"{p}granularity": sel.granularity} if granularity else {}
    clauses = [f"granularity = :{p}granularity"] if granularity else []
    if windows:
        clauses.append("`window` IS NOT NULL")
    if "*" not in sel.slices:
        clauses.append(f"(slice_key IS NULL OR {_in('slice_key', sel.slices, f'{p}s', params)})" if sel.slices
                       else "slice_key IS NULL")
    if s.model_id_column and sel.model_ids:
        clauses.append(_in(s.col(s.model_id_column), sel.model_ids, f"{p}m", params))
    if sel.drift_types and s.has("drift_type"):
        clauses.append(_in("drift_type", sel.drift_types, f"{p}d", params))
    return clauses, params


def _versions_part(s: Shape, sel: Selection, profile: bool, params: dict[str, Any], p: str = "",
                   tag: str = "") -> str:
    clauses, own = where(s, sel, p=p)
    params.update(own)
    clauses.append(f"`window`.`end` > :{p}since")
    if "until" in params:
        clauses.append("`window`.`end` <= :until")
    if profile:
        clauses.append("log_type = 'INPUT'")
    hashable = [s.col(name) for lower, name in s.names.items() if not s.types[lower].lower().startswith("map<")]
    version = "monitor_version" if s.has("monitor_version") else "CAST(NULL AS BIGINT)"
    commit = ("logging_table_commit_version" if profile and s.has("logging_table_commit_version")
              else "CAST(NULL AS BIGINT)")
    return (f"SELECT '{tag}{'profile' if profile else 'drift'}' AS tbl, `window`.`start` AS ws, "
            f"`window`.`end` AS we, {version} AS mv, hash({', '.join(hashable)}) AS rh, {commit} AS cv, 1 AS c, "
            f"0 AS nw FROM {s.ref} WHERE {' AND '.join(clauses)}")


NULL_WINDOW = "(`window` IS NULL OR `window`.`start` IS NULL OR `window`.`end` IS NULL)"


def _null_windows_part(s: Shape, sel: Selection, profile: bool, params: dict[str, Any], p: str = "",
                       tag: str = "") -> list[str]:
    """A table's ``:null`` rows: aggregated, ``n`` rows with a NULL window, ``mv`` rows with one (any age).

    It counts every row of the granularity: the lakehouse source runs it only when the table changed
    (its version, ``monitor.sources.lakehouse_batch``), not on every poll."""
    clauses, own = where(s, sel, windows=False, p=p)
    params.update(own)
    if profile:
        clauses.append("log_type = 'INPUT'")  # the baseline's rows have no window, rightly
    tbl = f"'{tag}{'profile' if profile else 'drift'}:null' AS tbl"
    empty = "CAST(NULL AS TIMESTAMP) AS ws, CAST(NULL AS TIMESTAMP) AS we, CAST(NULL AS BIGINT) AS mv, " \
            "CAST(NULL AS INT) AS rh, CAST(NULL AS BIGINT) AS cv"
    return [f"SELECT {tbl}, {empty}, 1 AS c, CASE WHEN {NULL_WINDOW} THEN 1 ELSE 0 END AS nw "
            f"FROM {s.ref} WHERE {' AND '.join(clauses)}",
            f"SELECT {tbl}, {empty}, 0 AS c, 0 AS nw"]


def versions_sql(drift: Shape, profile: Shape | None, sel: Selection, since: datetime,
                 until: datetime | None = None) -> tuple[str, dict[str, Any]]:
    """Per table and window: row count, newest monitor version, a content hash (and the logging table's commit).

    Plus, per table, how many rows have a NULL window (and how many have one): such rows belong to no
    window and are reported, not judged. One statement for both tables: on a warehouse or a local
    Spark, each statement costs about a second. ``until``: windows that end later are left out (a
    replay as of that time: they did not exist yet).
    """
    params: dict[str, Any] = {"since": since, **({"until": until} if until is not None else {})}
    return aggregate_versions(versions_parts(drift, profile, sel, params)), params


def versions_parts(drift: Shape, profile: Shape | None, sel: Selection, params: dict[str, Any], p: str = "",
                   tag: str = "") -> list[str]:
    """``versions_sql``'s row-level parts (for :func:`aggregate_versions`), their parameters named with
    prefix ``p`` (``since`` too) and ``tbl`` with ``tag``."""
    parts = [_versions_part(drift, sel, False, params, p, tag), *_null_windows_part(drift, sel, False, params, p, tag)]
    if profile is not None:
        parts += [_versions_part(profile, sel, True, params, p, tag),
                  *_null_windows_part(profile, sel, True, params, p, tag)]
    return parts


def aggregate_versions(parts: Sequence[str]) -> str:
    """One aggregate over the UNION ALL of every part's rows, grouped by table and window.

    Aggregating each part on its own planned one shuffle per part: the cost of a batched statement
    over many tables was its stages, not its rows. Rows of a ``:null`` part count its NULL windows
    (``nw``) among its rows (``c``; its constant row has 0, so a table with no row still answers)."""
    return ("SELECT tbl, ws AS window_start, we AS window_end, "
            "CASE WHEN tbl LIKE '%:null' THEN sum(nw) ELSE sum(c) END AS n, "
            "CASE WHEN tbl LIKE '%:null' THEN sum(c) - sum(nw) ELSE max(mv) END AS mv, "
            f"bit_xor(rh) AS h, max(cv) AS cv FROM ({' UNION ALL '.join(parts)}) GROUP BY tbl, ws, we")


def newest_sql(drift: Shape, profile: Shape | None, sel: Selection,
               until: datetime | None = None) -> tuple[str, dict[str, Any]]:
    """Per table, the newest window of the selection's rows, whenever it ended (NULLs when there is none).

    Windows of one granularity have one length and do not overlap, so the newest start and the newest
    end are one window's. One statement for both tables, one row each. ``until`` as in ``versions_sql``.
    """
    params: dict[str, Any] = {} if until is None else {"until": until}
    parts = []
    for name, s in (("drift", drift), ("profile", profile)):
        if s is None:
            continue
        clauses, own = where(s, sel)
        params.update(own)
        if name == "profile":
            clauses.append("log_type = 'INPUT'")
        if until is not None:
            clauses.append("`window`.`end` <= :until")
        parts.append(f"SELECT '{name}' AS tbl, max(`window`.`start`) AS window_start, "
                     f"max(`window`.`end`) AS window_end FROM {s.ref} WHERE {' AND '.join(clauses)}")
    return " UNION ALL ".join(parts), params
