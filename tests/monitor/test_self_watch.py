"""lakewarden watches itself: the watchdog and each self-alert through the real alert pipeline (routes,
groups, outbox, webhook channel) to loopback receivers, firing and resolving; and the state probe."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from structlog.testing import capture_logs

from alerts import Alert, Notifier
from config import parse_settings
from config.basics.clock import SimulatedClock
from config.settings import Settings
from monitor.app import build_alert_store, build_notifier, build_self_watch, open_state
from monitor.health import Health
from monitor.self_watch import SelfWatch
from monitor.state import StateStore
from tests.monitor.cli_support import WebhookServer, webhook_server

pytestmark = pytest.mark.integration

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)

CONFIG = """
state: {{url: "sqlite:///{tmp}/state.db"}}
service:
  self_alerts: {{watchdog: {watchdog}}}
models:
  - name: churn
    sources: {{lakehouse: {{table: main.ml.churn}}}}
route:
  receiver: team
  group_wait: 0s
  group_interval: 1m
  routes:
    - matchers: ['alertname="Watchdog"']
      receiver: heartbeat
      repeat_interval: 5m
    - matchers: ['alertname=~"Lakewarden.*|NotificationDeadLettered"']
      receiver: ops
receivers:
  - name: team
    webhook_configs: [{{url: "{team}"}}]
  - name: heartbeat
    webhook_configs: [{{url: "{ops}/heartbeat"}}]
  - name: ops
    webhook_configs: [{{url: "{ops}/ops"}}]
alerting:
  retry: {{initial_delay: 1s, max_delay: 1s}}
{alerting}
"""


@dataclass
class World:
    settings: Settings
    clock: SimulatedClock
    state: StateStore
    notifier: Notifier
    health: Health
    watch: SelfWatch
    team: WebhookServer
    ops: WebhookServer

    def deliver(self) -> None:
        """Judge due groups and send; then once more a group interval later (resolved notices)."""
        self.notifier.run_once()
        self.clock.advance(seconds=61)
        self.notifier.run_once()

    def heard(self, path: str) -> list[tuple[str, str, dict[str, str]]]:
        """(notification status, alert status, labels) of every alert the ops server got on ``path``."""
        return [(r.payload["status"], a["status"], a["labels"]) for r in self.ops.requests() if r.path == path
                for a in r.payload["alerts"]]

    def model_alert(self) -> None:
        """A model's risk alert to the team receiver (its server decides whether it is delivered)."""
        self.notifier.service.sync("model:churn", [Alert({"alertname": "ModelAtRisk", "model": "churn",
                                                          "severity": "high"}, {}, self.clock())])


@pytest.fixture
def world(tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[World]:
    options: dict[str, Any] = getattr(request, "param", {})
    with webhook_server() as team, webhook_server() as ops:
        text = CONFIG.format(tmp=tmp_path, team=team.url("/team"), ops=f"http://127.0.0.1:{ops.port}",
                             watchdog=str(options.get("watchdog", False)).lower(),
                             alerting=options.get("alerting", ""))
        settings = parse_settings(text, "t.yaml", {})
        clock = SimulatedClock(T0)
        state = open_state(settings)
        notifier = build_notifier(settings, build_alert_store(state, clock), worker_id="test")
        health = Health(clock)
        health.set_started()
        yield World(settings, clock, state, notifier, health,
                    build_self_watch(settings, state, notifier, health, clock), team, ops)
        state.close()


@pytest.mark.parametrize("world", [{"watchdog": True}], indirect=True)
def test_the_watchdog_fires_to_the_heartbeat_repeats_and_resolves_when_turned_off(world: World) -> None:
    world.watch.tick()
    world.notifier.run_once()
    assert world.heard("/heartbeat") == [("firing", "firing", {"alertname": "Watchdog", "severity": "none"})]
    for _ in range(2):  # every repeat_interval (5m) the heartbeat again, while lakewarden runs
        world.clock.advance(minutes=5, seconds=1)
        world.watch.tick()
        world.notifier.run_once()
    assert [status for status, _, _ in world.heard("/heartbeat")] == ["firing"] * 3
    assert world.heard("/ops") == []  # routed to its own receiver, nothing else
    turned_off = world.settings.model_copy(update={"service": world.settings.service.model_copy(
        update={"self_alerts": world.settings.service.self_alerts.model_copy(update={"watchdog": False})})})
    build_self_watch(turned_off, world.state, world.notifier, world.health, world.clock).tick()
    world.deliver()
    assert world.heard("/heartbeat")[-1] == ("resolved", "resolved", {"alertname": "Watchdog", "severity": "none"})


def test_the_watchdog_is_off_unless_configured(world: World) -> None:
    assert world.watch.tick() == []
    world.deliver()
    assert world.ops.requests() == []


def test_polls_failing_fires_after_three_failed_polls_in_a_row_and_resolves_at_a_good_poll(world: World) -> None:
    error = "main.ml.churn_drift_metrics does not exist"
    for _ in range(2):
        world.watch.polled("churn", error)
        world.watch.tick()
    world.watch.polled("churn", None)  # a good poll starts the count again
    for _ in range(2):
        world.watch.polled("churn", error)
        world.watch.tick()
    world.deliver()
    assert world.heard("/ops") == []
    world.watch.polled("churn", error)
    world.watch.tick()
    world.deliver()
    labels = {"alertname": "LakewardenPollsFailing", "severity": "high", "model": "churn"}
    assert world.heard("/ops") == [("firing", "firing", labels)]
    (request,) = world.ops.requests()
    annotations = request.payload["alerts"][0]["annotations"]
    assert annotations["error"] == error and "last 3 polls failed" in annotations["summary"]
    world.watch.polled("churn", None)
    world.watch.tick()
    world.deliver()
    assert world.heard("/ops")[-1] == ("resolved", "resolved", labels)


def test_an_outbox_backlog_fires_and_resolves_once_delivered(world: World) -> None:
    world.team.set(503)
    world.model_alert()
    world.notifier.run_once()  # 503: the team's notification waits for its retry
    world.clock.advance(minutes=9)
    world.watch.tick()
    world.deliver()
    assert world.heard("/ops") == []  # 9 minutes and a bit: under the 10m threshold
    world.clock.advance(minutes=1)
    world.watch.tick()
    world.deliver()
    labels = {"alertname": "LakewardenOutboxBacklog", "severity": "high"}
    assert world.heard("/ops") == [("firing", "firing", labels)]
    assert world.ops.requests()[0].payload["alerts"][0]["annotations"]["receivers"] == "team"
    world.team.set(200)
    world.deliver()  # the team's row goes out at its retry
    assert world.team.requests()[-1].status == 200
    world.watch.tick()
    world.deliver()
    assert world.heard("/ops")[-1] == ("resolved", "resolved", labels)


def test_dead_letters_nobody_was_told_of_fire_and_resolve_after_the_period(world: World) -> None:
    world.team.set(400)  # permanent: the notification is dead at its first attempt
    world.model_alert()
    world.notifier.run_once()
    world.watch.tick()
    world.deliver()
    labels = {"alertname": "LakewardenDeadLetters", "severity": "medium"}
    assert world.heard("/ops") == [("firing", "firing", labels)]
    world.clock.advance(minutes=57)  # the dead letter is 58 minutes old (deliver() moves the clock a minute)
    world.watch.tick()
    world.deliver()
    assert len(world.heard("/ops")) == 1  # still within the hour: firing, not repeated yet
    world.clock.advance(minutes=1)
    world.watch.tick()
    world.deliver()
    assert world.heard("/ops")[-1] == ("resolved", "resolved", labels)


@pytest.mark.parametrize("world", [{"alerting": "  fallback_receiver: ops"}], indirect=True)
def test_dead_letters_the_fallback_was_told_of_raise_no_second_alert(world: World) -> None:
    world.team.set(400)
    world.model_alert()
    world.notifier.run_once()
    world.notifier.run_once()  # the meta-alert to the fallback
    world.watch.tick()
    world.deliver()
    assert [labels["alertname"] for _, _, labels in world.heard("/ops")] == ["NotificationDeadLettered"]


def test_a_state_database_that_cannot_be_written_fails_readiness_and_logs_an_error(world: World) -> None:
    engine = world.state.engine

    def read_only(dbapi_conn: Any, _record: Any) -> None:
        dbapi_conn.execute("PRAGMA query_only=ON")  # every write now fails as on a read-only file

    sa.event.listen(engine, "connect", read_only)
    engine.dispose()
    with capture_logs() as logs:
        assert world.watch.tick() is None
    (event,) = [e for e in logs if e["event"] == "state_database_unwritable"]
    assert event["log_level"] == "error" and "readonly" in event["error"]
    ready, details = world.health.readiness()
    assert not ready
    assert details["status"] == "state_unwritable" and "readonly" in details["state"]["error"]
    sa.event.remove(engine, "connect", read_only)
    engine.dispose()
    assert world.watch.tick() == []
    assert world.health.readiness()[0]

