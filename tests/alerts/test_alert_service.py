"""AlertService.sync against a real SQLite file: alert state, and the groups its alerts join."""

from __future__ import annotations

import threading
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
import sqlalchemy as sa

from alerts.model import Alert
from alerts.outbox import Outbox
from alerts.schema import alerts_group_members, alerts_groups, alerts_state
from alerts.service import AlertService, Notification
from config.receivers import Receiver
from config.routing import Route

if TYPE_CHECKING:
    from config.basics.clock import SimulatedClock

# The state tests run on SQLite and on PostgreSQL (tests/pg_server.py).
pytestmark = pytest.mark.both_databases

ROUTE = Route.model_validate({
    "receiver": "ops",
    "group_by": ["model"],
    "routes": [
        {"matchers": ['team="ml"'], "receiver": "ml", "continue": True},
        {"matchers": ['model=~".+"'], "receiver": "ops"},
    ],
})


def receivers(tmp_path: Path) -> list[Receiver]:
    return [
        Receiver.model_validate({
            "name": "ops",
            "file_configs": [{"path": str(tmp_path / "ops.jsonl")}],
            "webhook_configs": [{"url": "http://127.0.0.1:9/hook", "send_resolved": False}],
        }),
        Receiver.model_validate({"name": "ml", "console_configs": [{}]}),
    ]


@pytest.fixture
def service(engine: sa.Engine, tmp_path: Path, clock: SimulatedClock) -> AlertService:
    return AlertService(engine, ROUTE, receivers(tmp_path), clock)


def churn(clock: SimulatedClock, severity: str = "high", **annotations: str) -> Alert:
    return Alert({"model": "churn", "severity": severity}, annotations, clock())


def kinds(notes: list[Any]) -> list[tuple[str, str]]:
    return sorted((n.status, n.receiver) for n in notes)


def groups(engine: sa.Engine) -> list[tuple[str, str, int]]:
    """(group key, receiver, members) per group."""
    with engine.connect() as conn:
        rows = conn.execute(sa.select(alerts_groups.c.id, alerts_groups.c.group_key, alerts_groups.c.receiver)).all()
        members = conn.execute(sa.select(alerts_group_members.c.group_id)).scalars().all()
    return sorted((row.group_key, row.receiver, members.count(row.id)) for row in rows)


def test_a_new_alert_fires_and_joins_its_routes_group_without_sending_yet(
    service: AlertService, engine: sa.Engine, clock: SimulatedClock
) -> None:
    notes = service.sync("churn", [churn(clock)])
    assert [(n.status, n.receiver, n.group_key) for n in notes] == [
        ("firing", "ops", '{}/{model=~".+"}:{model="churn"}')]
    assert groups(engine) == [('{}/{model=~".+"}:{model="churn"}', "ops", 1)]
    assert Outbox(engine, clock).rows() == []  # decided when the group is due (group_wait)


def test_continue_routes_fan_out_to_several_groups(service: AlertService, engine: sa.Engine,
                                                   clock: SimulatedClock) -> None:
    alert = Alert({"model": "churn", "team": "ml"}, {}, clock())
    assert kinds(service.sync("churn", [alert])) == [("firing", "ml"), ("firing", "ops")]
    assert sorted(g[1] for g in groups(engine)) == ["ml", "ops"]


def test_alerts_with_the_same_group_labels_share_a_group(service: AlertService, engine: sa.Engine,
                                                         clock: SimulatedClock) -> None:
    service.sync("churn", [churn(clock, "high"), Alert({"model": "churn", "signal": "volume"}, {}, clock())])
    assert groups(engine) == [('{}/{model=~".+"}:{model="churn"}', "ops", 2)]


def test_unchanged_resync_changes_nothing(service: AlertService, engine: sa.Engine, clock: SimulatedClock) -> None:
    service.sync("churn", [churn(clock)])
    clock.advance(minutes=1)
    assert service.sync("churn", [churn(clock)]) == []
    assert groups(engine) == [('{}/{model=~".+"}:{model="churn"}', "ops", 1)]


def test_fire_resolve_fire_again(service: AlertService, engine: sa.Engine, clock: SimulatedClock) -> None:
    first = churn(clock)
    service.sync("churn", [first])
    resolved_at = clock.advance(minutes=10)
    notes = service.sync("churn", [])
    assert kinds(notes) == [("resolved", "ops")]
    assert service.firing("churn") == []
    with engine.connect() as conn:
        row = conn.execute(sa.select(alerts_state)).one()
    assert (row.status, row.ends_at) == ("resolved", resolved_at)
    assert groups(engine) == [('{}/{model=~".+"}:{model="churn"}', "ops", 1)]  # stays until judged

    clock.advance(minutes=5)
    notes = service.sync("churn", [churn(clock)])
    assert kinds(notes) == [("firing", "ops")]
    assert [a.starts_at for a in service.firing("churn")] == [clock()]


def test_refiring_with_an_old_start_opens_a_new_episode_now(
    service: AlertService, engine: sa.Engine, clock: SimulatedClock
) -> None:
    alert = churn(clock)
    service.sync("churn", [alert])
    clock.advance(minutes=10)
    service.sync("churn", [])
    clock.advance(minutes=10)
    notes = service.sync("churn", [alert])  # same object, starts_at before the last end
    assert kinds(notes) == [("firing", "ops")]
    assert service.firing()[0].starts_at == clock()


def test_changed_labels_resolve_the_old_alert_and_fire_the_new(
    service: AlertService, clock: SimulatedClock
) -> None:
    service.sync("churn", [churn(clock, "high")])
    clock.advance(minutes=1)
    notes = service.sync("churn", [churn(clock, "critical")])
    assert [(n.status, n.labels["severity"]) for n in notes] == [("firing", "critical"), ("resolved", "high")]
    assert [a.labels["severity"] for a in service.firing()] == ["critical"]


def test_annotation_changes_are_stored_without_notifying(service: AlertService, clock: SimulatedClock) -> None:
    service.sync("churn", [churn(clock, summary="risk 70")])
    assert service.sync("churn", [churn(clock, summary="risk 80")]) == []
    assert service.firing()[0].annotations == {"summary": "risk 80"}


def test_scopes_do_not_resolve_each_other(service: AlertService, clock: SimulatedClock) -> None:
    fraud = Alert({"model": "fraud"}, {}, clock())
    service.sync("churn", [churn(clock)])
    service.sync("fraud", [fraud])
    assert service.sync("fraud", [churn(clock)]) != []  # resolves fraud only ...
    assert {a.labels["model"] for a in service.firing()} == {"churn"}
    assert [a.labels["model"] for a in service.firing("fraud")] == ["churn"]  # ... and churn moved here
    assert service.firing("churn") == []


def test_an_alert_passed_with_a_past_end_resolves_at_that_end(
    service: AlertService, engine: sa.Engine, clock: SimulatedClock
) -> None:
    service.sync("churn", [churn(clock)])
    ended = Alert({"model": "churn", "severity": "high"}, {}, clock(), ends_at=clock() + timedelta(minutes=3))
    clock.advance(minutes=5)
    assert kinds(service.sync("churn", [ended])) == [("resolved", "ops")]
    with engine.connect() as conn:
        assert conn.execute(sa.select(alerts_state.c.ends_at)).scalar_one() == ended.ends_at


def test_state_survives_a_restart(engine: sa.Engine, tmp_path: Path, clock: SimulatedClock) -> None:
    AlertService(engine, ROUTE, receivers(tmp_path), clock).sync("churn", [churn(clock)])
    restarted = AlertService(engine, ROUTE, receivers(tmp_path), clock)
    assert [a.labels["model"] for a in restarted.firing()] == ["churn"]
    assert restarted.sync("churn", [churn(clock)]) == []
    assert kinds(restarted.sync("churn", [])) == [("resolved", "ops")]


def test_routes_naming_unknown_receivers_are_rejected(
    engine: sa.Engine, tmp_path: Path, clock: SimulatedClock
) -> None:
    route = Route.model_validate({"receiver": "ops", "routes": [{"receiver": "nobody"}]})
    with pytest.raises(ValueError, match="nobody"):
        AlertService(engine, route, receivers(tmp_path), clock)


def test_concurrent_syncs_of_one_scope_notify_once_and_never_fail(
    engine: sa.Engine, tmp_path: Path, clock: SimulatedClock
) -> None:
    errors: list[str] = []
    notes: list[Notification] = []
    for round_ in range(5):
        barrier = threading.Barrier(6)
        alert = Alert({"model": "churn", "round": str(round_)}, {}, clock())

        def run(alert: Alert = alert, barrier: threading.Barrier = barrier) -> None:
            service = AlertService(engine, ROUTE, receivers(tmp_path), clock)
            barrier.wait()
            try:
                notes.extend(service.sync("churn", [alert]))
            except Exception as exc:  # collected and asserted below
                errors.append(repr(exc))

        threads = [threading.Thread(target=run) for _ in range(6)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(30)
    assert errors == []
    # Each round: the new alert fires once; from round 1 the previous one resolves.
    assert sorted(n.status for n in notes).count("firing") == 5
    assert sorted(n.status for n in notes).count("resolved") == 4
