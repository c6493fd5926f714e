"""Crash safety with real processes: a delivery worker SIGKILLed between its send and its ack.

The row stays claimed; a restarted worker reclaims it once the lease has run out and sends it again
with the same PagerDuty dedup_key, so PagerDuty still has exactly one incident, which the resolve
then closes.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from alerts import MIGRATIONS, Alert, AlertStore, OutboxStatus, build_channels, build_pipeline
from config import load_settings
from config.basics.clock import utc_now
from monitor.state import open_store
from tests.alerts.alert_fakes import ROUTING_KEY, PagerDutyServer

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
WORKER = Path(__file__).with_name("crash_worker.py")
LEASE_S = 30


def worker(config: Path, *args: str) -> subprocess.Popen[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.Popen([sys.executable, str(WORKER), str(config), *args], cwd=ROOT, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def test_a_worker_killed_between_send_and_ack_is_made_good_after_restart(
    tmp_path: Path, pagerduty_server: PagerDutyServer, loopback_cert: tuple[Path, Path]
) -> None:
    config = tmp_path / "lakewarden.yaml"
    config.write_text(f"""
models: [{{name: churn, sources: {{lakehouse: {{table: main.ml.churn}}}}}}]
state: {{url: "sqlite:///{tmp_path}/state.db"}}
route: {{receiver: pager, group_by: [model], group_wait: 0s, group_interval: 1m}}
receivers:
  - name: pager
    pagerduty_configs:
      - {{routing_key: {ROUTING_KEY}, url: "{pagerduty_server.url()}", ca_file: "{loopback_cert[0]}", timeout: 5s}}
alerting: {{lease: {LEASE_S}s}}
""", encoding="utf-8")
    settings = load_settings(config)
    engine = open_store(settings.state.url, {"alerts": MIGRATIONS}).engine
    store = AlertStore(engine, utc_now)
    daemon = build_pipeline(settings, store, {})  # this side only decides; the workers deliver
    daemon.service.sync("churn", [Alert({"model": "churn", "severity": "critical"}, {"summary": "drift"},
                                        store.clock())])
    (row,) = daemon.outbox.rows()

    marker = tmp_path / "sent"
    victim = worker(config, "pause", str(marker))
    deadline = time.monotonic() + 60
    while not marker.exists() and time.monotonic() < deadline and victim.poll() is None:
        time.sleep(0.05)
    assert marker.exists(), victim.communicate(timeout=5)
    assert "Delivered" in marker.read_text(encoding="utf-8")
    os.kill(victim.pid, signal.SIGKILL)
    victim.wait(timeout=10)
    assert victim.returncode == -signal.SIGKILL
    (claimed,) = daemon.outbox.rows()
    assert (claimed.status, claimed.lease_owner, claimed.attempts) == (OutboxStatus.IN_FLIGHT, "pause-worker", 1)
    assert [i.events for i in pagerduty_server.incidents] == [["trigger"]]

    early = worker(config, "resume", "0")  # restarted before the lease ran out: the row is not due yet
    assert early.communicate(timeout=60)[0].startswith("DeliveryReport(claimed=0")
    restarted = worker(config, "resume", str(LEASE_S + 1))
    out, err = restarted.communicate(timeout=60)
    assert restarted.returncode == 0, err
    assert "delivered=1" in out
    (done,) = daemon.outbox.rows()
    assert (done.id, done.status, done.attempts) == (row.id, OutboxStatus.DONE, 2)
    (incident,) = pagerduty_server.incidents  # sent twice, one incident: the same dedup_key
    assert incident.events == ["trigger", "trigger"]

    later = AlertStore(engine, lambda: datetime.now(UTC) + timedelta(minutes=2))
    build_pipeline(settings, later, build_channels(settings.receivers, later.clock)).service.sync("churn", [])
    resolver = worker(config, "resume", "180")
    assert "delivered=1" in resolver.communicate(timeout=60)[0]
    assert [(i.status, i.events) for i in pagerduty_server.incidents] == [
        ("resolved", ["trigger", "trigger", "resolve"])]
