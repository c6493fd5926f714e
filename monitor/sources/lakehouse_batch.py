"""The lakehouse source's fewer, bigger statements: table versions, many models' versions, one model's rows.

On a SQL warehouse a statement costs 0.3-2 s whatever its size, so a cycle over many models is
counted in statements:

- ``probe_sql``: one statement for up to ``service.poll_batch_tables`` tables, each table's *version*
  from its data files' metadata (the ``_metadata`` column's path, size and modification time, which
  Spark gives for file-based tables without reading a data column).
  A refresh writes new files, so a table whose version is the one of the previous poll holds nothing
  new: its model needs no other statement (the steady state). The local engine needs no statement
  at all: it looks at the folder's files (``LocalSparkEngine.table_versions``).
- ``versions_batch_sql``: the per-window versions (``lakehouse_sql.versions_sql``) of many models'
  tables and granularities in one statement (UNION ALL, parameters prefixed per part).
- ``rows_all_sql``: every changed window of one model, every granularity, both tables, in one
  statement: the two tables' columns differ, so each side selects its own under a prefix (``d_``,
  ``p_``) and NULL for the other's; ``split_rows`` gives each row back only its own table's columns
  (an absent column reads as absent, as before, not as NULL).
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from monitor.engines.identifiers import quote_ident
from monitor.sources.baseline_rule import baseline_rows_sql
from monitor.sources.contract import DRIFT_FIELDS, PROFILE_FIELDS
from monitor.sources.lakehouse_sql import Selection, Shape, aggregate_versions, versions_parts, where

_SHARED = ("window_start", "window_end", "granularity", "slice_key", "slice_value", "column_name")


def probe_sql(refs: Sequence[str]) -> str:
    """Per table (``t``: its index in ``refs``), one row per data file: path, size, modification time.

    ``_metadata.row_index = 0`` keeps the first row of each file: no aggregate and no shuffle, so the
    parts run as one stage (an aggregate per table cost about three times as much on local Spark)."""
    parts = [f"SELECT {index} AS t, _metadata.file_path AS p, _metadata.file_size AS s, "
             f"_metadata.file_modification_time AS m FROM {ref} WHERE _metadata.row_index = 0"
             for index, ref in enumerate(refs)]
    return " UNION ALL ".join(parts)


def probe_versions(rows: Sequence[dict[str, Any]]) -> dict[int, str]:
    """Table index -> its version: a digest of its files (path, size, modification time)."""
    files: dict[int, list[str]] = {}
    for row in rows:
        files.setdefault(int(row["t"]), []).append(f"{row['p']}:{row['s']}:{row['m']}")
    return {t: hashlib.sha256("\n".join(sorted(found)).encode()).hexdigest()[:20] for t, found in files.items()}


VersionsJob = tuple[Shape, Shape | None, Selection, datetime]  # drift, profile, selection, since


def versions_batch_sql(jobs: Sequence[VersionsJob]) -> tuple[str, dict[str, Any]]:
    """The versions of every job (a model's granularity) in one statement; ``tbl`` is ``<job>|<table>[:null]``."""
    params: dict[str, Any] = {}
    parts: list[str] = []
    for index, (drift, profile, sel, since) in enumerate(jobs):
        params[f"b{index}_since"] = since
        parts += versions_parts(drift, profile, sel, params, p=f"b{index}_", tag=f"{index}|")
    return aggregate_versions(parts), params


def _columns(s: Shape, profile: bool) -> list[tuple[str, str]]:
    """(alias, expression) of one table's rows, the key columns first."""
    out = [("window_start", "`window`.`start`"), ("window_end", "`window`.`end`"), ("granularity", "granularity"),
           ("slice_key", "slice_key"), ("slice_value", "slice_value"), ("column_name", "column_name"),
           ("row_version", "monitor_version" if s.has("monitor_version") else "CAST(NULL AS BIGINT)")]
    if s.model_id_column:
        out.append(("model_id", s.col(s.model_id_column)))
    for path, alias in (PROFILE_FIELDS if profile else DRIFT_FIELDS).items():
        if s.has(path):
            out.append((alias, s.col(path)))
    out += [(alias, s.col(path)) for alias, path in s.extras.items()]
    out.append(("log_type", "log_type") if profile else ("drift_type", "drift_type"))
    return out


Ranges = dict[str, tuple[datetime, datetime]]  # granularity -> first and last window start to read


def _table_part(s: Shape, sel: Selection, ranges: Ranges, profile: bool, params: dict[str, Any],
                baseline: bool) -> tuple[list[tuple[str, str]], str]:
    prefix = "p_" if profile else "d_"
    clauses, own = where(s, sel, windows=False, p=prefix, granularity=False)
    params.update(own)
    spans = []
    for index, (granularity, (first, last)) in enumerate(sorted(ranges.items())):
        params.update({f"{prefix}g{index}": granularity, f"{prefix}f{index}": first, f"{prefix}l{index}": last})
        spans.append(f"(granularity = :{prefix}g{index} AND `window`.`start` >= :{prefix}f{index} "
                     f"AND `window`.`start` <= :{prefix}l{index})")
    windows = " OR ".join(spans)
    if profile:
        grans = ", ".join(f":{prefix}g{i}" for i in range(len(ranges)))
        inputs = f"(log_type = 'INPUT' AND ({windows}))"
        clauses.append(f"({inputs} OR {baseline_rows_sql(grans)})" if baseline else inputs)
    else:
        clauses.append(f"({windows})")
    return _columns(s, profile), f"FROM {s.ref} WHERE {' AND '.join(clauses)}"


def rows_all_sql(drift: Shape, profile: Shape | None, sel: Selection, ranges: Ranges,
                 baseline: bool = True) -> tuple[str, dict[str, Any], dict[str, list[tuple[str, str]]]]:
    """One statement for the rows of both tables in ``ranges`` (the profile table's baseline rows too).

    Returns the SQL, its parameters, and per table (``part``: drift, profile) its (alias, column in the result)."""
    params: dict[str, Any] = {}
    tables = [("drift", drift, False)] + ([("profile", profile, True)] if profile is not None else [])
    built = {name: _table_part(s, sel, ranges, is_profile, params, baseline) for name, s, is_profile in tables}
    names: dict[str, list[tuple[str, str]]] = {}
    order: list[str] = []  # result columns, in order
    for name, (columns, _) in built.items():
        prefix = "p_" if name == "profile" else "d_"
        names[name] = [(alias, alias if alias in _SHARED else f"{prefix}{alias}") for alias, _ in columns]
        order += [out for _, out in names[name] if out not in order]
    selects = []
    for name, (columns, source) in built.items():
        mine = {out: expr for (_, out), (_, expr) in zip(names[name], columns, strict=True)}
        items = [f"'{name}' AS part"] + [f"{mine.get(out, 'NULL')} AS {quote_ident(out)}" for out in order]
        selects.append(f"SELECT {', '.join(items)} {source}")
    return " UNION ALL ".join(selects), params, names


def split_rows(rows: Sequence[dict[str, Any]],
               names: dict[str, list[tuple[str, str]]]) -> dict[str, dict[str | None, list[dict[str, Any]]]]:
    """part -> granularity -> rows with that table's own columns under their usual aliases; the
    profile table's baseline rows under None (they keep their ``granularity``: ``baseline_rule``)."""
    out: dict[str, dict[str | None, list[dict[str, Any]]]] = {part: {} for part in names}
    for row in rows:
        part = row["part"]
        own = {alias: row[column] for alias, column in names[part]}
        if part == "profile" and own.get("log_type") == "BASELINE":
            out[part].setdefault(None, []).append(own)
        elif part == "profile":
            out[part].setdefault(str(own["granularity"]), []).append(own)
        else:
            out[part].setdefault(str(own.pop("granularity")), []).append(own)
    return out
