"""Leases with fencing tokens (``monitor.leases``) on SQLite and PostgreSQL: acquire, renew, expire,
take over, a stale token refused at the write, the fair share between replicas, and SQLite's one replica."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa

from config.basics.clock import SimulatedClock
from config.basics.fence import FenceLost, fenced, install_fencing
from config.basics.sql import begin_write
from monitor import schema
from monitor.leases import (
    FLUSH,
    LeaseKeeper,
    LeaseStore,
    SecondReplica,
    bound_idle_transactions,
    model_lease,
    single_replica,
)
from monitor.state import open_store

pytestmark = pytest.mark.both_databases  # the engine's state_url: SQLite and PostgreSQL (tests/pg_server.py)

TTL = timedelta(seconds=30)
work = sa.Table("lease_test_work", sa.MetaData(), sa.Column("id", sa.Integer, primary_key=True),
                sa.Column("by", sa.String(64), nullable=False))


@pytest.fixture
def engine(state_url: str) -> Iterator[sa.Engine]:
    engine = open_store(state_url, {"monitor": schema.MIGRATIONS}).engine  # monitor_leases: version 4
    work.create(engine)
    install_fencing(engine)
    yield engine
    engine.dispose()


@pytest.fixture
def clock() -> SimulatedClock:
    return SimulatedClock(datetime(2026, 12, 7, 3, 0, tzinfo=UTC))


def _write(engine: sa.Engine, row_id: int, by: str) -> None:
    with begin_write(engine) as conn:
        conn.execute(work.insert().values(id=row_id, by=by))


def _written(engine: sa.Engine) -> dict[int, str]:
    with engine.connect() as conn:
        return {row.id: row.by for row in conn.execute(sa.select(work))}


def test_acquire_renew_expire_take_over_and_the_stale_token_is_refused_at_the_write(
        engine: sa.Engine, clock: SimulatedClock) -> None:
    store = LeaseStore(engine, TTL, clock)
    a = store.acquire("model:churn", "replica-a")
    assert a is not None and a.token == 1
    assert store.acquire("model:churn", "replica-b") is None  # held

    clock.advance(seconds=20)
    renewed = store.renew(a)
    assert renewed is not None and renewed.expires_at == clock() + TTL
    clock.advance(seconds=20)  # 40 s after the first acquire, 20 s after the renewal: still held
    assert store.acquire("model:churn", "replica-b") is None

    with fenced(a):
        _write(engine, 1, "replica-a")  # held: the fence lets it through

    clock.advance(seconds=11)  # past the renewed expiry: replica-a's heartbeat stopped
    b = store.acquire("model:churn", "replica-b")
    assert b is not None and b.token == a.token + 1
    assert store.renew(a) is None  # lost

    with fenced(a), pytest.raises(FenceLost, match="now held by 'replica-b' under #2"):
        _write(engine, 2, "replica-a")  # replica-a woke up: its write is refused, rolled back
    with fenced(b):
        _write(engine, 3, "replica-b")
    assert _written(engine) == {1: "replica-a", 3: "replica-b"}

    assert store.release([b]) == 1
    with fenced(b), pytest.raises(FenceLost, match="released"):
        _write(engine, 4, "replica-b")
    c = store.acquire("model:churn", "replica-a")
    assert c is not None and c.token == 3  # tokens only grow, across releases too
    _write(engine, 5, "unfenced")  # work nothing bound (delivery, CLI) is not fenced


def test_a_restart_under_the_same_instance_id_takes_its_lease_back_with_a_new_token(
        engine: sa.Engine, clock: SimulatedClock) -> None:
    store = LeaseStore(engine, TTL, clock)
    before = store.acquire("alerts:flush", "replica-a")
    after = store.acquire("alerts:flush", "replica-a")  # the same id, a new process: no wait for the TTL
    assert before is not None and after is not None and after.token == before.token + 1
    with fenced(before), pytest.raises(FenceLost):  # whatever the old process still writes is refused
        _write(engine, 1, "old process")


def _keeper(engine: sa.Engine, clock: SimulatedClock, holder: str, models: list[str],
            acquired: list[str] | None = None) -> LeaseKeeper:
    keeper = LeaseKeeper(LeaseStore(engine, TTL, clock), holder, models,
                         on_acquired=None if acquired is None else acquired.append)
    keeper.start(heartbeat=False)  # beats by hand below
    return keeper


def test_replicas_share_the_models_fairly_and_a_dead_replicas_models_move_after_the_ttl(
        engine: sa.Engine, clock: SimulatedClock) -> None:
    models = ["m1", "m2", "m3", "m4", "m5"]
    taken: list[str] = []
    a = _keeper(engine, clock, "replica-a", models)
    assert a.holdings()["models"] == models and a.holdings()["alerts_flush"] is True  # alone: everything
    b = _keeper(engine, clock, "replica-b", models, taken)
    assert b.holdings()["models"] == [] and b.holdings()["live_replicas"] == 2
    with b.model_gate("m1") as held:
        assert not held  # replica-a polls m1

    a.beat()  # sees two replicas: keeps its fair share (3), releases the rest
    b.beat()  # takes them
    assert (a.holdings()["models"], b.holdings()["models"]) == (["m1", "m2", "m3"], ["m4", "m5"])
    assert taken == ["m4", "m5"]  # each is polled at once by its new holder
    assert a.metrics() == {"held": {"model": 3, "alerts_flush": 1, "replica": 1},
                           "takeovers": {"model": 0, "alerts_flush": 0, "replica": 0},
                           "lost": {"model": 0, "alerts_flush": 0, "replica": 0}}
    assert b.metrics()["held"]["model"] == 2 and b.metrics()["takeovers"]["model"] == 0  # released, not taken over

    clock.advance(TTL + timedelta(seconds=1))  # replica-b died: it renews nothing any more
    a.beat()
    assert a.holdings()["models"] == models and a.holdings()["live_replicas"] == 1
    with b.model_gate("m4") as held:  # replica-b comes back from a long pause: its lease is gone
        assert not held
    assert "m4" not in b.holdings()["models"]
    assert a.metrics()["takeovers"] == {"model": 2, "alerts_flush": 0, "replica": 0}  # m4, m5 after the TTL
    assert b.metrics()["lost"]["model"] == 1  # m4, found taken over at its renewal
    a.stop()
    assert [h.holder for h in a.store.holdings() if h.name in (model_lease("m1"), FLUSH)] == [None, None]


def test_a_gate_fences_the_work_inside_it(engine: sa.Engine, clock: SimulatedClock) -> None:
    a = _keeper(engine, clock, "replica-a", ["churn"])
    store = LeaseStore(engine, TTL, clock)
    with a.model_gate("churn") as held:
        assert held
        _write(engine, 1, "replica-a")
        clock.advance(TTL + timedelta(seconds=1))
        assert store.acquire(model_lease("churn"), "replica-b") is not None  # a takeover mid-work
        with pytest.raises(FenceLost):
            _write(engine, 2, "replica-a")
    assert _written(engine) == {1: "replica-a"}


def test_sqlite_refuses_a_second_daemon_on_the_same_file(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/state.db"
    first = single_replica(url, "replica-a")
    assert first is not None
    with pytest.raises(SecondReplica) as refused:
        single_replica(url, "replica-b")
    text = str(refused.value)
    assert str(tmp_path / "state.db") in text and "replica-a" in text and "PostgreSQL" in text
    first.release()
    again = single_replica(url, "replica-b")  # free again once the first one stopped (or died)
    assert again is not None
    again.release()
    assert single_replica("postgresql+psycopg://u@127.0.0.1/x", "replica-a") is None


@pytest.mark.integration
def test_on_postgresql_a_takeover_waits_for_the_fenced_write_in_progress(pg_url: str) -> None:
    """The fence reads the lease row FOR SHARE: a replica taking the lease over waits until the old
    holder's transaction has committed, so nothing the old holder writes lands after the takeover."""
    engine = open_store(pg_url, {"monitor": schema.MIGRATIONS}).engine
    work.create(engine)
    install_fencing(engine)
    clock = SimulatedClock(datetime(2026, 12, 7, 3, 0, tzinfo=UTC))
    store = LeaseStore(engine, TTL, clock)
    a = store.acquire("model:churn", "replica-a")
    assert a is not None
    clock.advance(TTL + timedelta(seconds=1))
    took: list[object] = []
    with fenced(a), begin_write(engine) as conn:
        conn.execute(work.insert().values(id=1, by="replica-a"))  # the fence checked: the row is share-locked
        thief = threading.Thread(target=lambda: took.append(store.acquire("model:churn", "replica-b")))
        thief.start()
        with engine.connect() as probe:  # wait until the takeover is blocked on the lease row's lock
            deadline = datetime.now(UTC) + timedelta(seconds=20)
            while not probe.execute(sa.text(
                    "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
                    "AND query LIKE 'UPDATE monitor_leases%'")).scalar():
                probe.rollback()
                assert datetime.now(UTC) < deadline, "the takeover did not wait for the fenced transaction"
        assert took == []
    thief.join(20)
    assert len(took) == 1 and took[0] is not None
    engine.dispose()


@pytest.mark.integration
def test_on_postgresql_a_replica_frozen_in_a_fenced_write_loses_the_lease_after_the_ttl(pg_url: str) -> None:
    """The other side of that wait: a holder frozen mid-transaction (SIGSTOP, a frozen VM) would keep the
    row locked forever; the server ends its session after the TTL, and the lease moves."""
    ttl = timedelta(seconds=1)
    engine = open_store(pg_url, {"monitor": schema.MIGRATIONS}).engine
    work.create(engine)
    install_fencing(engine)
    bound_idle_transactions(engine, ttl)
    clock = SimulatedClock(datetime(2026, 12, 7, 3, 0, tzinfo=UTC))
    store = LeaseStore(engine, ttl, clock)
    a = store.acquire("model:churn", "replica-a")
    assert a is not None
    clock.advance(seconds=2)
    frozen = engine.connect()
    with fenced(a):
        frozen.begin()
        frozen.execute(work.insert().values(id=1, by="replica-a"))  # then nothing: frozen, locks held
    started = datetime.now(UTC)
    while (b := store.acquire("model:churn", "replica-b")) is None:  # each try waits at most ttl/6
        assert datetime.now(UTC) - started < timedelta(seconds=20), "the frozen session kept the lease"
    # It wakes up: its session was ended, nothing it wrote stays.
    with pytest.raises(sa.exc.DBAPIError, match="idle-in-transaction timeout"):
        frozen.commit()
    frozen.invalidate()
    assert b.token == a.token + 1 and _written(engine) == {}
    engine.dispose()
