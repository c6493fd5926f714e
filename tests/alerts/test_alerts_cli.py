"""``lakewarden alerts ...`` and ``lakewarden silence ...`` on a real config and state database."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from alerts import Alert
from alerts.schema import alerts_outbox
from config import load_settings
from config.basics.clock import SimulatedClock, utc_now
from monitor.app import build_alert_store, build_notifier, open_state
from monitor.cli import main
from monitor.logs import configure_logging
from tests.alerts.alert_fakes import WebhookServer

pytestmark = pytest.mark.integration  # every test's config points at a loopback webhook server it starts

CONFIG = """
models: [{{name: churn, sources: {{lakehouse: {{table: main.ml.churn}}}}}}]
state: {{url: "sqlite:///{tmp}/state.db"}}
route:
  receiver: log
  group_by: [model]
  group_wait: 0s
  group_interval: 1m
  routes:
    - matchers: ['severity="critical"']
      receiver: hook
      group_wait: 10s
      continue: true
      escalation: lead
    - matchers: ['team=~"ml-.*"']
      receiver: log
      group_by: ['...']
      repeat_interval: 1h
receivers:
  - name: log
    file_configs: [{{path: "{tmp}/log.jsonl"}}]
  - name: hook
    webhook_configs: [{{url: "{hook}", hmac_secret: s3cret, timeout: 1s}}]
alerting:
  escalation_policies: [{{name: lead, steps: [{{wait: 5m, receiver: log}}]}}]
"""


@pytest.fixture
def hook() -> Iterator[WebhookServer]:
    server = WebhookServer("s3cret")
    with server.running():
        yield server


@pytest.fixture
def config(tmp_path: Path, hook: WebhookServer) -> str:
    path = tmp_path / "lakewarden.yaml"
    path.write_text(CONFIG.format(tmp=tmp_path, hook=hook.url("/hook/SECRET-PATH")), encoding="utf-8")
    return str(path)


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str]:
    code = main(list(args))
    return code, capsys.readouterr().out


@pytest.mark.parametrize(("labels", "receivers", "detail"), [
    (["severity=critical", "team=ml-growth", "model=churn"], "hook,log",
     "2. log              group_by=[...] group_wait=0s group_interval=1m repeat_interval=1h"),
    (["severity=critical"], "hook", "1. hook             group_by=[model] group_wait=10s group_interval=1m "
                                    "repeat_interval=4h escalation=lead"),
    (["severity=low"], "log", "group {}:{}"),
    (['model="churn"'], "log", 'group {}:{model="churn"}'),
])
def test_routes_prints_receivers_in_order_with_their_grouping_and_timers(
    capsys: pytest.CaptureFixture[str], config: str, labels: list[str], receivers: str, detail: str
) -> None:
    code, out = run(capsys, "alerts", "routes", "--config", config, *labels)
    assert code == 0
    assert out.splitlines()[0] == receivers
    assert detail in out


def test_routes_rejects_an_argument_that_is_not_a_label(capsys: pytest.CaptureFixture[str], config: str) -> None:
    assert run(capsys, "alerts", "routes", "--config", config, "severity")[0] == 2


def test_alerts_test_sends_a_marked_notification_and_prints_the_answers(
    capsys: pytest.CaptureFixture[str], config: str, hook: WebhookServer, tmp_path: Path
) -> None:
    code, out = run(capsys, "alerts", "test", "hook", "--config", config)
    assert code == 0, out
    assert out.strip() == f"hook webhook#0: delivered: HTTP 200 from {hook.url()}"
    (body,) = hook.bodies
    assert body["kind"] == "test" and body["alerts"][0]["labels"]["alertname"] == "LakewardenTest"
    hook.fail_next(401, b"invalid_token")
    code, out = run(capsys, "alerts", "test", "hook", "--config", config)
    assert code == 1
    assert "hook webhook#0: permanent failure: HTTP 401" in out and "SECRET-PATH" not in out
    code, out = run(capsys, "alerts", "outbox", "--config", config)
    assert "dead 1, done 1" in out and "last error: HTTP 401" in out and "test firing" in out


@pytest.mark.integration
def test_alerts_test_dead_letters_a_permanent_failure_through_the_daemons_dead_letter_hook(
    capsys: pytest.CaptureFixture[str], config: str, hook: WebhookServer, tmp_path: Path
) -> None:
    """The outbox of ``alerts test`` is the daemon's: its dead-letter hook (``alerts.deadletter``) sees
    the dead row, knows the fallback receiver, and only logs it (a test raises no meta-alert)."""
    text = Path(config).read_text(encoding="utf-8").replace("alerting:\n", "alerting:\n  fallback_receiver: log\n")
    Path(config).write_text(text, encoding="utf-8")
    hook.fail_next(401, b"invalid_token")
    try:
        code = main(["alerts", "test", "hook", "--config", config])
        out, err = capsys.readouterr()
    finally:
        configure_logging(stream=sys.__stderr__)  # main pointed logging at capsys's stderr
    assert code == 1 and "hook webhook#0: permanent failure: HTTP 401" in out
    events = [json.loads(line) for line in err.splitlines() if line.startswith("{")]
    (hooked,) = [e for e in events if e["event"].startswith("dead_letter")]
    engine = sa.create_engine(load_settings(config).state.url)
    with engine.connect() as conn:
        (dead,) = conn.execute(sa.select(alerts_outbox).where(alerts_outbox.c.status == "dead")).mappings().all()
    engine.dispose()
    assert hooked["event"] == "dead_letter_not_forwarded"
    assert (hooked["fallback"], hooked["receiver"], hooked["outbox_id"]) == ("log", "hook", dead["id"])
    assert hooked["reason"] == dead["last_error"] and dead["last_error"].startswith("HTTP 401")
    assert not (tmp_path / "log.jsonl").exists()  # no meta-alert to the fallback receiver


def test_alerts_test_of_an_unknown_receiver_names_the_known_ones(capsys: pytest.CaptureFixture[str],
                                                                 config: str) -> None:
    code, out = run(capsys, "alerts", "test", "nobody", "--config", config)
    assert code == 2 and "(receivers: log, hook)" in out


def daemon_pipeline(config: str, clock: SimulatedClock) -> Any:
    """The daemon's side: its own engine on the same database, built as the daemon builds it."""
    settings = load_settings(config)
    store = build_alert_store(open_state(settings), clock)
    return build_notifier(settings, store, worker_id="daemon")


def test_a_silence_added_by_the_cli_mutes_at_the_daemons_next_flush_and_expire_lifts_it(
    capsys: pytest.CaptureFixture[str], config: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("USER", "ana")
    code, out = run(capsys, "silence", "add", "--config", config, 'model="churn"', "--duration", "2h",
                    "--comment", "deploying v2")
    assert code == 0
    silence_id = out.strip()
    clock = SimulatedClock(utc_now())
    daemon = daemon_pipeline(config, clock)
    daemon.service.sync("churn", [Alert({"model": "churn", "severity": "low"}, {}, clock())])
    daemon.run_once()
    assert daemon.dispatcher.counts == {"silenced": 1}
    code, out = run(capsys, "silence", "list", "--config", config)
    assert silence_id in out and "active" in out and 'model="churn"' in out and "by ana: deploying v2" in out
    assert run(capsys, "silence", "expire", "--config", config, silence_id[:8])[0] == 0
    assert run(capsys, "silence", "list", "--config", config)[1].strip() == "no silences"
    assert silence_id in run(capsys, "silence", "list", "--config", config, "--expired")[1]
    clock.advance(minutes=1)
    daemon.run_once()
    assert [json.loads(x)["reason"] for x in (tmp_path / "log.jsonl").read_text().splitlines()] == ["first"]


def test_silence_add_refuses_matchers_that_match_everything(capsys: pytest.CaptureFixture[str], config: str,
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("USER", "ana")
    code, out = run(capsys, "silence", "add", "--config", config, 'model=~".*"', "--duration", "1h", "--comment", "x")
    assert code == 2 and "match every alert" in out


def test_escalations_are_listed_and_acknowledged_from_the_cli(capsys: pytest.CaptureFixture[str], config: str) -> None:
    clock = SimulatedClock(utc_now())
    daemon = daemon_pipeline(config, clock)
    daemon.service.sync("churn", [Alert({"model": "churn", "severity": "critical"}, {}, clock())])
    clock.advance(seconds=10)
    daemon.run_once()
    code, out = run(capsys, "alerts", "escalations", "--config", config)
    assert code == 0 and "lead" in out and "next step 1 (round 1)" in out
    group_id = out.split()[0]
    code, out = run(capsys, "alerts", "ack", group_id[:8], "--config", config, "--by", "ana")
    assert code == 0 and f"acknowledged {group_id}" in out
    assert "acked by ana" in run(capsys, "alerts", "escalations", "--config", config)[1]
    assert run(capsys, "alerts", "ack", group_id, "--config", config, "--by", "bo")[0] == 1
