"""Reading and rewriting the metric tables themselves (the engine's tables, not the state database)."""

from __future__ import annotations

import shutil
from collections.abc import Collection
from datetime import datetime
from typing import Any, Protocol

import pyarrow as pa
import pyarrow.compute as pc

from config.basics.clock import utc
from monitor.engines.identifiers import TableName
from monitor.profile.spec import ProfileError


class WritableEngine(Protocol):
    def table_ref(self, name: str) -> str: ...

    def table_exists(self, name: str) -> bool: ...

    def columns(self, name: str) -> dict[str, str]: ...

    def query(self, sql: str, params: Any = None) -> pa.Table: ...

    def write(self, name: str, data: pa.Table, mode: Any = "append") -> None: ...


def written_starts(engine: WritableEngine, table: TableName, granularity: str, monitor_version: int,
                   input_only: bool) -> set[datetime]:
    """Window starts with rows of this granularity and monitor version in ``table``."""
    if not engine.table_exists(str(table)):
        return set()
    log_filter = " AND log_type = 'INPUT'" if input_only else ""
    sql = (f"SELECT DISTINCT `window`.start AS s FROM {engine.table_ref(str(table))} "
           f"WHERE `window` IS NOT NULL AND granularity = :g AND monitor_version = :v{log_filter}")
    rows = engine.query(sql, {"g": granularity, "v": monitor_version}).to_pylist()
    return {utc(row["s"]) for row in rows}


def baseline_written(engine: WritableEngine, table: TableName, granularity: str, monitor_version: int) -> bool:
    if not engine.table_exists(str(table)):
        return False
    sql = (f"SELECT count(1) AS n FROM {engine.table_ref(str(table))} "
           "WHERE log_type = 'BASELINE' AND granularity = :g AND monitor_version = :v")
    found = engine.query(sql, {"g": granularity, "v": monitor_version}).column("n")[0].as_py()
    return int(found) > 0


def same_columns(engine: WritableEngine, table: TableName, schema: pa.Schema) -> bool:
    """True when ``table`` is missing (it will be created) or has exactly the columns of ``schema``."""
    if not engine.table_exists(str(table)):
        return True
    names: list[str] = schema.names
    return list(engine.columns(str(table))) == names


def rewrite(engine: WritableEngine, table: TableName, schema: pa.Schema, *, granularity: str,
            starts: Collection[datetime], baseline: bool, everything: bool = False) -> int:
    """Drop this granularity's rows of windows ``starts`` (and baseline rows) from ``table``; rows removed.

    The rest is read into memory (metric tables are small: rows per window x columns x slices) and
    the table overwritten. ``everything`` drops every row (a spec change that altered the columns) and
    returns -1.
    """
    if not engine.table_exists(str(table)) or (not starts and not baseline and not everything):
        return 0
    if everything:  # the new rows have other columns: start the table again
        _drop(engine, table)
        return -1
    current = engine.query(f"SELECT * FROM {engine.table_ref(str(table))}")
    window = current.column("window")
    start = pc.struct_field(window, "start")
    same = pc.equal(current.column("granularity"), pa.scalar(granularity))
    hit = pc.is_in(start, value_set=pa.array(sorted(starts), pa.timestamp("us", tz="UTC")))
    drop = pc.and_(same, pc.fill_null(hit, False))
    if baseline:
        drop = pc.or_(drop, pc.and_(same, pc.is_null(window)))
    keep = pc.invert(pc.fill_null(drop, False))
    kept = current.filter(keep)
    removed = int(current.num_rows - kept.num_rows)
    if removed and kept.num_rows == 0:
        _drop(engine, table)
    elif removed:
        engine.write(str(table), kept.cast(schema) if kept.schema.names == schema.names else kept,
                     mode="overwrite")
    return removed


def _drop(engine: WritableEngine, table: TableName) -> None:
    path_of = getattr(engine, "path", None)
    if not callable(path_of):
        raise ProfileError(f"{table} has columns of an older configuration and this engine cannot drop tables; "
                           "drop it, then run again")
    shutil.rmtree(path_of(str(table)))


def append(engine: WritableEngine, table: TableName, rows: list[dict[str, Any]], schema: pa.Schema) -> None:
    if rows:
        engine.write(str(table), pa.Table.from_pylist(rows, schema=schema), mode="append")
