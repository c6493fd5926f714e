"""The command line's everyday moves (issue 17): one way to pass the config, help on every flag,
--version, --json, the author fallback, the silence preview, update and dry run, the outbox's reasons
and retry of dead notifications, a closed pipe, health on the configured port.

In-process ``main`` on a SQLite state database and a file receiver: no server, no subprocess."""

from __future__ import annotations

import argparse
import getpass
import io
import json
import os
import select
import socket
import sys
from datetime import datetime
from importlib.metadata import version
from pathlib import Path
from typing import Any

import pytest

from alerts import Alert
from config import load_settings
from config.basics.clock import SimulatedClock, utc_now
from monitor.app import build_alert_store, build_notifier, open_state
from monitor.cli import build_parser, exitcodes, main
from monitor.cli.common import CONFIG_ENV
from monitor.cli.progress import progress

pytestmark = pytest.mark.usefixtures("restore_logging")

CONFIG = """\
state: {{url: "sqlite:///{tmp}/state.db"}}
service: {{http: {{host: 0.0.0.0, port: {port}}}}}
models:
  - name: churn
    env: prod
    sources: {{lakehouse: {{table: main.ml.churn}}}}
route:
  receiver: log
  group_by: [model]
  group_wait: 0s
  group_interval: 1m
  routes:
    - matchers: ['region="eu"']
      receiver: log
receivers:
  - name: log
    file_configs: [{{path: "{log}"}}]
alerting:
  retry: {{max_attempts: 1, initial_delay: 1s}}
"""


def write(tmp: Path, log: Path | None = None, port: int = 9123) -> str:
    path = tmp / "lakewarden.yaml"
    path.write_text(CONFIG.format(tmp=tmp, log=log or tmp / "log.jsonl", port=port), encoding="utf-8")
    return str(path)


@pytest.fixture
def config(tmp_path: Path) -> str:
    return write(tmp_path)


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def firing(config: str, clock: SimulatedClock, labels: dict[str, str]) -> Any:
    """The daemon's notifier on the same database, with the alert firing and its group flushed."""
    settings = load_settings(config)
    pipeline = build_notifier(settings, build_alert_store(open_state(settings), clock), worker_id="daemon")
    pipeline.service.sync("churn", [Alert(labels, {}, clock())])
    pipeline.run_once()
    return pipeline


def _actions(parser: argparse.ArgumentParser, path: str) -> list[tuple[str, argparse.Action]]:
    found = []
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, child in action.choices.items():
                found += _actions(child, f"{path} {name}")
        elif not isinstance(action, argparse._HelpAction):
            found.append((path, action))
    return found


def test_every_flag_and_argument_of_every_command_has_help_text() -> None:
    actions = _actions(build_parser(), "lakewarden")
    assert len(actions) > 100  # the walk reaches every subcommand
    missing = [f"{path} {action.option_strings or action.dest}" for path, action in actions
               if not action.help or action.help == argparse.SUPPRESS]
    assert missing == []


def test_every_config_option_takes_the_environment_default() -> None:
    """One way: every --config is the shared one (monitor.cli.common.add_config)."""
    configs = [(path, a) for path, a in _actions(build_parser(), "lakewarden") if "--config" in a.option_strings]
    assert len(configs) > 20
    assert [path for path, a in configs if CONFIG_ENV not in (a.help or "")] == []


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as stop:
        main(["--version"])
    assert stop.value.code == 0
    assert capsys.readouterr().out.strip() == f"lakewarden {version('lakewarden')}"


def test_the_config_comes_from_the_environment_unless_given(
    capsys: pytest.CaptureFixture[str], config: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(CONFIG_ENV, raising=False)
    with pytest.raises(SystemExit) as stop:
        main(["silence", "list"])
    assert stop.value.code == exitcodes.CONFIG_ERROR
    assert f"no config: give --config FILE or set {CONFIG_ENV}" in capsys.readouterr().err
    monkeypatch.setenv(CONFIG_ENV, config)
    assert run(capsys, "silence", "list")[:2] == (0, "no silences\n")
    assert run(capsys, "config", "validate")[1].startswith(f"{config}: valid")
    # --config (and the positional file of config validate) win over the environment
    monkeypatch.setenv(CONFIG_ENV, str(tmp_path / "missing.yaml"))
    assert run(capsys, "silence", "list", "--config", config)[0] == 0
    assert run(capsys, "config", "validate", config)[0] == 0
    with pytest.raises(SystemExit):
        main(["config", "validate", config, "--config", config])  # given twice


def test_silence_add_falls_back_to_the_login_name_previews_and_warns_of_unknown_labels(
    capsys: pytest.CaptureFixture[str], config: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    firing(config, SimulatedClock(utc_now()), {"alertname": "ModelRisk", "model": "churn", "severity": "high"})
    monkeypatch.delenv("USER", raising=False)  # as under `kubectl exec`
    monkeypatch.delenv("LOGNAME", raising=False)
    code, out, err = run(capsys, "silence", "add", "--config", config, 'model="churn"', "--duration", "2h",
                         "--comment", "deploying v2")
    assert code == 0, out
    silence_id = out.strip()
    assert len(silence_id) == 36
    assert 'mutes 1 alert firing now:\n  ModelRisk{model="churn",severity="high"}' in err
    assert "warning" not in err
    listed = json.loads(run(capsys, "silence", "list", "--config", config, "--json")[1])
    assert [(s["id"], s["created_by"], s["state"]) for s in listed] == [(silence_id, getpass.getuser(), "active")]

    code, out, err = run(capsys, "silence", "add", "--config", config, 'modle="churn"', "--duration", "1h",
                         "--comment", "typo", "--dry-run", "--author", "ana")
    assert code == 0
    assert out.startswith('dry run: would silence modle="churn" from ')
    assert "mutes no alert firing now" in out
    assert 'warning: label "modle" is on no alert and in no route or inhibit rule (did you mean "model"?)' in out
    # labels of routes count as known; nothing was written by the dry run
    code, out, err = run(capsys, "silence", "add", "--config", config, 'region="eu"', "--duration", "1h",
                         "--comment", "x", "--dry-run", "--json")
    assert json.loads(out)["warnings"] == [] and json.loads(out)["dry_run"] is True
    assert len(json.loads(run(capsys, "silence", "list", "--config", config, "--json")[1])) == 1


def test_silence_update_changes_the_end_and_comment_and_refuses_an_expired_one(
    capsys: pytest.CaptureFixture[str], config: str
) -> None:
    code, out, _ = run(capsys, "silence", "add", "--config", config, 'model="churn"', "--duration", "1h",
                       "--comment", "deploy", "--author", "ana")
    silence_id = out.strip()
    code, out, _ = run(capsys, "silence", "update", "--config", config, silence_id[:8], "--duration", "6h",
                       "--comment", "deploy takes longer", "--author", "bo", "--json")
    assert code == 0, out
    updated = json.loads(out)
    assert updated["comment"] == "deploy takes longer" and updated["created_by"] == "bo"
    hours = (updated_end(updated) - updated_start(updated)).total_seconds() / 3600
    assert hours == pytest.approx(6)
    assert run(capsys, "silence", "update", "--config", config, silence_id)[0] == exitcodes.CONFIG_ERROR  # nothing
    assert run(capsys, "silence", "expire", "--config", config, silence_id)[0] == 0
    code, out, _ = run(capsys, "silence", "update", "--config", config, silence_id, "--duration", "1h")
    assert code == exitcodes.CONFIG_ERROR and "has expired; add a new one" in out


def updated_end(silence: dict[str, Any]) -> datetime:
    return datetime.fromisoformat(silence["ends_at"])


def updated_start(silence: dict[str, Any]) -> datetime:
    return datetime.fromisoformat(silence["starts_at"])


def test_outbox_shows_why_each_was_sent_and_retry_requeues_a_dead_one_once_fixed(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    broken = tmp_path / "a-directory"
    broken.mkdir()
    config = write(tmp_path, log=broken)  # the file receiver cannot append to a directory
    clock = SimulatedClock(utc_now())
    pipeline = firing(config, clock, {"alertname": "ModelRisk", "model": "churn", "severity": "high"})
    code, out, _ = run(capsys, "alerts", "outbox", "--config", config)
    assert "dead 1" in out and "notification firing (first)" in out
    rows = json.loads(run(capsys, "alerts", "outbox", "--config", config, "--json")[1])["rows"]
    assert [(r["state"], r["reason"], r["kind"]) for r in rows] == [("dead", "first", "notification")]
    dead_id = rows[0]["id"]
    assert run(capsys, "alerts", "outbox", "retry", "--config", config, str(dead_id + 100))[0] == exitcodes.ERROR

    write(tmp_path, log=tmp_path / "log.jsonl")  # the receiver is fixed
    code, out, _ = run(capsys, "alerts", "outbox", "retry", "--dead", "--config", config, "--by", "ana")
    assert code == 0 and out.startswith(f"#{dead_id} requeued")
    (row,) = json.loads(run(capsys, "alerts", "outbox", "--config", config, "--json")[1])["rows"]
    assert row["state"] == "pending" and row["last_error"].startswith("requeued by ana at ")
    settings = load_settings(config)  # the daemon, with the fixed config, sends it like any other row
    fixed = build_notifier(settings, build_alert_store(open_state(settings), clock), worker_id="daemon")
    clock.advance(seconds=5)  # the requeued row is due at the real now, a little after the simulated one
    fixed.run_once()
    sent = [json.loads(line) for line in (tmp_path / "log.jsonl").read_text().splitlines()]
    assert [(n["status"], n["reason"]) for n in sent] == [("firing", "first")]
    assert json.loads(run(capsys, "alerts", "outbox", "--config", config, "--json")[1])["counts"]["done"] == 1
    del pipeline


def test_output_into_a_closed_pipe_ends_quietly(config: str, monkeypatch: pytest.MonkeyPatch,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    for i in range(3):
        run(capsys, "silence", "add", "--config", config, f'model="m{i}"', "--duration", "1h", "--comment",
            "x" * 2000, "--author", "ana")
    read, write_end = os.pipe()
    os.close(read)  # the reader (`| head`) is gone
    stdout = os.fdopen(write_end, "w")
    monkeypatch.setattr(sys, "stdout", stdout)
    assert main(["silence", "list", "--config", config, "--json"]) == exitcodes.BROKEN_PIPE
    stdout.write("more")  # what is left goes nowhere, without an error at exit
    stdout.flush()
    stdout.close()


def test_health_asks_the_configured_port(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    config = write(tmp_path, port=port)
    code, out, _ = run(capsys, "health", "--config", config, "--timeout", "1")
    assert code == exitcodes.ERROR
    assert out.startswith(f"unhealthy: http://127.0.0.1:{port}/healthz did not answer")


def test_progress_spins_on_a_terminal_and_writes_nothing_elsewhere() -> None:
    quiet = io.StringIO()
    with progress("polling churn (1/2)...", quiet) as shown:
        shown.update("polling fraud (2/2)...")
    assert quiet.getvalue() == ""

    controller, terminal = os.openpty()
    with os.fdopen(terminal, "w") as tty:
        with progress("polling churn (1/2)...", tty) as shown:
            shown.update("polling fraud (2/2)...")
            shown.done()
        tty.flush()
        drawn = b""
        while b"fraud" not in drawn and select.select([controller], [], [], 5)[0]:
            drawn += os.read(controller, 65536)
    os.close(controller)
    assert b"polling churn (1/2)..." in drawn or b"polling fraud (2/2)..." in drawn


def test_config_validate_json(capsys: pytest.CaptureFixture[str], config: str) -> None:
    code, out, _ = run(capsys, "config", "validate", "--config", config, "--json")
    shown = json.loads(out)
    assert code == 0 and shown["valid"] is True and shown["models"] == ["churn"] and shown["receivers"] == ["log"]


def test_alerts_list_shows_what_fires_now_with_its_status_like_amtool_alert_query(
    capsys: pytest.CaptureFixture[str], config: str
) -> None:
    clock = SimulatedClock(utc_now())
    pipeline = firing(config, clock, {"alertname": "ModelRisk", "model": "churn", "severity": "high"})
    pipeline.service.sync("fraud", [Alert({"alertname": "ModelRisk", "model": "fraud", "severity": "medium"}, {},
                                          clock())])
    code, out, _ = run(capsys, "silence", "add", "--config", config, 'model="fraud"', "--duration", "1h",
                       "--comment", "deploy", "--author", "ana")
    silence_id = out.strip()
    code, out, err = run(capsys, "alerts", "list", "--config", config)
    assert code == 0
    header, *rows = out.splitlines()
    hidden = err.strip()
    assert header.split() == ["ALERTNAME", "STARTS", "(UTC)", "STATE", "LABELS", "SUMMARY"]
    assert len(rows) == 1 and 'model="churn"' in rows[0] and " active " in rows[0]
    assert hidden == "(1 suppressed alert not listed: --silenced, --inhibited)"

    code, out, _ = run(capsys, "alerts", "list", "--config", config, "--silenced")
    (row,) = out.splitlines()[1:]
    assert f"silenced by {silence_id[:8]}" in row and 'model="fraud"' in row
    listed = json.loads(run(capsys, "alerts", "list", "--config", config, "--active", "--silenced", "--json")[1])
    assert sorted((a["labels"]["model"], a["state"], a["silenced_by"]) for a in listed) == [
        ("churn", "active", []), ("fraud", "suppressed", [silence_id])]
    assert json.loads(run(capsys, "alerts", "list", "--config", config, 'severity=~"high|critical"', "--json")[1])[0][
        "labels"]["model"] == "churn"
    assert run(capsys, "alerts", "list", "--config", config, 'severity=~"("')[0] == exitcodes.CONFIG_ERROR
    # amtool's shorthand: a bare first word is the alertname.
    assert len(json.loads(run(capsys, "alerts", "list", "--config", config, "ModelRisk", "--active", "--silenced",
                              "--json")[1])) == 2
    assert json.loads(run(capsys, "alerts", "list", "--config", config, "Other", "--json")[1]) == []

    # The preview of a new silence says which of the alerts it mutes are already muted.
    code, _, err = run(capsys, "silence", "add", "--config", config, 'severity=~"high|medium"', "--duration", "1h",
                       "--comment", "x", "--author", "ana")
    assert "mutes 2 alerts firing now:" in err and f"(already silenced by {silence_id[:8]})" in err
