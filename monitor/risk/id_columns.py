"""Columns that look like row ids (a new value on every row), from the profile metrics table.

An id drifts by construction: every window brings values the baseline never had. A column looks like
an id when it is integral or a string and, over at least ``min_rows`` non-null rows, its distinct
count is at least ``ID_DISTINCT_SHARE`` of them or its most frequent value occurs once. The share is
below 1 because numeric distinct counts are estimates (HyperLogLog: about 2 % error in lakewarden's
tables, Spark's default 5 % in others); floats are never ids (continuous values are all distinct),
and neither is a column of unknown type. The baseline's whole-table row
decides where it has ``min_rows`` rows, so the decision does not flap from window to window; else the
window's own whole-table row. Works on tables written by Databricks and by ``lakewarden profile``.
"""

from __future__ import annotations

from monitor.observations import ColumnProfile, WindowMetrics

ID_DISTINCT_SHARE = 0.9
_INTEGRAL = ("tinyint", "smallint", "int", "integer", "bigint", "long", "short", "byte")


def id_type(data_type: str | None) -> bool:
    """Integral or string (``bigint``, ``string``, ``varchar(36)``, ``LongType()``...)."""
    if data_type is None:
        return False
    name = data_type.strip().lower().removesuffix("()").removesuffix("type")
    return name in _INTEGRAL or name in ("string", "str") or name.startswith(("varchar", "char"))


def id_evidence(row: ColumnProfile, min_rows: int) -> str | None:
    """Why ``row``'s column looks like an id (e.g. ``distinct = rows = 10,000``), or None."""
    if row.count is None:
        return None
    rows = row.count - min(row.num_nulls or 0, row.count)
    if rows < min_rows:
        return None
    typed = id_type(row.data_type)
    if typed and row.distinct_count is not None and row.distinct_count >= ID_DISTINCT_SHARE * rows:
        if row.distinct_count == rows:
            return f"distinct = rows = {rows:,}"
        return f"distinct {row.distinct_count:,} of {rows:,} rows"
    top = max((n for _, n in row.frequent_items), default=None)
    if typed and top == 1:
        return f"no value occurs twice in {rows:,} rows"
    return None


def _whole(rows: tuple[ColumnProfile, ...], column: str) -> ColumnProfile | None:
    """The column's whole-table row with the most rows (the all-models aggregate where there are model ids)."""
    found = [r for r in rows if r.column == column and r.scope.whole_table and r.count is not None]
    return max(found, key=lambda r: r.count or 0, default=None)


def id_like(window: WindowMetrics, column: str, min_rows: int) -> str | None:
    """Why ``column`` looks like an id in ``window`` (with where it was seen), or None."""
    base = _whole(window.baseline, column)
    if base is not None and (base.count or 0) - (base.num_nulls or 0) >= min_rows:
        found = id_evidence(base, min_rows)
        return None if found is None else f"{found} in the baseline"
    row = _whole(window.profile, column)
    found = None if row is None else id_evidence(row, min_rows)
    return None if found is None else f"{found} in this window"
