"""``lakewarden alerts ...`` and ``lakewarden silence ...`` on a real config and state database."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from alerts import MIGRATIONS, Alert, AlertStore, build_channels, build_pipeline
from config import load_settings
from config.basics.clock import SimulatedClock, utc_now
from monitor.cli import main
from monitor.state import open_store
from tests.alerts.alert_fakes import WebhookServer

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


@pytest.mark.integration
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


def test_alerts_test_of_an_unknown_receiver_names_the_known_ones(capsys: pytest.CaptureFixture[str],
                                                                 config: str) -> None:
    code, out = run(capsys, "alerts", "test", "nobody", "--config", config)
    assert code == 2 and "(receivers: log, hook)" in out


def daemon_pipeline(config: str, clock: SimulatedClock) -> Any:
    """The daemon's side: its own engine on the same database, tables migrated as at its start."""
    settings = load_settings(config)
    engine = open_store(settings.state.url, {"alerts": MIGRATIONS}).engine
    store = AlertStore(engine, clock)
    return build_pipeline(settings, store, build_channels(settings.receivers, store.clock))


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


@pytest.mark.integration
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
