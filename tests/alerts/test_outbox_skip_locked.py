"""Every replica delivers: on PostgreSQL a claim skips the rows another replica is claiming this moment
(``FOR UPDATE SKIP LOCKED``) instead of waiting for them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

from alerts import MIGRATIONS
from alerts.outbox import Outbox, enqueue
from alerts.schema import alerts_outbox as t
from monitor.state import open_store

pytestmark = pytest.mark.integration


def test_on_postgresql_a_claim_skips_the_rows_another_replica_has_locked(pg_url: str) -> None:
    engine = open_store(pg_url, {"alerts": MIGRATIONS}).engine
    now = datetime.now(UTC)
    with engine.begin() as conn:
        ids = [enqueue(conn, now=now - timedelta(seconds=2 - i), receiver="ops", channel_kind="file",
                       channel_index=0, idempotency_key=f"k{i}", payload={"kind": "test", "n": i}) for i in range(2)]
    # This replica gives up on a lock after 2 s: without SKIP LOCKED it would wait on the first row.
    impatient = sa.create_engine(pg_url, connect_args={"options": "-c lock_timeout=2000"})
    outbox = Outbox(impatient, lambda: datetime.now(UTC))
    other = engine.connect()
    try:
        other.begin()  # another replica, in the middle of claiming the oldest row
        other.execute(sa.select(t.c.id).where(t.c.id == ids[0]).with_for_update())
        claimed = outbox.claim_one("replica-b", timedelta(seconds=30))
        assert claimed is not None and claimed.id == ids[1]
    finally:
        other.rollback()
        other.close()
        impatient.dispose()
        engine.dispose()
