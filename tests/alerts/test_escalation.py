"""Escalation policies with a fake clock: steps, repeats, acknowledgement, resolve, muting."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
import sqlalchemy as sa

from alerts.acks import EscalationStore
from alerts.silences import SilenceStore
from config.matchers import Matcher
from tests.alerts.alert_fakes import ROUTING_KEY, PagerDutyServer
from tests.alerts.alert_kit import alert, file_receiver, lines, make_settings, notifier

if TYPE_CHECKING:
    from config.basics.clock import SimulatedClock

POLICY = {"name": "ml-oncall", "repeat": 1,
          "steps": [{"wait": "10m", "receiver": "lead"}, {"wait": "20m", "receiver": "manager"}]}


def settings(tmp_path: Path, pager: dict[str, Any] | None = None) -> Any:
    return make_settings(
        {"receiver": "ops", "group_by": ["model"], "group_wait": "0s", "group_interval": "1m",
         "routes": [{"matchers": ['severity="critical"'], "receiver": "pager", "escalation": "ml-oncall"}]},
        [file_receiver(tmp_path, "ops"), pager or file_receiver(tmp_path, "pager"),
         file_receiver(tmp_path, "lead"), file_receiver(tmp_path, "manager")],
        alerting={"escalation_policies": [POLICY]})


def steps(tmp_path: Path) -> list[tuple[str, str, int, int]]:
    out = []
    for name in ("lead", "manager"):
        out += [(name, n["status"], n["escalation"]["step"], n["escalation"]["round"])
                for n in lines(tmp_path / f"{name}.jsonl") if n["status"] == "firing"]
    return sorted(out, key=lambda s: (s[3], s[2]))


def run_for(n: Any, clock: SimulatedClock, minutes: int) -> None:
    for _ in range(minutes):
        clock.advance(minutes=1)
        n.run_once()


def test_steps_run_in_order_and_repeat_then_stop(engine: sa.Engine, clock: SimulatedClock, tmp_path: Path) -> None:
    n = notifier(engine, clock, settings(tmp_path))
    n.service.sync("churn", [alert(clock, model="churn", severity="critical")])
    n.run_once()
    run_for(n, clock, 9)
    assert steps(tmp_path) == []
    run_for(n, clock, 1)  # 10 minutes
    assert steps(tmp_path) == [("lead", "firing", 1, 1)]
    run_for(n, clock, 19)
    assert len(steps(tmp_path)) == 1
    run_for(n, clock, 1)  # 30 minutes
    assert steps(tmp_path) == [("lead", "firing", 1, 1), ("manager", "firing", 2, 1)]
    run_for(n, clock, 30)  # the repeat: lead at 40, manager at 60
    assert steps(tmp_path)[2:] == [("lead", "firing", 1, 2), ("manager", "firing", 2, 2)]
    run_for(n, clock, 120)
    assert len(steps(tmp_path)) == 4  # repeat: 1 means two rounds, no more
    (open_escalation,) = EscalationStore(engine, clock).list()
    assert open_escalation.next_at is None and open_escalation.notified == ("lead", "manager")


def test_acknowledging_stops_the_steps(engine: sa.Engine, clock: SimulatedClock, tmp_path: Path) -> None:
    n = notifier(engine, clock, settings(tmp_path))
    n.service.sync("churn", [alert(clock, model="churn", severity="critical")])
    n.run_once()
    run_for(n, clock, 10)
    (escalation,) = EscalationStore(engine, clock).list()
    other_writer = EscalationStore(sa.create_engine(str(engine.url)), clock)  # as the CLI
    acked = other_writer.acknowledge(escalation.group_id[:6], by="ana", comment="on it")
    assert (acked.acked_by, acked.next_at) == ("ana", None)
    run_for(n, clock, 120)
    assert steps(tmp_path) == [("lead", "firing", 1, 1)]
    with pytest.raises(ValueError, match="already acknowledged"):
        other_writer.acknowledge(escalation.group_id, by="bo")


def test_resolving_closes_the_escalation_and_tells_everyone_escalated_to(engine: sa.Engine, clock: SimulatedClock,
                                                                         tmp_path: Path) -> None:
    n = notifier(engine, clock, settings(tmp_path))
    n.service.sync("churn", [alert(clock, model="churn", severity="critical")])
    n.run_once()
    run_for(n, clock, 10)
    n.service.sync("churn", [])
    run_for(n, clock, 60)
    assert [x["status"] for x in lines(tmp_path / "lead.jsonl")] == ["firing", "resolved"]
    assert lines(tmp_path / "manager.jsonl") == []
    assert [x["reason"] for x in lines(tmp_path / "pager.jsonl")] == ["first", "all_resolved"]
    assert EscalationStore(engine, clock).list() == []
    assert len(EscalationStore(engine, clock).list(include_closed=True)) == 1


def test_a_silenced_group_does_not_escalate(engine: sa.Engine, clock: SimulatedClock, tmp_path: Path) -> None:
    n = notifier(engine, clock, settings(tmp_path))
    n.service.sync("churn", [alert(clock, model="churn", severity="critical")])
    n.run_once()
    SilenceStore(engine, clock).add([Matcher.parse('model="churn"')], clock() + timedelta(minutes=25),
                                    created_by="ana", comment="known")
    run_for(n, clock, 24)
    assert steps(tmp_path) == []
    run_for(n, clock, 11)  # the silence ended at 25; the paused step runs at its next turn
    assert steps(tmp_path) == [("lead", "firing", 1, 1)]


def test_routes_without_a_policy_do_not_escalate(engine: sa.Engine, clock: SimulatedClock, tmp_path: Path) -> None:
    n = notifier(engine, clock, settings(tmp_path))
    n.service.sync("churn", [alert(clock, model="churn", severity="high")])
    run_for(n, clock, 60)
    assert steps(tmp_path) == [] and EscalationStore(engine, clock).list() == []


@pytest.mark.integration
def test_an_acknowledgement_is_sent_on_to_pagerduty(engine: sa.Engine, clock: SimulatedClock, tmp_path: Path,
                                                    pagerduty_server: PagerDutyServer,
                                                    loopback_cert: tuple[Path, Path]) -> None:
    pager = {"name": "pager", "pagerduty_configs": [{"routing_key": ROUTING_KEY, "url": pagerduty_server.url(),
                                                     "ca_file": str(loopback_cert[0]), "timeout": "2s"}]}
    n = notifier(engine, clock, settings(tmp_path, pager))
    n.service.sync("churn", [alert(clock, model="churn", severity="critical")])
    n.run_once()
    (escalation,) = EscalationStore(engine, clock).list()
    EscalationStore(engine, clock).acknowledge(escalation.group_id, by="ana")
    run_for(n, clock, 1)
    (incident,) = pagerduty_server.incidents
    assert incident.events == ["trigger", "acknowledge"] and incident.status == "acknowledged"
