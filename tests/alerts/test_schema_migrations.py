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
    assert upgraded.version("alerts") == 3
    assert MEMBERS_FP not in indexes(upgraded.engine, "alerts_group_members")
    with upgraded.engine.connect() as conn:
        assert conn.exec_driver_sql("SELECT group_id, fingerprint FROM alerts_group_members").all() == [("g1", "fp1")]
    upgraded.close()


def test_a_new_database_has_the_same_indexes_as_an_upgraded_one(tmp_path: Path) -> None:
    new = open_store(f"sqlite:///{tmp_path}/new.db", {"alerts": MIGRATIONS})
    assert new.version("alerts") == 3
    assert indexes(new.engine, "alerts_group_members") == set()
    assert "alerts_state_scope_status" in indexes(new.engine, "alerts_state")
    new.close()
