"""The alerts tables' migrations: a database made by an older version and a new one converge."""

from __future__ import annotations

from pathlib import Path

import sqlalchemy as sa

from alerts.schema import MIGRATIONS
from monitor.state import open_store

MEMBERS_FP = "alerts_group_members_fp"


def indexes(engine: sa.Engine, table: str) -> set[str]:
    with engine.connect() as conn:
        return {ix["name"] for ix in sa.inspect(conn).get_indexes(table) if ix["name"]}


def test_v3_drops_the_members_fingerprint_index_of_an_older_database(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/state.db"
    old = open_store(url, {"alerts": MIGRATIONS[:2]})
    with old.engine.begin() as conn:  # what version 2 created
        conn.exec_driver_sql(f"CREATE INDEX {MEMBERS_FP} ON alerts_group_members (fingerprint)")
        conn.exec_driver_sql("INSERT INTO alerts_group_members VALUES ('g1', 'fp1', '2025-03-01 12:00:00.000000')")
    assert old.version("alerts") == 2 and MEMBERS_FP in indexes(old.engine, "alerts_group_members")
    old.close()

    upgraded = open_store(url, {"alerts": MIGRATIONS})
    assert upgraded.version("alerts") == len(MIGRATIONS)
    assert MEMBERS_FP not in indexes(upgraded.engine, "alerts_group_members")
    with upgraded.engine.connect() as conn:
        assert conn.exec_driver_sql("SELECT group_id, fingerprint FROM alerts_group_members").all() == [("g1", "fp1")]
    upgraded.close()


def test_a_new_database_has_the_same_indexes_as_an_upgraded_one(tmp_path: Path) -> None:
    new = open_store(f"sqlite:///{tmp_path}/new.db", {"alerts": MIGRATIONS})
    assert new.version("alerts") == len(MIGRATIONS)
    assert indexes(new.engine, "alerts_group_members") == set()
    assert "alerts_state_scope_status" in indexes(new.engine, "alerts_state")
    new.close()


def columns(engine: sa.Engine, table: str) -> dict[str, str]:
    with engine.connect() as conn:
        return {c["name"]: str(c["type"]) for c in sa.inspect(conn).get_columns(table)}


def test_v4_adds_the_outbox_order_columns_to_a_v3_database_and_keeps_its_rows(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/state.db"
    old = open_store(url, {"alerts": MIGRATIONS[:3]})
    assert "group_ref" not in columns(old.engine, "alerts_outbox")
    with old.engine.begin() as conn:  # a row queued by version 3, still pending at the upgrade
        conn.exec_driver_sql(
            "INSERT INTO alerts_outbox (created_at, receiver, channel_kind, channel_index, idempotency_key, payload,"
            " status, attempts, next_attempt_at) VALUES ('2025-03-01 12:00:00.000000', 'pager', 'file', 0, 'k1',"
            " '{\"kind\": \"notification\", \"groupId\": \"g1\"}', 'pending', 0, '2025-03-01 12:00:00.000000')")
    old.close()

    upgraded = open_store(url, {"alerts": MIGRATIONS})
    assert upgraded.version("alerts") == 4
    new = open_store(f"sqlite:///{tmp_path}/new.db", {"alerts": MIGRATIONS})
    assert columns(upgraded.engine, "alerts_outbox") == columns(new.engine, "alerts_outbox")
    assert indexes(upgraded.engine, "alerts_outbox") == indexes(new.engine, "alerts_outbox")
    assert "alerts_outbox_group" in indexes(upgraded.engine, "alerts_outbox")
    with upgraded.engine.connect() as conn:
        assert conn.exec_driver_sql(
            "SELECT idempotency_key, group_ref, latest_wins, superseded_by, first_attempt_at FROM alerts_outbox"
        ).all() == [("k1", None, 0, None, None)]
    upgraded.close()
    new.close()
