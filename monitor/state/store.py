"""Open the state database and bring every package's tables up to date.

Each package owns its tables and a tuple of forward migrations (``<pkg>.schema.MIGRATIONS``,
version = position + 1). The versions applied are kept in ``monitor_schema_versions``; each
migration runs in its own transaction together with its version bump, so a crash mid-upgrade
leaves a consistent database that the next start continues from. Replicas that start together
take turns under the migration lock (``config.basics.sql.migration_lock``); ``upgrade_sql`` lists
the statements an upgrade would run, for a DBA (``lakewarden state upgrade --sql``).

SQLite: WAL journal (readers never block the writer), a busy timeout, and ``BEGIN IMMEDIATE`` for
every transaction so a transaction that reads and then writes takes the write lock up front and
waits for it, instead of failing with ``database is locked`` when two writers meet.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import timedelta
from pathlib import Path
from typing import Any

import sqlalchemy as sa
import structlog

from config.basics.clock import utc_now
from config.basics.sql import begin_write, immediate_transactions, migration_lock
from monitor import schema
from monitor.state.sql_text import render_statement

Migration = Callable[[sa.Connection], None]
log = structlog.get_logger(__name__)


class StateStore:
    def __init__(self, engine: sa.Engine) -> None:
        self.engine = engine

    def migrate(self, packages: Mapping[str, Sequence[Migration]]) -> dict[str, tuple[int, int]]:
        """Apply pending migrations; returns ``{package: (from_version, to_version)}``.

        Safe when several processes start at once (replicas on an empty database): the whole run holds
        the migration lock (PostgreSQL), and each step re-reads its package's version inside its own
        write transaction, so a step another process applied meanwhile is skipped, never repeated."""
        with migration_lock(self.engine):
            with begin_write(self.engine) as conn:
                schema.metadata.create_all(conn, tables=[schema.schema_versions])
            changes: dict[str, tuple[int, int]] = {}
            for package, migrations in packages.items():
                current = self.version(package)
                _refuse_newer(package, current, len(migrations))
                for version in range(current + 1, len(migrations) + 1):
                    with begin_write(self.engine) as conn:
                        if _version(conn, package) >= version:
                            continue
                        migrations[version - 1](conn)
                        _set_version(conn, package, version)
                    log.info("state_migrated", package=package, version=version)
                changes[package] = (current, len(migrations))
        return changes

    def pending(self, packages: Mapping[str, Sequence[Migration]]) -> dict[str, tuple[int, int]]:
        """``{package: (version, latest)}`` for the packages whose tables are behind; changes nothing."""
        with self.engine.connect() as conn:
            known = sa.inspect(conn).has_table(schema.schema_versions.name)
            versions = {package: _version(conn, package) if known else 0 for package in packages}
        for package, migrations in packages.items():
            _refuse_newer(package, versions[package], len(migrations))
        return {package: (versions[package], len(migrations)) for package, migrations in packages.items()
                if versions[package] < len(migrations)}

    def upgrade_sql(self, packages: Mapping[str, Sequence[Migration]]) -> list[str]:
        """The statements :meth:`migrate` would run on this database now, for a DBA to review and apply.

        The pending migrations run for real, in one transaction that is then rolled back (both
        databases roll back DDL), and the data-changing statements they sent are returned with their
        values written in. Nothing is changed."""
        statements: list[str] = []

        def capture(_conn: Any, _cursor: Any, statement: str, parameters: Any, _context: Any,
                    executemany: bool) -> None:
            if statement.lstrip().split(None, 1)[0].upper() not in _CHANGES:
                return
            for params in (parameters if executemany else [parameters]):
                statements.append(render_statement(statement, params, self.engine.dialect.paramstyle))

        with migration_lock(self.engine), self.engine.connect() as conn:
            transaction = conn.begin()
            try:
                sa.event.listen(conn, "before_cursor_execute", capture)
                schema.metadata.create_all(conn, tables=[schema.schema_versions])
                for package, migrations in packages.items():
                    current = _version(conn, package)
                    _refuse_newer(package, current, len(migrations))
                    for version in range(current + 1, len(migrations) + 1):
                        migrations[version - 1](conn)
                        _set_version(conn, package, version)
            finally:
                sa.event.remove(conn, "before_cursor_execute", capture)
                transaction.rollback()
        return statements

    def version(self, package: str) -> int:
        with self.engine.connect() as conn:
            return _version(conn, package)

    def probe_write(self) -> None:
        """A write that changes nothing (the monitor's schema-version row, set to itself): raises the
        database's error when it cannot be written (read-only file or replica, disk full, locked out)."""
        table = schema.schema_versions
        with begin_write(self.engine) as conn:
            conn.execute(sa.update(table).where(table.c.package == "monitor").values(version=table.c.version))

    def close(self) -> None:
        self.engine.dispose()


_CHANGES = frozenset({"CREATE", "ALTER", "DROP", "INSERT", "UPDATE", "DELETE"})


def _refuse_newer(package: str, current: int, known: int) -> None:
    if current > known:
        raise RuntimeError(
            f"the state database has {package} schema version {current}, newer than this "
            f"lakewarden knows ({known}); run a newer lakewarden or restore a backup"
        )


def _version(conn: sa.Connection, package: str) -> int:
    table = schema.schema_versions
    row = conn.execute(sa.select(table.c.version).where(table.c.package == package)).first()
    return int(row[0]) if row else 0


def _set_version(conn: sa.Connection, package: str, version: int) -> None:
    table = schema.schema_versions
    now = utc_now()
    updated = conn.execute(
        sa.update(table).where(table.c.package == package).values(version=version, applied_at=now)
    ).rowcount
    if not updated:
        conn.execute(sa.insert(table).values(package=package, version=version, applied_at=now))


def create_engine(url: str, busy_timeout: timedelta = timedelta(seconds=10)) -> sa.Engine:
    """An engine for ``url``; for SQLite: parent folder created, WAL, busy timeout, BEGIN IMMEDIATE; for
    PostgreSQL: the busy timeout as ``lock_timeout``."""
    parsed = sa.make_url(url)
    timeout_ms = int(busy_timeout.total_seconds() * 1000)
    if parsed.get_backend_name() == "postgresql":
        # lock_timeout: as SQLite's busy timeout, a write that waits longer than this for the write lock
        # (begin_write) fails with the reason instead of hanging behind a stuck replica.
        return sa.create_engine(url, pool_pre_ping=True, connect_args={"options": f"-c lock_timeout={timeout_ms}"})
    if parsed.get_backend_name() != "sqlite":
        return sa.create_engine(url, pool_pre_ping=True)
    if parsed.database and parsed.database != ":memory:":
        Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
    engine = sa.create_engine(url, connect_args={"timeout": busy_timeout.total_seconds(), "check_same_thread": False})
    # First, so the pragmas below run with the driver's own transaction handling already off, as before.
    immediate_transactions(engine)

    @sa.event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        cursor = dbapi_conn.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute(f"PRAGMA busy_timeout={timeout_ms}")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()
    return engine


def open_store(url: str, packages: Mapping[str, Sequence[Migration]],
               busy_timeout: timedelta = timedelta(seconds=10)) -> StateStore:
    store = StateStore(create_engine(url, busy_timeout))
    store.migrate(packages)
    return store
