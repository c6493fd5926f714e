"""Insert-if-new on the decision path: SQLite's and PostgreSQL's ON CONFLICT DO NOTHING, and the
portable read-then-insert, answer the same; the statements the hot path builds once render for
PostgreSQL too."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from alerts import groups, inhibit, service, writes
from alerts.schema import alerts_decisions, alerts_group_members, alerts_groups
from alerts.upsert import insert_new, insert_new_returning, read_then_insert, statement

# The state tests run on SQLite and on PostgreSQL (tests/pg_server.py).
pytestmark = pytest.mark.both_databases

T = datetime(2025, 3, 1, 12, tzinfo=UTC)


def member(group: str, fp: str) -> dict[str, Any]:
    return {"group_id": group, "fingerprint": fp, "added_at": T}


def stored(engine: sa.Engine) -> list[tuple[str, str]]:
    with engine.connect() as conn:
        return sorted(tuple(row) for row in conn.execute(
            sa.select(alerts_group_members.c.group_id, alerts_group_members.c.fingerprint)))


def test_insert_new_inserts_only_missing_rows_and_counts_them(engine: sa.Engine) -> None:
    def counted(n: int) -> int | None:  # SQLite counts what executemany inserted; psycopg cannot say
        return n if engine.dialect.name == "sqlite" else None

    with engine.begin() as conn:
        assert insert_new(conn, alerts_group_members, [member("g1", "a"), member("g1", "b")]) == counted(2)
        assert insert_new(conn, alerts_group_members, [member("g1", "b"), member("g2", "b")]) == counted(1)
        assert insert_new(conn, alerts_group_members, [member("g1", "a")]) == counted(0)
        assert insert_new(conn, alerts_group_members, []) == 0
    assert stored(engine) == [("g1", "a"), ("g1", "b"), ("g2", "b")]


def test_insert_new_returning_names_the_rows_it_inserted(engine: sa.Engine) -> None:
    row = {"group_key": "{}:{}", "route_path": "", "receiver": "ops", "labels": {}, "created_at": T,
           "next_flush_at": T, "last_flush_at": None}
    with engine.begin() as conn:
        assert insert_new_returning(conn, alerts_groups, [{"id": "g1", **row}]) == {("g1",)}
        again = [{"id": "g1", **row, "receiver": "other"}, {"id": "g2", **row}]
        assert insert_new_returning(conn, alerts_groups, again) == {("g2",)}
        receivers = dict(conn.execute(sa.select(alerts_groups.c.id, alerts_groups.c.receiver)).all())
    assert receivers == {"g1": "ops", "g2": "ops"}  # the existing row was left as it was


def test_the_portable_path_answers_like_on_conflict(engine: sa.Engine) -> None:
    with engine.begin() as conn:
        assert read_then_insert(conn, alerts_group_members, [member("g1", "a")]) == {("g1", "a")}
        made = read_then_insert(conn, alerts_group_members, [member("g1", "a"), member("g1", "c"), member("g3", "a")])
        assert made == {("g1", "c"), ("g3", "a")}
    assert stored(engine) == [("g1", "a"), ("g1", "c"), ("g3", "a")]


@pytest.mark.parametrize("returning", [False, True])
def test_on_conflict_statements_render_for_postgresql(returning: bool) -> None:
    sql = str(statement("postgresql", alerts_groups, returning).compile(dialect=postgresql.dialect()))
    assert "ON CONFLICT DO NOTHING" in sql
    assert ("RETURNING alerts_groups.id" in sql) is returning
    assert statement("postgresql", alerts_groups, returning) is statement("postgresql", alerts_groups, returning)


PREBUILT = [
    service._STORED, service._stored_query(3), service._REFRESH, service._REFIRE, service._RESOLVE, service._INSERT,
    groups._CHANGED, groups._RESCHEDULE, groups._MEMBERS, groups._LABELS, groups._due_query(500),
    writes._OUTBOX, writes._LOG_INSERT, writes._LOG_UPDATE, writes._RESCHEDULE, writes._DROP, writes._ESCALATION,
    *writes._DELETE_GROUP, inhibit._FIRING,
]


@pytest.mark.parametrize("stmt", PREBUILT, ids=lambda s: str(s).split()[0] + f"-{id(s) % 997}")
@pytest.mark.parametrize("dialect", [postgresql.dialect(), sqlite.dialect()], ids=["postgresql", "sqlite"])
def test_statements_built_once_compile_for_postgresql_and_sqlite(stmt: Any, dialect: sa.Dialect) -> None:
    compiled = stmt.compile(dialect=dialect)
    assert str(compiled).split()[0] in {"SELECT", "INSERT", "UPDATE", "DELETE"}


def test_timestamps_are_stored_as_sqlalchemys_sqlite_text(engine: sa.Engine) -> None:
    """The one-step SQLite formatting of ``UtcDateTime`` writes exactly the text SQLAlchemy's own
    DATETIME would, so ``<=`` in SQL keeps comparing instants, and reads back the same instants."""
    if engine.dialect.name != "sqlite":
        pytest.skip("about SQLite's text storage of timestamps")
    values = [T, datetime(5, 1, 2, 3, 4, 5, 6, tzinfo=UTC),
              datetime(2025, 3, 1, 17, 0, 0, 123456, tzinfo=timezone(timedelta(hours=5)))]
    with engine.begin() as conn:
        conn.execute(alerts_decisions.insert(), [
            {"at": v, "group_id": "g", "receiver": "r", "reason": "first", "firing": 1, "resolved": 0, "muted": 0,
             "outbox_rows": 1} for v in values])
        raw = [row[0] for row in conn.exec_driver_sql("SELECT at FROM alerts_decisions ORDER BY id")]
        back = list(conn.execute(sa.select(alerts_decisions.c.at).order_by(alerts_decisions.c.id)).scalars())
    reference = sqlite.DATETIME().bind_processor(sqlite.dialect())
    assert reference is not None
    assert raw == [reference(v.astimezone(UTC).replace(tzinfo=None)) for v in values]
    assert raw[0] == "2025-03-01 12:00:00.000000"
    assert back == [v.astimezone(UTC) for v in values]


def test_naive_timestamps_are_still_refused(engine: sa.Engine) -> None:
    with pytest.raises(sa.exc.StatementError, match="naive datetime"), engine.begin() as conn:
        conn.execute(alerts_decisions.insert(), [
            {"at": datetime(2025, 3, 1, 12), "group_id": "g", "receiver": "r", "reason": "first",  # noqa: DTZ001
             "firing": 1, "resolved": 0, "muted": 0, "outbox_rows": 1}])
