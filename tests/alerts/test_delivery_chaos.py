"""Chaos with real processes: delivery workers SIGKILLed between a send and its acknowledgement.

The loopback stand-ins hold every 2xx answer for a moment after its effect is recorded; the test
watches their state and kills the worker as soon as a message is posted, updated or an event taken,
so each kill lands after the receiver acted and before the outbox heard of it. Then it restarts the
worker (the same instance, or another one) and checks the end state on the receiver: one Slack
message per group, updated on resolve; every PagerDuty incident resolved, also when a trigger was
rate limited and its resolve queued behind it; and how long the restarted worker took.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

import pytest

from alerts import MIGRATIONS, Alert, AlertStore, Notifier, OutboxStatus, build_pipeline
from alerts.channels.paging import dedup_key
from config import load_settings
from monitor.state import open_store
from tests.alerts.alert_fakes import ROUTING_KEY, SLACK_TOKEN, PagerDutyServer, SlackServer

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
WORKER = Path(__file__).with_name("crash_worker.py")
MODELS = ("churn", "fraud", "ltv")
HOLD_S = 1.0


class Chaos:
    """The deciding side in this process; delivery workers in child processes, killed at will."""

    def __init__(self, tmp_path: Path, receivers: str, alerting: str = "{}") -> None:
        self.config = tmp_path / "lakewarden.yaml"
        self.config.write_text(f"""
models: [{', '.join(f'{{name: {m}, sources: {{lakehouse: {{table: main.ml.{m}}}}}}}' for m in MODELS)}]
state: {{url: "sqlite:///{tmp_path}/state.db"}}
route: {{receiver: oncall, group_by: [model], group_wait: 0s, group_interval: 1s, repeat_interval: 4h}}
receivers:
  - name: oncall
{receivers}
alerting: {alerting}
""", encoding="utf-8")
        self.settings = load_settings(self.config)
        engine = open_store(self.settings.state.url, {"alerts": MIGRATIONS}).engine
        self.store = AlertStore(engine, lambda: datetime.now(UTC))
        self.decider: Notifier = build_pipeline(self.settings, self.store, {})  # decides; never delivers
        self.process: subprocess.Popen[str] | None = None
        self.kills = 0
        self.in_flight_at_kill: list[int] = []
        self.recoveries: list[float] = []  # seconds from a restart until the row killed mid-send is done

    def start(self, instance: str) -> float:
        env = {**os.environ, "PYTHONPATH": str(ROOT)}
        self.process = subprocess.Popen([sys.executable, str(WORKER), str(self.config), "loop", instance], cwd=ROOT,
                                        env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        assert self.process.stdout is not None
        assert self.process.stdout.readline().strip() == "started", self.process.communicate(timeout=10)
        return time.monotonic()

    def kill(self) -> None:
        assert self.process is not None
        os.kill(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=10)
        self.kills += 1
        self.in_flight_at_kill.append(len(self.decider.outbox.rows(OutboxStatus.IN_FLIGHT)))

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=10)

    def fire(self, *models: str) -> None:
        for model in models:
            self.decider.service.sync(model, [Alert({"model": model, "severity": "critical"}, {"summary": "drift"},
                                                    self.store.clock())])

    def resolve(self, *models: str) -> None:
        for model in models:
            self.decider.service.sync(model, [])

    def flush_until(self, rows: int, timeout: float = 10) -> None:
        """Judge due groups until the outbox holds ``rows`` rows (group_interval is 1 s)."""
        deadline = time.monotonic() + timeout
        while len(self.decider.outbox.rows()) < rows:
            assert time.monotonic() < deadline, f"{len(self.decider.outbox.rows())} rows, waiting for {rows}"
            self.decider.dispatcher.flush()
            time.sleep(0.1)

    def settled(self) -> bool:
        return all(row.status is OutboxStatus.DONE for row in self.decider.outbox.rows())

    def run(self, effects: Callable[[], int], *, kills: int, instance: str, timeout: float = 40,
            since: int | None = None) -> None:
        """Deliver until every row is done, killing the worker right after each of the first ``kills``
        effects on the receiver (counted from ``since``) and starting it again as ``instance``."""
        deadline = time.monotonic() + timeout
        seen = effects() if since is None else since
        pending: list[tuple[float, int]] = []
        while not self.settled() or pending:
            assert time.monotonic() < deadline, self.decider.outbox.rows()
            now = effects()
            held_rows = [row.id for row in self.decider.outbox.rows(OutboxStatus.IN_FLIGHT)]
            if now != seen and kills > 0 and held_rows:
                (held,) = held_rows
                self.kill()  # the receiver still holds its answer: sent, not acknowledged
                kills -= 1
                pending.append((self.start(instance), held))
            done = {row.id for row in self.decider.outbox.rows(OutboxStatus.DONE)}
            for started, held in [p for p in pending if p[1] in done]:
                self.recoveries.append(time.monotonic() - started)
                pending.remove((started, held))
            seen = now
            time.sleep(0.02)


@contextmanager
def chaos(tmp_path: Path, receivers: str, alerting: str = "{}") -> Iterator[Chaos]:
    run = Chaos(tmp_path, receivers, alerting)
    try:
        yield run
    finally:
        run.stop()


def wait_until(condition: Callable[[], bool], timeout: float) -> float:
    started = time.monotonic()
    while not condition():
        assert time.monotonic() - started < timeout, "timed out"
        time.sleep(0.02)
    return time.monotonic() - started


def test_slack_web_api_killed_between_post_and_ack_posts_one_message_per_group_and_updates_it(
    tmp_path: Path, slack_server: SlackServer
) -> None:
    receivers = (f'    slack_configs: [{{bot_token: {SLACK_TOKEN}, channel: C0ML, '
                 f'api_base_url: "{slack_server.url("/api/")}", timeout: 5s}}]')
    with chaos(tmp_path, receivers) as run:
        slack_server.hold = HOLD_S
        run.fire(*MODELS)
        run.flush_until(3)
        run.start("node-a")

        def effects() -> int:
            return len(slack_server.messages) + sum(m.edits for m in slack_server.messages.values())

        run.run(effects, kills=3, instance="node-a")  # each firing post killed before its ack
        assert len(slack_server.top_level()) == 3
        before = effects()
        run.resolve(*MODELS)
        run.flush_until(6)
        run.run(effects, kills=2, instance="node-a", since=before)  # two of the resolves' updates killed too

    assert run.kills == 5 and max(run.in_flight_at_kill) <= 1  # a claim covers one row, not a batch
    print(f"slack: recovered after restart in {sorted(round(s, 2) for s in run.recoveries)} s")
    assert len(run.recoveries) == 5 and max(run.recoveries) < 30  # taken back at once, well within a lease
    messages = slack_server.top_level()
    assert len(messages) == 3, [m.text for m in messages]  # one message per group, never a second one
    groups = {m.metadata["event_payload"]["group"] for m in messages if m.metadata}
    assert len(groups) == 3
    assert all("RESOLVED" in m.text and m.edits >= 1 for m in messages), [(m.text[:40], m.edits) for m in messages]
    assert slack_server.history_calls >= 5  # every resend looked before posting


def test_pagerduty_ends_resolved_for_every_dedup_key_through_kills_and_a_rate_limited_trigger(
    tmp_path: Path, pagerduty_http_server: PagerDutyServer
) -> None:
    server = pagerduty_http_server
    receivers = (f'    pagerduty_configs: [{{routing_key: {ROUTING_KEY}, url: "{server.url()}", timeout: 5s}}]')
    with chaos(tmp_path, receivers, "{lease: 10s}") as run:
        server.hold = HOLD_S
        run.fire("churn", "fraud")
        run.flush_until(2)
        run.start("node-a")

        def effects() -> int:
            return sum(len(i.events) for i in server.incidents)

        run.run(effects, kills=2, instance="node-a")  # the same instance takes its claim back at once

        # The reorder case: a trigger answered 429 Retry-After 30, its resolve queued 3 s later.
        server.hold = 0.0
        server.fail_next(429, b'{"status": "throttle event", "message": "Requests for this service are '
                              b'arriving too quickly."}', {"Content-Type": "application/json", "Retry-After": "30"})
        run.fire("ltv")
        run.flush_until(3)
        wait_until(lambda: any(r.attempts == 1 and r.status is OutboxStatus.PENDING
                               for r in run.decider.outbox.rows()), timeout=15)
        server.hold = HOLD_S
        before = effects()
        run.resolve("churn", "fraud", "ltv")
        run.flush_until(6)
        run.run(effects, kills=1, instance="node-a", since=before)

        # A kill, then another node (a new instance id) picks the row up once the 10 s lease has run out.
        server.hold = HOLD_S
        run.fire("churn")
        run.flush_until(7)
        seen = effects()
        wait_until(lambda: effects() != seen, timeout=15)
        run.kill()
        started = run.start("node-b")
        wait_until(run.settled, timeout=20)
        other_node_s = time.monotonic() - started
        run.resolve("churn")
        run.flush_until(8)
        wait_until(run.settled, timeout=20)

    keys = {dedup_key({"groupId": row.payload["groupId"], "receiver": "oncall"}) for row in run.decider.outbox.rows()}
    assert len(keys) == 3
    assert all(server.open_incident(key) is None for key in keys), [(i.dedup_key, i.events) for i in server.incidents]
    throttled = [row for row in run.decider.outbox.rows() if row.superseded_by is not None]
    assert [row.payload["status"] for row in throttled] == ["firing"]  # the trigger never went after its resolve
    assert max(run.in_flight_at_kill) <= 1
    print(f"pagerduty: same instance recovered in {sorted(round(s, 2) for s in run.recoveries)} s, "
          f"another node in {other_node_s:.2f} s (lease 10 s)")
    assert run.kills == 4, run.kills
    assert len(run.recoveries) == 3 and max(run.recoveries) < 10  # the same instance: at once
    assert other_node_s < 10 + 3, other_node_s  # within one lease (plus a delivery tick and a start-up)
