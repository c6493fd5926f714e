"""State-database basics shared by every package's tables: one UTC column type, one write transaction.

SQLite (the default) and PostgreSQL both hold lakewarden's state. The two differ in what this module
hides:

- **Time.** SQLite has no time zones. :class:`UtcDateTime` stores naive UTC text there, in one format
  so ``<=`` in SQL compares instants, and ``TIMESTAMP WITH TIME ZONE`` on PostgreSQL. Python always
  sees aware UTC values, and a naive value is refused on the way in.
- **Write transactions.** Python's sqlite3 driver (in its default, legacy mode) opens a transaction
  only at the first INSERT or UPDATE, so a read-then-write inside ``engine.begin()`` reads outside
  it, and two writers can both act on the same stale read. :func:`begin_write` takes SQLite's write
  lock up front with ``BEGIN IMMEDIATE`` (waiting up to the busy timeout). An engine prepared with
  :func:`immediate_transactions` does that for every transaction. On PostgreSQL a plain transaction
  reads a snapshot too, and two writers that read the same rows both act on them (two replicas firing
  the same new alert: a ``UniqueViolation``, and a page twice), so ``begin_write`` takes a
  transaction-scoped advisory lock (``pg_advisory_xact_lock``) first: one write transaction at a time
  across every process on the database, as SQLite's one write lock gives. Readers are never blocked,
  and a transaction that needs no read-then-write (a ``FOR UPDATE SKIP LOCKED`` claim) uses a plain
  ``engine.begin()``.
- **Migrations.** :func:`migration_lock` holds one database-wide lock while a process migrates, so
  replicas that start together on an empty database take turns: the first migrates, the others wait
  and then find nothing left to do (``pg_advisory_lock`` on PostgreSQL, a file lock beside a SQLite file).
"""

from __future__ import annotations

import fcntl
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import sqlalchemy as sa

# SQLAlchemy's SQLite DATETIME storage format; ``datetime.isoformat(" ", "microseconds")`` of a naive
# value writes the same text.
_SQLITE_FORMAT = "%(year)04d-%(month)02d-%(day)02d %(hour)02d:%(minute)02d:%(second)02d.%(microsecond)06d"


class UtcDateTime(sa.TypeDecorator[datetime]):
    """Timezone-aware UTC in Python; naive UTC text on SQLite, ``timestamptz`` elsewhere."""

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: sa.Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None or value.utcoffset() is None:
            raise ValueError(f"naive datetime {value.isoformat()} given where UTC is required")
        aware = value if value.tzinfo is UTC else value.astimezone(UTC)
        return aware.replace(tzinfo=None) if dialect.name == "sqlite" else aware

    def bind_processor(self, dialect: sa.Dialect) -> Callable[[Any], Any] | None:
        """On SQLite with SQLAlchemy's default storage format, one step instead of two (this and the
        DATETIME string format): the same text, at a fraction of the cost, for the thousands of
        timestamps the decision path writes. Elsewhere the usual two steps."""
        if dialect.name != "sqlite" or getattr(self.impl_instance.dialect_impl(dialect), "_storage_format",
                                               None) != _SQLITE_FORMAT:
            return super().bind_processor(dialect)
        to_naive_utc = self.process_bind_param

        def process(value: Any) -> str | None:
            if value is None:
                return None
            naive: Any = value.replace(tzinfo=None) if value.tzinfo is UTC else to_naive_utc(value, dialect)
            return str(naive.isoformat(" ", "microseconds"))

        return process

    def process_result_value(self, value: Any, dialect: sa.Dialect) -> datetime | None:
        if value is None:
            return None
        if not isinstance(value, datetime):
            raise TypeError(f"expected a datetime from the database, got {type(value).__name__}")
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


def _begin_immediate(conn: sa.Connection) -> None:
    conn.exec_driver_sql("BEGIN IMMEDIATE")


def immediate_transactions(engine: sa.Engine) -> None:
    """Make every transaction of a SQLite ``engine`` take the write lock when it begins.

    The driver's own transaction handling is switched off (``isolation_level = None``) so that
    SQLAlchemy's ``begin`` is the only place a transaction starts.
    """
    if engine.dialect.name != "sqlite":
        return

    @sa.event.listens_for(engine, "connect")
    def _driver_autocommit(dbapi_conn: Any, _record: Any) -> None:
        dbapi_conn.isolation_level = None

    sa.event.listen(engine, "begin", _begin_immediate)


# PostgreSQL advisory lock keys (one bigint space per database): "lkwd" in the high half, what in the low.
_WRITE_LOCK = 0x6C6B7764_00000001
_MIGRATION_LOCK = 0x6C6B7764_00000002


@contextmanager
def begin_write(engine: sa.Engine, *, serialize: bool = True) -> Iterator[sa.Connection]:
    """A transaction that holds the database's write lock from its first statement: ``BEGIN IMMEDIATE``
    on SQLite, a transaction-scoped advisory lock on PostgreSQL (released at commit or rollback).

    ``serialize=False`` (PostgreSQL only; SQLite always has its one write lock): no database-wide lock,
    for a transaction whose writes are safe side by side on their own: single conditional statements
    (``UPDATE ... WHERE``, ``INSERT ... ON CONFLICT``) or rows claimed ``FOR UPDATE SKIP LOCKED``. Lease
    heartbeats and outbox claims use it, so they go on while another replica holds the write lock."""
    with engine.begin() as conn:
        dialect = conn.dialect.name
        if dialect == "sqlite":
            raw = conn.connection.driver_connection
            if raw is not None and getattr(raw, "in_transaction", True) is False:
                _begin_immediate(conn)
        elif dialect == "postgresql" and serialize:
            conn.execute(sa.text("SELECT pg_advisory_xact_lock(:key)"), {"key": _WRITE_LOCK})
        yield conn


@contextmanager
def migration_lock(engine: sa.Engine) -> Iterator[None]:
    """Hold the database-wide migration lock until the block ends; others wait for it.

    PostgreSQL: a session advisory lock (``pg_advisory_lock``) on a connection of its own, which waits
    for the holder and is released when the block ends or the holder's connection dies. SQLite: an
    exclusive ``flock`` on a file beside the database (``<file>.migrate.lock``; SQLite is one machine's
    file, so a file lock reaches every process that can open it), released by the OS if the holder dies;
    SQLite's own write lock cannot be held across the separate transactions of the steps. Other
    databases, and in-memory SQLite: no lock."""
    dialect = engine.dialect.name
    database = engine.url.database or ""
    if dialect == "sqlite" and database and database != ":memory:" and not database.startswith("file:"):
        with Path(f"{database}.migrate.lock").open("a") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)
        return
    if dialect != "postgresql":
        yield
        return
    with engine.connect() as conn:
        conn.execute(sa.text("SET LOCAL lock_timeout = 0"))  # wait as long as the migrating replica takes
        conn.execute(sa.text("SELECT pg_advisory_lock(:key)"), {"key": _MIGRATION_LOCK})
        conn.commit()
        try:
            yield
        finally:
            conn.execute(sa.text("SELECT pg_advisory_unlock(:key)"), {"key": _MIGRATION_LOCK})
            conn.commit()
