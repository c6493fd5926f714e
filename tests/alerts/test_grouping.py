"""Aggregation groups and their timers, end to end on a real SQLite file with a fake clock.

group_wait before the first notification (an alert that resolves within it is never sent),
group_interval between notifications of a changed group, repeat_interval for an unchanged one,
all of it durable across a restart.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
import sqlalchemy as sa
from structlog.testing import capture_logs

from alerts.model import Alert
from alerts.schema import alerts_decisions, alerts_groups, alerts_nflog
from tests.alerts.alert_kit import alert, file_receiver, lines, make_settings, notifier, sent

if TYPE_CHECKING:
    from config.basics.clock import SimulatedClock

ROUTE = {"receiver": "ops", "group_by": ["model"], "group_wait": "30s", "group_interval": "5m",
         "repeat_interval": "1h"}


@pytest.fixture
def settings(tmp_path: Path) -> Any:
    quiet = {"name": "quiet", "file_configs": [{"path": str(tmp_path / "quiet.jsonl"), "send_resolved": False}]}
    return make_settings({**ROUTE, "routes": [{"matchers": ['team="quiet"'], "receiver": "quiet"}]},
                         [file_receiver(tmp_path, "ops"), quiet])


def tick(n: Any, clock: SimulatedClock, **step: float) -> None:
    clock.advance(**step)
    n.run_once()


def test_the_first_notification_waits_for_group_wait(engine: sa.Engine, clock: SimulatedClock, settings: Any,
                                                     tmp_path: Path) -> None:
    n = notifier(engine, clock, settings)
    first = alert(clock, model="churn", severity="high")
    n.service.sync("churn", [first])
    tick(n, clock, seconds=29)
    assert sent(tmp_path / "ops.jsonl") == []
    tick(n, clock, seconds=1)
    (note,) = lines(tmp_path / "ops.jsonl")
    assert note == {
        "version": 2, "kind": "notification", "status": "firing", "reason": "first", "receiver": "ops",
        "groupKey": '{}:{model="churn"}', "groupId": note["groupId"], "groupLabels": {"model": "churn"},
        "commonLabels": {"alertname": "ModelAtRisk", "model": "churn", "severity": "high"},
        "commonAnnotations": {"summary": "{'model': 'churn', 'severity': 'high'}"},
        "alerts": [{"status": "firing", "labels": dict(first.labels), "annotations": dict(first.annotations),
                    "startsAt": "2025-03-01T12:00:00Z", "endsAt": None, "fingerprint": first.fingerprint}],
        "escalation": None,
    }
    assert len(note["groupId"]) == 20


def test_an_alert_that_resolves_within_group_wait_is_never_sent(engine: sa.Engine, clock: SimulatedClock,
                                                                settings: Any, tmp_path: Path) -> None:
    n = notifier(engine, clock, settings)
    n.service.sync("churn", [alert(clock, model="churn")])
    clock.advance(seconds=10)
    n.service.sync("churn", [])
    for _ in range(5):
        tick(n, clock, minutes=5)
    assert sent(tmp_path / "ops.jsonl") == []
    with engine.connect() as conn:
        assert conn.execute(sa.select(alerts_groups)).all() == []  # the empty group is gone
    assert n.dispatcher.counts == {"suppressed": 1}


def test_alerts_arriving_within_group_wait_go_out_together(engine: sa.Engine, clock: SimulatedClock, settings: Any,
                                                           tmp_path: Path) -> None:
    n = notifier(engine, clock, settings)
    n.service.sync("a", [alert(clock, model="churn", signal="drift")])
    clock.advance(seconds=20)
    n.service.sync("b", [alert(clock, model="churn", signal="volume")])
    tick(n, clock, seconds=10)
    assert sent(tmp_path / "ops.jsonl") == [("first", "firing", 2)]


def test_changes_wait_for_group_interval(
    engine: sa.Engine, clock: SimulatedClock, settings: Any, tmp_path: Path
) -> None:
    n = notifier(engine, clock, settings)
    n.service.sync("a", [alert(clock, model="churn", signal="drift")])
    tick(n, clock, seconds=30)  # the first send
    tick(n, clock, seconds=30)
    n.service.sync("b", [alert(clock, model="churn", signal="volume")])
    tick(n, clock, minutes=4, seconds=29)
    assert sent(tmp_path / "ops.jsonl") == [("first", "firing", 1)]
    tick(n, clock, seconds=1)  # 5 minutes after the first send
    assert sent(tmp_path / "ops.jsonl") == [("first", "firing", 1), ("new_alerts", "firing", 2)]


def test_unchanged_groups_repeat_after_repeat_interval_on_a_group_interval_tick(
    engine: sa.Engine, clock: SimulatedClock, settings: Any, tmp_path: Path
) -> None:
    n = notifier(engine, clock, settings)
    n.service.sync("a", [alert(clock, model="churn")])
    tick(n, clock, seconds=30)
    for _ in range(11):  # 55 minutes of group_interval ticks: nothing new
        tick(n, clock, minutes=5)
    assert [r for r, _, _ in sent(tmp_path / "ops.jsonl")] == ["first"]
    tick(n, clock, minutes=5)  # 60 minutes
    assert [r for r, _, _ in sent(tmp_path / "ops.jsonl")] == ["first", "repeat"]


def test_all_resolved_goes_out_and_the_group_is_forgotten(engine: sa.Engine, clock: SimulatedClock, settings: Any,
                                                          tmp_path: Path) -> None:
    n = notifier(engine, clock, settings)
    n.service.sync("a", [alert(clock, model="churn")])
    tick(n, clock, seconds=30)
    n.service.sync("a", [])
    tick(n, clock, minutes=5)
    assert sent(tmp_path / "ops.jsonl") == [("first", "firing", 1), ("all_resolved", "resolved", 1)]
    assert lines(tmp_path / "ops.jsonl")[1]["alerts"][0]["status"] == "resolved"
    with engine.connect() as conn:
        assert conn.execute(sa.select(alerts_groups)).all() == []
        assert conn.execute(sa.select(alerts_nflog)).all() == []


def test_a_partial_resolve_is_sent_when_the_receiver_wants_resolves(engine: sa.Engine, clock: SimulatedClock,
                                                                    settings: Any, tmp_path: Path) -> None:
    n = notifier(engine, clock, settings)
    n.service.sync("a", [alert(clock, model="churn", signal="drift")])
    n.service.sync("b", [alert(clock, model="churn", signal="volume")])
    tick(n, clock, seconds=30)
    n.service.sync("b", [])
    tick(n, clock, minutes=5)
    assert sent(tmp_path / "ops.jsonl") == [("first", "firing", 2), ("resolved", "firing", 2)]


def test_a_channel_without_send_resolved_never_hears_of_resolves(engine: sa.Engine, clock: SimulatedClock,
                                                                 settings: Any, tmp_path: Path) -> None:
    n = notifier(engine, clock, settings)
    n.service.sync("a", [alert(clock, model="churn", team="quiet")])
    tick(n, clock, seconds=30)
    n.service.sync("a", [])
    tick(n, clock, minutes=5)
    assert sent(tmp_path / "quiet.jsonl") == [("first", "firing", 1)]
    assert n.dispatcher.counts["all_resolved"] == 1  # decided and logged all the same


def test_timers_and_the_log_survive_a_restart(engine: sa.Engine, clock: SimulatedClock, settings: Any,
                                              tmp_path: Path) -> None:
    n = notifier(engine, clock, settings)
    n.service.sync("a", [alert(clock, model="churn")])
    clock.advance(seconds=15)
    restarted = notifier(engine, clock, settings, worker_id="w2")  # half-way through group_wait
    tick(restarted, clock, seconds=14)
    assert sent(tmp_path / "ops.jsonl") == []
    tick(restarted, clock, seconds=1)
    restarted.service.sync("a", [])
    again = notifier(engine, clock, settings, worker_id="w3")
    tick(again, clock, minutes=5)
    assert sent(tmp_path / "ops.jsonl") == [("first", "firing", 1), ("all_resolved", "resolved", 1)]


def test_every_decision_is_logged_and_counted_and_audited(
    engine: sa.Engine, clock: SimulatedClock, settings: Any
) -> None:
    n = notifier(engine, clock, settings)
    n.service.sync("a", [alert(clock, model="churn", team="quiet")])  # the quiet receiver: no resolves
    with capture_logs() as logs:
        tick(n, clock, seconds=30)
        tick(n, clock, minutes=1)
    decisions = [(e["reason"], e["firing"]) for e in logs if e["event"] == "alert_group_decision"]
    assert decisions == [("first", 1)]  # unchanged: not judged again before its repeat_interval
    n.service.sync("b", [alert(clock, model="churn", team="quiet", signal="second")])
    n.service.sync("b", [])  # fired and resolved within one group_interval
    with capture_logs() as logs:
        tick(n, clock, minutes=4)
    assert [e["reason"] for e in logs if e["event"] == "alert_group_decision"] == ["suppressed"]
    assert n.dispatcher.counts == {"first": 1, "suppressed": 1}
    with engine.connect() as conn:
        assert [r.reason for r in conn.execute(sa.select(alerts_decisions))] == ["first"]  # not "suppressed"


def test_many_groups_are_judged_in_batches(engine: sa.Engine, clock: SimulatedClock, tmp_path: Path) -> None:
    settings = make_settings({**ROUTE, "group_wait": "0s"}, [file_receiver(tmp_path, "ops")],
                             alerting={"flush_batch": 7})
    n = notifier(engine, clock, settings)
    n.service.sync("all", [Alert({"model": f"m{i}"}, {}, clock()) for i in range(30)])
    assert len(sent(tmp_path / "ops.jsonl")) == 0  # enqueued by the sync's flush, not yet delivered
    report = n.run_once(limit=100)
    assert report.delivered == 30
    assert {k for k, *_ in sent(tmp_path / "ops.jsonl")} == {"first"}
