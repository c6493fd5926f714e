"""``INSERT ... ON CONFLICT DO NOTHING`` for the hot path, through SQLAlchemy's dialect constructs.

SQLite and PostgreSQL get their own ``insert(...).on_conflict_do_nothing()`` (one statement, no read
first); any other database gets the portable read-then-insert. :func:`insert_new` answers how many
rows went in (the driver's row count, where it is reliable for ``executemany``);
:func:`insert_new_returning` answers which, with ``RETURNING`` (SQLite 3.35+, PostgreSQL), which
skips the rows that conflicted, at a higher cost per call.

The statements are built once per table and dialect and reused: building a SQLAlchemy statement
costs more than executing a cached one, and the decision path executes thousands.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

_NATIVE = frozenset({"sqlite", "postgresql"})
_BUILT: dict[tuple[str, str, bool], Any] = {}
_CHUNK = 500  # bound parameters per IN list of the portable path


def statement(dialect: str, table: sa.Table, returning: bool) -> Any:
    """``INSERT ... ON CONFLICT DO NOTHING`` (``RETURNING`` the key) for ``table`` on ``dialect``
    (``sqlite`` or ``postgresql``), built once."""
    key = (dialect, table.name, returning)
    stmt = _BUILT.get(key)
    if stmt is None:
        native = sqlite.insert(table) if dialect == "sqlite" else postgresql.insert(table)
        stmt = native.on_conflict_do_nothing()
        if returning:
            stmt = stmt.returning(*table.primary_key.columns)
        _BUILT[key] = stmt
    return stmt


def insert_new(conn: sa.Connection, table: sa.Table, rows: Sequence[dict[str, Any]]) -> int | None:
    """Insert the ``rows`` whose primary key is not in ``table`` yet; leave the others as they are.

    Returns how many were inserted when the driver can tell (SQLite, the portable path), else ``None``."""
    if not rows:
        return 0
    dialect = conn.dialect.name
    if dialect in _NATIVE:
        result = conn.execute(statement(dialect, table, returning=False), list(rows))
        count = result.rowcount if conn.dialect.supports_sane_multi_rowcount else -1
        return count if count >= 0 else None  # psycopg answers -1 for executemany
    return len(read_then_insert(conn, table, rows))


def insert_new_returning(conn: sa.Connection, table: sa.Table, rows: Sequence[dict[str, Any]]) -> set[tuple[Any, ...]]:
    """:func:`insert_new`, answering which rows were inserted: their primary keys, as tuples in the
    table's key order."""
    if not rows:
        return set()
    dialect = conn.dialect.name
    if dialect in _NATIVE and conn.dialect.insert_executemany_returning:
        return {tuple(row) for row in conn.execute(statement(dialect, table, returning=True), list(rows))}
    return read_then_insert(conn, table, rows)


def read_then_insert(conn: sa.Connection, table: sa.Table, rows: Sequence[dict[str, Any]]) -> set[tuple[Any, ...]]:
    """The portable way, for databases without ``ON CONFLICT``: read the keys, insert the others.
    Returns the keys inserted."""
    keys = [column.name for column in table.primary_key.columns]
    first = table.c[keys[0]]
    wanted = {tuple(row[k] for k in keys): row for row in rows}
    firsts = list({key[0] for key in wanted})
    existing: set[tuple[Any, ...]] = set()
    for start in range(0, len(firsts), _CHUNK):
        query = sa.select(*table.primary_key.columns).where(first.in_(firsts[start:start + _CHUNK]))
        existing.update(tuple(row) for row in conn.execute(query))
    missing = [row for key, row in wanted.items() if key not in existing]
    if missing:
        conn.execute(table.insert(), missing)
    return {key for key in wanted if key not in existing}
