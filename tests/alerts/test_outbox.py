"""The outbox on a real SQLite file: claims under a lease, acks, retries with backoff, dead letters."""

from __future__ import annotations

import itertools
import random
import threading
from datetime import timedelta
from typing import TYPE_CHECKING

import pytest
import sqlalchemy as sa

from alerts.outbox import Outbox, OutboxStatus, enqueue
from alerts.retry import RetryPolicy

if TYPE_CHECKING:
    from config.basics.clock import SimulatedClock

# The state tests run on SQLite and on PostgreSQL (tests/pg_server.py).
pytestmark = pytest.mark.both_databases

LEASE = timedelta(minutes=1)


def policy(**overrides: object) -> RetryPolicy:
    values: dict[str, object] = {"rng": random.Random(7)}
    values.update(overrides)
    return RetryPolicy(**values)  # type: ignore[arg-type]


def add(engine: sa.Engine, clock: SimulatedClock, count: int = 1) -> list[int]:
    ids: list[int] = []
    with engine.begin() as conn:
        for _ in range(count):
            row_id = enqueue(conn, now=clock(), receiver="ops", channel_kind="file", channel_index=0,
                             idempotency_key=f"key-{clock().timestamp()}-{len(ids)}", payload={"n": len(ids)})
            assert row_id is not None
            ids.append(row_id)
    return ids


@pytest.fixture
def outbox(engine: sa.Engine, clock: SimulatedClock) -> Outbox:
    return Outbox(engine, clock, policy())


def test_enqueue_ignores_a_repeated_idempotency_key(engine: sa.Engine, clock: SimulatedClock) -> None:
    with engine.begin() as conn:
        first = enqueue(conn, now=clock(), receiver="r", channel_kind="file", channel_index=0,
                        idempotency_key="k", payload={})
        again = enqueue(conn, now=clock(), receiver="r", channel_kind="file", channel_index=0,
                        idempotency_key="k", payload={})
    assert first is not None
    assert again is None


def test_claim_leases_due_rows_and_counts_the_attempt(
    outbox: Outbox, engine: sa.Engine, clock: SimulatedClock
) -> None:
    ids = add(engine, clock, 3)
    rows = outbox.claim("w1", limit=2, lease=LEASE)
    assert [r.id for r in rows] == ids[:2]
    assert all(r.status is OutboxStatus.IN_FLIGHT for r in rows)
    assert all(r.lease_owner == "w1" and r.lease_until == clock() + LEASE and r.attempts == 1 for r in rows)
    assert outbox.counts() == {"pending": 1, "in_flight": 2, "done": 0, "dead": 0}


def test_two_workers_never_claim_the_same_row(outbox: Outbox, engine: sa.Engine, clock: SimulatedClock) -> None:
    add(engine, clock, 5)
    first = outbox.claim("w1", limit=3, lease=LEASE)
    second = outbox.claim("w2", limit=10, lease=LEASE)
    assert len(first) == 3
    assert len(second) == 2
    assert not {r.id for r in first} & {r.id for r in second}
    assert outbox.claim("w3", limit=10, lease=LEASE) == []


def test_concurrent_claims_from_separate_connections_are_disjoint(
    engine: sa.Engine, clock: SimulatedClock
) -> None:
    ids = add(engine, clock, 60)
    barrier = threading.Barrier(4)
    claimed: dict[str, list[int]] = {}

    def work(worker: str) -> None:
        box = Outbox(engine, clock, policy())
        barrier.wait()
        got: list[int] = []
        while batch := box.claim(worker, limit=3, lease=LEASE):
            got += [r.id for r in batch]
        claimed[worker] = got

    threads = [threading.Thread(target=work, args=(f"w{i}",)) for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    everything = [row_id for got in claimed.values() for row_id in got]
    assert sorted(everything) == ids  # each row exactly once


def test_rows_not_yet_due_are_not_claimed(outbox: Outbox, engine: sa.Engine, clock: SimulatedClock) -> None:
    (row_id,) = add(engine, clock)
    outbox.claim("w1", 1, LEASE)
    outcome = outbox.retry(row_id, "w1", "HTTP 503", retry_after=120)
    assert outcome is not None
    assert outcome.next_attempt_at == clock() + timedelta(seconds=120)
    clock.advance(seconds=119)
    assert outbox.claim("w1", 1, LEASE) == []
    clock.advance(seconds=1)
    assert [r.id for r in outbox.claim("w1", 1, LEASE)] == [row_id]


def test_an_expired_lease_is_reclaimed_and_the_stale_ack_rejected(
    outbox: Outbox, engine: sa.Engine, clock: SimulatedClock
) -> None:
    (row_id,) = add(engine, clock)
    outbox.claim("w1", 1, LEASE)
    clock.advance(seconds=59)
    assert outbox.claim("w2", 1, LEASE) == []  # still leased
    clock.advance(seconds=1)
    (row,) = outbox.claim("w2", 1, LEASE)
    assert (row.id, row.lease_owner, row.attempts) == (row_id, "w2", 2)
    assert outbox.ack(row_id, "w1") is False
    assert outbox.retry(row_id, "w1", "late") is None
    assert outbox.dead(row_id, "w1", "late") is False
    assert outbox.rows()[0].status is OutboxStatus.IN_FLIGHT
    assert outbox.ack(row_id, "w2") is True
    done = outbox.rows(OutboxStatus.DONE)[0]
    assert (done.delivered_at, done.lease_owner) == (clock(), None)
    assert outbox.ack(row_id, "w2") is False  # already done


def test_owner_may_still_ack_after_expiry_if_nobody_reclaimed(
    outbox: Outbox, engine: sa.Engine, clock: SimulatedClock
) -> None:
    (row_id,) = add(engine, clock)
    outbox.claim("w1", 1, LEASE)
    clock.advance(minutes=5)
    assert outbox.ack(row_id, "w1") is True


def test_retry_backoff_grows_until_the_cap(engine: sa.Engine, clock: SimulatedClock) -> None:
    box = Outbox(engine, clock, policy(initial_delay=timedelta(seconds=10), max_delay=timedelta(minutes=10)))
    (row_id,) = add(engine, clock)
    delays = []
    for _ in range(10):
        clock.now = box.rows()[0].next_attempt_at
        box.claim("w", 1, LEASE)
        outcome = box.retry(row_id, "w", "HTTP 503")
        assert outcome is not None
        assert outcome.next_attempt_at is not None
        delays.append((outcome.next_attempt_at - clock()).total_seconds())
    assert all(later > earlier for earlier, later in itertools.pairwise(delays[:7]))
    assert 8 <= delays[0] <= 10
    assert all(d <= 600 for d in delays)
    assert delays[-1] >= 600 * 0.8


def test_retry_honours_retry_after_over_a_shorter_backoff(
    outbox: Outbox, engine: sa.Engine, clock: SimulatedClock
) -> None:
    (row_id,) = add(engine, clock)
    outbox.claim("w", 1, LEASE)
    outcome = outbox.retry(row_id, "w", "HTTP 429", retry_after=300)
    assert outcome is not None
    assert outcome.status is OutboxStatus.PENDING
    assert outcome.next_attempt_at == clock() + timedelta(seconds=300)
    row = outbox.rows()[0]
    assert (row.status, row.last_error, row.lease_owner) == (OutboxStatus.PENDING, "HTTP 429", None)


def test_dead_after_max_age(engine: sa.Engine, clock: SimulatedClock) -> None:
    box = Outbox(engine, clock, policy(max_age=timedelta(hours=1)))
    (row_id,) = add(engine, clock)
    clock.advance(minutes=59, seconds=55)
    box.claim("w", 1, LEASE)
    outcome = box.retry(row_id, "w", "HTTP 503")
    assert outcome is not None
    assert outcome.status is OutboxStatus.DEAD
    assert "HTTP 503 (gave up after 1 attempts" in outcome.reason
    assert box.rows(OutboxStatus.DEAD)[0].last_error == outcome.reason


def test_dead_after_max_attempts(engine: sa.Engine, clock: SimulatedClock) -> None:
    box = Outbox(engine, clock, policy(max_attempts=3))
    (row_id,) = add(engine, clock)
    statuses = []
    for _ in range(3):
        clock.now = box.rows()[0].next_attempt_at
        box.claim("w", 1, LEASE)
        outcome = box.retry(row_id, "w", "timeout")
        assert outcome is not None
        statuses.append(outcome.status)
    assert statuses == [OutboxStatus.PENDING, OutboxStatus.PENDING, OutboxStatus.DEAD]
    assert box.counts()["dead"] == 1


def test_a_row_whose_workers_keep_dying_ends_dead(engine: sa.Engine, clock: SimulatedClock) -> None:
    box = Outbox(engine, clock, policy(max_attempts=2))
    add(engine, clock)
    assert len(box.claim("w1", 1, LEASE)) == 1
    clock.advance(minutes=2)
    assert len(box.claim("w2", 1, LEASE)) == 1
    clock.advance(minutes=2)
    assert box.claim("w3", 1, LEASE) == []
    (row,) = box.rows()
    assert row.status is OutboxStatus.DEAD
    assert row.last_error is not None
    assert "lease expired after 2 attempts" in row.last_error


def test_dead_records_the_reason(outbox: Outbox, engine: sa.Engine, clock: SimulatedClock) -> None:
    (row_id,) = add(engine, clock)
    outbox.claim("w", 1, LEASE)
    assert outbox.dead(row_id, "w", "HTTP 400 from http://127.0.0.1:1: bad payload") is True
    row = outbox.rows("dead")[0]
    assert row.last_error == "HTTP 400 from http://127.0.0.1:1: bad payload"
    assert outbox.claim("w", 1, LEASE) == []


def test_backoff_policy_delay_alone() -> None:
    p = RetryPolicy(initial_delay=timedelta(seconds=10), jitter=0, rng=random.Random(1))
    assert [p.delay(n).total_seconds() for n in (1, 2, 3)] == [10, 20, 40]
    assert p.delay(30) == p.max_delay
    assert p.delay(1, retry_after=90).total_seconds() == 90
