"""Silences: their states, the store the CLI writes, and a running pipeline that sees them at once."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
import sqlalchemy as sa

from alerts.silences import Silencer, SilenceState, SilenceStore
from config.matchers import Matcher
from tests.alerts.alert_kit import alert, file_receiver, make_settings, notifier, sent

if TYPE_CHECKING:
    from config.basics.clock import SimulatedClock


def m(*texts: str) -> list[Matcher]:
    return [Matcher.parse(t) for t in texts]


@pytest.fixture
def store(engine: sa.Engine, clock: SimulatedClock) -> SilenceStore:
    return SilenceStore(engine, clock, retention=timedelta(days=5))


def test_a_silence_is_pending_active_then_expired(store: SilenceStore, clock: SimulatedClock) -> None:
    silence = store.add(m('model="churn"'), clock() + timedelta(hours=2), created_by="ana", comment="deploy",
                        starts_at=clock() + timedelta(hours=1))
    assert silence.state(clock()) is SilenceState.PENDING
    assert silence.state(clock() + timedelta(hours=1)) is SilenceState.ACTIVE
    assert silence.state(clock() + timedelta(hours=2)) is SilenceState.EXPIRED  # end is exclusive


def test_expiring_ends_it_now_and_keeps_it_for_audit(store: SilenceStore, clock: SimulatedClock) -> None:
    silence = store.add(m('model="churn"'), clock() + timedelta(hours=2), created_by="ana", comment="deploy")
    clock.advance(minutes=10)
    expired = store.expire(silence.id[:8])  # a unique prefix is enough
    assert expired.ends_at == clock() and expired.state(clock()) is SilenceState.EXPIRED
    assert [s.id for s in store.list([SilenceState.EXPIRED])] == [silence.id]
    with pytest.raises(ValueError, match="already expired"):
        store.expire(silence.id)


def test_expiring_a_pending_silence_moves_its_start_too(store: SilenceStore, clock: SimulatedClock) -> None:
    silence = store.add(m('model="churn"'), clock() + timedelta(hours=3), created_by="ana", comment="later",
                        starts_at=clock() + timedelta(hours=1))
    expired = store.expire(silence.id)
    assert expired.starts_at == expired.ends_at == clock()


def test_expired_silences_are_deleted_after_the_retention(store: SilenceStore, engine: sa.Engine,
                                                          clock: SimulatedClock) -> None:
    store.add(m('model="churn"'), clock() + timedelta(hours=1), created_by="ana", comment="x")
    silencer = Silencer(store)
    clock.advance(days=5, hours=1)
    with engine.begin() as conn:
        silencer.refresh(conn, clock())
    assert len(store.list()) == 1  # exactly at the retention: kept
    clock.advance(seconds=1)
    with engine.begin() as conn:
        silencer.refresh(conn, clock())
    assert store.list() == []


@pytest.mark.parametrize(("matchers", "message"), [
    ([], "at least one matcher"),
    (['model=~".*"'], "match every alert"),
    (['model!="churn"', 'team=""'], "match every alert"),
])
def test_silences_that_would_mute_everything_are_refused(store: SilenceStore, clock: SimulatedClock,
                                                         matchers: list[str], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        store.add(m(*matchers), clock() + timedelta(hours=1), created_by="ana", comment="x")


def test_a_silence_needs_an_end_in_the_future_an_author_and_a_comment(
    store: SilenceStore, clock: SimulatedClock
) -> None:
    with pytest.raises(ValueError, match="in the future"):
        store.add(m('a="1"'), clock() - timedelta(seconds=1), created_by="ana", comment="x")
    with pytest.raises(ValueError, match="--author"):
        store.add(m('a="1"'), clock() + timedelta(hours=1), created_by=" ", comment="x")


@pytest.mark.parametrize(("matchers", "labels", "muted"), [
    (['model="churn"'], {"model": "churn", "severity": "high"}, True),
    (['model="churn"', 'severity="critical"'], {"model": "churn", "severity": "high"}, False),
    (['severity=~"high|medium"'], {"severity": "medium"}, True),
    (['model!="fraud"', 'env="prod"'], {"model": "churn", "env": "prod"}, True),
    (['model="churn"'], {"model": "churn2"}, False),
])
def test_silencer_mutes_what_an_active_silence_matches(
    store: SilenceStore, engine: sa.Engine, clock: SimulatedClock, matchers: list[str], labels: dict[str, str],
    muted: bool,
) -> None:
    store.add(m(*matchers), clock() + timedelta(hours=1), created_by="ana", comment="x")
    store.add(m('model="churn"'), clock() + timedelta(hours=9), created_by="ana", comment="pending",
              starts_at=clock() + timedelta(hours=8))
    silencer = Silencer(store)
    with engine.begin() as conn:
        silencer.refresh(conn, clock())
    assert silencer.mutes(labels) is muted


def test_a_running_pipeline_sees_a_silence_added_by_another_writer_at_its_next_flush(
    engine: sa.Engine, clock: SimulatedClock, tmp_path: Path
) -> None:
    settings = make_settings({"receiver": "ops", "group_by": ["model"], "group_wait": "0s", "group_interval": "1m"},
                             [file_receiver(tmp_path, "ops")])
    n = notifier(engine, clock, settings)
    cli = SilenceStore(sa.create_engine(str(engine.url)), clock)  # another connection, as the CLI has
    silence = cli.add(m('model="churn"'), clock() + timedelta(hours=1), created_by="ana", comment="deploy")
    n.service.sync("churn", [alert(clock, model="churn")])
    n.service.sync("fraud", [alert(clock, model="fraud")])
    n.run_once()
    assert [x[0] for x in sent(tmp_path / "ops.jsonl")] == ["first"]  # fraud only
    assert n.dispatcher.counts["silenced"] == 1
    cli.expire(silence.id)
    clock.advance(minutes=1)
    n.run_once()
    assert [x[0] for x in sent(tmp_path / "ops.jsonl")] == ["first", "first"]  # churn, once unsilenced


def test_a_resolve_is_never_silenced(engine: sa.Engine, clock: SimulatedClock, tmp_path: Path) -> None:
    settings = make_settings({"receiver": "ops", "group_wait": "0s", "group_interval": "1m"},
                             [file_receiver(tmp_path, "ops")])
    n = notifier(engine, clock, settings)
    n.service.sync("churn", [alert(clock, model="churn")])
    n.run_once()
    SilenceStore(engine, clock).add(m('model="churn"'), clock() + timedelta(hours=1), created_by="a", comment="b")
    n.service.sync("churn", [])
    clock.advance(minutes=1)
    n.run_once()
    assert sent(tmp_path / "ops.jsonl") == [("first", "firing", 1), ("all_resolved", "resolved", 1)]


def test_an_alert_silenced_while_its_group_fires_goes_out_once_the_silence_ends(
    engine: sa.Engine, clock: SimulatedClock, tmp_path: Path
) -> None:
    settings = make_settings({"receiver": "ops", "group_by": ["model"], "group_wait": "0s", "group_interval": "1m",
                              "repeat_interval": "4h"}, [file_receiver(tmp_path, "ops")])
    n = notifier(engine, clock, settings)
    n.service.sync("a", [alert(clock, model="churn", signal="a")])
    n.run_once()
    SilenceStore(engine, clock).add(m('signal="b"'), clock() + timedelta(minutes=10), created_by="ana", comment="x")
    n.service.sync("b", [alert(clock, model="churn", signal="b")])
    for _ in range(12):  # the silence ends after 10 minutes: b goes out at the next tick, not after 4h
        clock.advance(minutes=1)
        n.run_once()
    assert [r for r, _, _ in sent(tmp_path / "ops.jsonl")] == ["first", "new_alerts"]
