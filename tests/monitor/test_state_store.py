"""The state database: WAL, forward migrations per package, refusing a newer schema."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from monitor.state import open_store
from monitor.state.store import StateStore, create_engine


def _t1(conn: sa.Connection) -> None:
    conn.exec_driver_sql("CREATE TABLE pkg_things (id INTEGER PRIMARY KEY)")


def _t2(conn: sa.Connection) -> None:
    conn.exec_driver_sql("ALTER TABLE pkg_things ADD COLUMN name TEXT")


def test_sqlite_is_in_wal_mode_and_folder_is_created(tmp_path: Path) -> None:
    store = open_store(f"sqlite:///{tmp_path}/deep/state.db", {})
    with store.engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
    assert (tmp_path / "deep" / "state.db").exists()


def test_migrations_apply_once_and_continue_forward(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/state.db"
    store = open_store(url, {"pkg": (_t1,)})
    assert store.version("pkg") == 1
    store.close()
    store = open_store(url, {"pkg": (_t1, _t2)})  # a newer release adds migration 2
    assert store.version("pkg") == 2
    with store.engine.begin() as conn:
        conn.exec_driver_sql("INSERT INTO pkg_things (id, name) VALUES (1, 'x')")
    assert StateStore(create_engine(url)).migrate({"pkg": (_t1, _t2)}) == {"pkg": (2, 2)}


def test_failed_migration_leaves_the_previous_version(tmp_path: Path) -> None:
    def broken(conn: sa.Connection) -> None:
        conn.exec_driver_sql("CREATE TABLE half (id INTEGER)")
        raise RuntimeError("disk full")

    url = f"sqlite:///{tmp_path}/state.db"
    with pytest.raises(RuntimeError, match="disk full"):
        open_store(url, {"pkg": (_t1, broken)})
    store = StateStore(create_engine(url))
    assert store.version("pkg") == 1
    with store.engine.connect() as conn:
        assert conn.exec_driver_sql("SELECT count(*) FROM sqlite_master WHERE name='half'").scalar() == 0


def test_a_database_from_a_newer_release_is_refused_with_advice(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/state.db"
    open_store(url, {"pkg": (_t1, _t2)}).close()
    with pytest.raises(RuntimeError, match="newer than this lakewarden knows"):
        open_store(url, {"pkg": (_t1,)})


@pytest.mark.both_databases
def test_real_package_migrations_apply_cleanly_to_an_empty_database(state_url: str) -> None:
    """On SQLite and on PostgreSQL (which refused the monitor's version 2: a string into a json column)."""
    from monitor.app import package_migrations

    migrations = package_migrations()
    store = open_store(state_url, migrations)
    try:
        names = set(sa.inspect(store.engine).get_table_names())
        assert {"monitor_assessments", "monitor_watermarks", "alerts_outbox", "retrain_runs"} <= names
        assert {package: store.version(package) for package in migrations} == {
            package: len(steps) for package, steps in migrations.items()}
    finally:
        store.close()


@pytest.mark.both_databases
def test_replicas_starting_together_on_an_empty_database_migrate_once_and_none_fails(state_url: str) -> None:
    """Four stores (each its own engine: its own connections, as replicas have) migrate at the same moment."""
    from monitor.app import package_migrations

    migrations = package_migrations()
    barrier = threading.Barrier(4)
    results: list[dict[str, tuple[int, int]]] = []
    errors: list[str] = []

    def replica() -> None:
        store = StateStore(create_engine(state_url))
        try:
            barrier.wait(30)
            results.append(store.migrate(migrations))
        except Exception as exc:  # collected and asserted below
            errors.append(repr(exc))
        finally:
            store.close()

    threads = [threading.Thread(target=replica) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert errors == []
    latest = {package: len(steps) for package, steps in migrations.items()}
    # one replica migrated every package from 0; the others found them done
    assert sorted(changes == {p: (0, n) for p, n in latest.items()} for changes in results) == [False] * 3 + [True]
    store = StateStore(create_engine(state_url))
    try:
        assert {package: store.version(package) for package in migrations} == latest
    finally:
        store.close()


@pytest.mark.both_databases
def test_upgrade_sql_lists_what_an_upgrade_runs_changes_nothing_and_applies_cleanly(state_url: str) -> None:
    """The statements for a DBA: nothing changes while printing them, and applying them by hand leaves
    the database where a migration would (lakewarden then has nothing left to do)."""
    from monitor.app import package_migrations

    migrations = package_migrations()
    store = StateStore(create_engine(state_url))
    try:
        store.migrate({"monitor": migrations["monitor"][:1]})  # a database one release behind
        behind = store.pending(migrations)
        assert behind == {"monitor": (1, len(migrations["monitor"])), "alerts": (0, len(migrations["alerts"])),
                          "retrain": (0, len(migrations["retrain"]))}
        statements = store.upgrade_sql(migrations)
        assert store.pending(migrations) == behind
        assert any(s.startswith("ALTER TABLE monitor_assessments RENAME") for s in statements)
        assert any(s.startswith("CREATE TABLE retrain_runs") for s in statements)
        with store.engine.begin() as conn:  # as a DBA's psql would
            for statement in statements:
                conn.exec_driver_sql(statement.removesuffix(";"))
        assert store.pending(migrations) == {}
        assert store.migrate(migrations) == {p: (len(s), len(s)) for p, s in migrations.items()}
    finally:
        store.close()



def _replica_process(url: str, go: Any, results: Any) -> None:
    """One replica in a forked process (the imports are the parent's: no start-up cost)."""
    from monitor.app import package_migrations

    store = StateStore(create_engine(url))
    try:
        go.wait(60)
        results.put(store.migrate(package_migrations()))
    except Exception as exc:  # reported to the test
        results.put(repr(exc))
    finally:
        store.close()


@pytest.mark.integration
def test_three_replica_processes_on_an_empty_postgresql_database_one_migrates_none_fails(pg_url: str) -> None:
    """Real processes, each with its own connections, told to start at the same moment."""
    import multiprocessing

    from monitor.app import package_migrations

    context = multiprocessing.get_context("fork")
    go = context.Event()
    results = context.Queue()
    replicas = [context.Process(target=_replica_process, args=(pg_url, go, results)) for _ in range(3)]
    for replica in replicas:
        replica.start()
    go.set()
    reports = [results.get(timeout=120) for _ in replicas]
    for replica in replicas:
        replica.join(30)
    assert [replica.exitcode for replica in replicas] == [0, 0, 0]
    assert all(isinstance(report, dict) for report in reports), reports
    latest = {package: len(steps) for package, steps in package_migrations().items()}
    first = [report == {p: (0, n) for p, n in latest.items()} for report in reports]
    assert sorted(first) == [False, False, True]
    assert all(report == {p: (n, n) for p, n in latest.items()} for report, f in zip(reports, first, strict=True)
               if not f)


@pytest.mark.both_databases
def test_a_writer_waits_at_most_the_busy_timeout_for_the_write_lock(state_url: str) -> None:
    """A replica stuck inside a write transaction makes the others' writes fail with the reason after
    ``state.busy_timeout``, not hang: SQLite's busy timeout, PostgreSQL's lock_timeout."""
    import time
    from datetime import timedelta

    from config.basics.sql import begin_write

    holder = open_store(state_url, {"pkg": (_t1,)})
    waiter = StateStore(create_engine(state_url, busy_timeout=timedelta(milliseconds=300)))
    try:
        with begin_write(holder.engine) as conn:
            conn.exec_driver_sql("INSERT INTO pkg_things (id) VALUES (1)")
            started = time.monotonic()
            with pytest.raises(sa.exc.OperationalError, match="lock"):
                waiter.probe_write()
            assert time.monotonic() - started < 5
        waiter.probe_write()  # the holder committed: the lock is free again
    finally:
        waiter.close()
        holder.close()
