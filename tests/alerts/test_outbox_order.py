"""Order per group in the outbox: one row claimed at a time, newer state supersedes older undelivered
state, a row waits while an older one of its group is being sent, acknowledgements keep their place,
heartbeats and a restarted instance taking back its own claims."""

from __future__ import annotations

import itertools
from datetime import timedelta
from typing import TYPE_CHECKING, Any

import pytest
import sqlalchemy as sa

from alerts.outbox import Outbox, OutboxStatus, enqueue
from alerts.outboxview import describe_outbox
from alerts.retry import RetryPolicy

if TYPE_CHECKING:
    from config.basics.clock import SimulatedClock

# The state tests run on SQLite and on PostgreSQL (tests/pg_server.py).
pytestmark = pytest.mark.both_databases

LEASE = timedelta(seconds=30)
_keys = itertools.count()


def add(engine: sa.Engine, clock: SimulatedClock, status: str = "firing", group: str = "g1",
        kind: str = "notification", channel: str = "pagerduty") -> int:
    payload: dict[str, Any] = {"kind": kind, "status": status, "groupId": group, "groupKey": f"{{}}:{group}"}
    with engine.begin() as conn:
        row_id = enqueue(conn, now=clock(), receiver="pager", channel_kind=channel, channel_index=0,
                         idempotency_key=f"k{next(_keys)}", payload=payload)
    assert row_id is not None
    return row_id


@pytest.fixture
def outbox(engine: sa.Engine, clock: SimulatedClock) -> Outbox:
    return Outbox(engine, clock, RetryPolicy(jitter=0.0))


def by_id(outbox: Outbox) -> dict[int, Any]:
    return {row.id: row for row in outbox.rows()}


def test_a_claim_covers_one_row_not_a_batch(outbox: Outbox, engine: sa.Engine, clock: SimulatedClock) -> None:
    ids = [add(engine, clock, group=f"g{i}") for i in range(3)]
    row = outbox.claim_one("w1", LEASE)
    assert row is not None and row.id == ids[0]
    assert [r.status for r in outbox.rows()] == [OutboxStatus.IN_FLIGHT, OutboxStatus.PENDING, OutboxStatus.PENDING]


def test_a_resolve_queued_behind_a_rate_limited_trigger_supersedes_it(
    outbox: Outbox, engine: sa.Engine, clock: SimulatedClock
) -> None:
    trigger = add(engine, clock)
    claimed = outbox.claim_one("w1", LEASE)
    assert claimed is not None and claimed.id == trigger and claimed.resend_since is None
    outbox.retry(trigger, "w1", "HTTP 429", retry_after=30)  # pending again, due in 30 s
    clock.advance(timedelta(seconds=3))
    resolve = add(engine, clock, "resolved")
    sent = outbox.claim_one("w1", LEASE)
    assert sent is not None and sent.id == resolve
    assert sent.resend_since is not None  # the trigger was attempted: a channel may look for what it left
    assert outbox.ack(resolve, "w1")
    clock.advance(timedelta(seconds=60))
    assert outbox.claim_one("w1", LEASE) is None  # the trigger never goes after its resolve
    rows = by_id(outbox)
    assert (rows[trigger].status, rows[trigger].superseded_by) == (OutboxStatus.DONE, resolve)
    assert rows[trigger].delivered_at is None
    assert f"#{trigger:<6} superseded" in describe_outbox(engine, include_done=True)


def test_an_older_row_due_first_is_superseded_by_a_newer_one_of_its_group(
    outbox: Outbox, engine: sa.Engine, clock: SimulatedClock
) -> None:
    first, second, other = add(engine, clock), add(engine, clock, "resolved"), add(engine, clock, group="g2")
    claimed = outbox.claim("w1", 10, LEASE)
    assert [r.id for r in claimed] == [second, other]
    assert by_id(outbox)[first].superseded_by == second


def test_a_row_waits_while_an_older_row_of_its_group_is_being_sent(
    outbox: Outbox, engine: sa.Engine, clock: SimulatedClock
) -> None:
    trigger = add(engine, clock)
    assert outbox.claim_one("w1", LEASE) is not None
    resolve, other = add(engine, clock, "resolved"), add(engine, clock, group="g2")
    nxt = outbox.claim_one("w2", LEASE)
    assert nxt is not None and nxt.id == other  # the resolve waits; other groups do not
    assert outbox.claim_one("w2", LEASE) is None
    assert outbox.ack(trigger, "w1")
    nxt = outbox.claim_one("w2", LEASE)
    assert nxt is not None and nxt.id == resolve and nxt.resend_since is None


def test_a_crashed_send_is_superseded_after_its_lease_and_the_newer_row_inherits_its_first_attempt(
    outbox: Outbox, engine: sa.Engine, clock: SimulatedClock
) -> None:
    trigger = add(engine, clock)
    started = clock()
    assert outbox.claim_one("dead-worker", LEASE) is not None
    resolve = add(engine, clock, "resolved")
    clock.advance(LEASE)
    row = outbox.claim_one("w2", LEASE)
    assert row is not None and row.id == resolve and row.resend_since == started
    assert by_id(outbox)[trigger].superseded_by == resolve


def test_an_acknowledgement_keeps_its_place_in_the_group(
    outbox: Outbox, engine: sa.Engine, clock: SimulatedClock
) -> None:
    trigger = add(engine, clock)
    assert outbox.claim_one("w1", LEASE) is not None
    outbox.retry(trigger, "w1", "HTTP 503")
    ack = add(engine, clock, "acknowledged", kind="acknowledgement")
    assert outbox.claim_one("w1", LEASE) is None  # the ack waits for the trigger's retry
    clock.advance(timedelta(minutes=1))
    assert [r.id for r in outbox.claim("w1", 10, LEASE)] == [trigger]
    assert outbox.ack(trigger, "w1")
    again = outbox.claim_one("w1", LEASE)
    assert again is not None and again.id == ack
    resolve = add(engine, clock, "resolved")
    assert outbox.claim_one("w1", LEASE) is None  # the resolve waits for the ack in flight
    assert outbox.ack(ack, "w1")
    last = outbox.claim_one("w1", LEASE)
    assert last is not None and last.id == resolve


def test_unordered_rows_are_never_held_back(outbox: Outbox, engine: sa.Engine, clock: SimulatedClock) -> None:
    test_rows = [add(engine, clock, kind="test"), add(engine, clock, kind="test")]
    assert [r.id for r in outbox.claim("w1", 10, LEASE)] == test_rows
    assert all(r.group_ref is None for r in outbox.rows())


def test_a_heartbeat_renews_the_lease_of_the_row_being_sent(
    outbox: Outbox, engine: sa.Engine, clock: SimulatedClock
) -> None:
    row_id = add(engine, clock)
    assert outbox.claim_one("w1", LEASE) is not None
    clock.advance(timedelta(seconds=20))
    assert outbox.renew(row_id, "w1", LEASE)
    clock.advance(timedelta(seconds=20))  # 40 s after the claim, 20 s after the renewal
    assert outbox.claim_one("w2", LEASE) is None
    assert not outbox.renew(row_id, "w2", LEASE)


def test_a_restarted_instance_takes_its_own_claims_back_at_once(
    outbox: Outbox, engine: sa.Engine, clock: SimulatedClock
) -> None:
    row_id = add(engine, clock)
    assert outbox.claim_one("host-a", LEASE) is not None
    assert outbox.take_back("host-b") == 0
    assert outbox.take_back("host-a") == 1
    row = outbox.claim_one("host-a", LEASE)
    assert row is not None and row.id == row_id and row.attempts == 2 and row.resend_since is not None
