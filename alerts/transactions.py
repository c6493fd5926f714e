"""Write transactions that really are one transaction on SQLite.

Python's sqlite3 driver (in its default, legacy mode) only opens a transaction at the first INSERT
or UPDATE, so a read-then-write inside ``engine.begin()`` reads outside it, and two writers can both
act on the same stale read. ``begin_write`` takes SQLite's write lock up front with
``BEGIN IMMEDIATE`` (waiting up to the connection's busy timeout). When the engine already opens
transactions itself (the SQLAlchemy pysqlite recipe, or another database), it changes nothing.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import sqlalchemy as sa


@contextmanager
def begin_write(engine: sa.Engine) -> Iterator[sa.Connection]:
    with engine.begin() as conn:
        if conn.dialect.name == "sqlite":
            raw = conn.connection.driver_connection
            if raw is not None and getattr(raw, "in_transaction", True) is False:
                conn.exec_driver_sql("BEGIN IMMEDIATE")
        yield conn
