"""The ``lakewarden`` command line: ``config validate``, ``check``, ``health`` and the exit codes.

Commands that need Spark run in-process (``monitor.cli.main``) so they share the session's local
Spark; the missing-Java case runs as a child process with an environment that has no Java.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from monitor.cli import exitcodes, main
from monitor.engines.local_spark import LocalSparkEngine
from monitor.health import Health
from monitor.web import WebServer, build_app
from tests.monitor.cli_support import (
    MODEL,
    Dataset,
    latest_severity,
    log_events,
    small_scenario,
    state_engine,
    subprocess_env,
    write_config,
    write_dataset,
)

pytestmark = pytest.mark.usefixtures("restore_logging")

REPO = Path(__file__).resolve().parents[2]
LOCAL_EXAMPLE = REPO / "config" / "examples" / "local.yaml"
TRACEBACK = "Traceback (most recent call last)"



@pytest.fixture(scope="module")
def drifted(spark_engine: LocalSparkEngine) -> Dataset:
    # the last two windows are drifted, so the latest stored severity is high or critical
    return write_dataset(spark_engine, "cli_drifted", small_scenario(4, drift_from=2, drift_until=4))


@pytest.fixture(scope="module")
def calm(spark_engine: LocalSparkEngine) -> Dataset:
    return write_dataset(spark_engine, "cli_calm", small_scenario(3, drift_from=3, drift_until=3))


# -- config validate --------------------------------------------------------------------------------


def test_validate_the_shipped_example_prints_a_summary(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["config", "validate", str(LOCAL_EXAMPLE)]) == exitcodes.OK
    out = capsys.readouterr().out
    assert f"{LOCAL_EXAMPLE}: valid" in out
    assert "churn" in out and "lakehouse main.demo.churn_inference" in out  # the model
    assert "receivers (2)" in out and "alert-log" in out and "on-call" in out
    assert 'severity=~"high|critical" -> on-call' in out  # the routes


BROKEN = """\
models:
  - name: Bad Name
    poll_interval: soon
    sources: {lakehouse: {table: not.three}}
route: {receiver: log}
receivers:
  - name: log
    colour: blue
"""


@pytest.mark.parametrize("debug", [False, True])
def test_validate_a_broken_file_lists_every_problem_with_its_line(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], debug: bool) -> None:
    path = tmp_path / "broken.yaml"
    path.write_text(BROKEN, encoding="utf-8")
    code = main([*(["--debug"] if debug else []), "config", "validate", str(path)])
    captured = capsys.readouterr()
    assert code == exitcodes.CONFIG_ERROR
    assert f"{path}: 4 problems" in captured.err
    for line, where in ((2, "models[0].name"), (3, "models[0].poll_interval"),
                        (4, "models[0].sources.lakehouse.table"), (8, "receivers[0].colour")):
        assert f"{path}:{line}: {where}" in captured.err, captured.err
    assert TRACEBACK not in captured.err + captured.out
    assert "valid" not in captured.out


# -- check ---------------------------------------------------------------------------------------------


def _check(config: Path, capsys: pytest.CaptureFixture[str], *extra: str) -> tuple[int, list[str]]:
    code = main(["check", "--config", str(config), *extra])
    out = capsys.readouterr().out
    return code, [line for line in out.splitlines() if line.strip()]


@pytest.mark.integration
def test_check_exits_with_the_code_of_the_stored_severity_and_again_without_new_windows(
        tmp_path: Path, drifted: Dataset, capsys: pytest.CaptureFixture[str]) -> None:
    config = write_config(tmp_path, drifted)
    code, lines = _check(config, capsys)
    severity = latest_severity(state_engine(tmp_path))
    assert severity in ("high", "critical")
    assert code == exitcodes.SEVERITY[severity] in (12, 13)
    (line,) = lines  # one line per model: severity, risk, the newest judged window and its age
    assert line.split()[:2] == [MODEL, severity] and "risk " in line
    last = drifted.scenario.window(drifted.scenario.windows - 1)
    assert f"window lakehouse:1 hour {last[0]:%Y-%m-%dT%H:%M}Z to {last[1]:%Y-%m-%dT%H:%M}Z, ended " in line

    # No new windows: the check reports what is stored, with the same code (the age moves on); --json
    # says the same, one object per model.
    assert main(["check", "--config", str(config), "--json"]) == code
    (found,) = json.loads(capsys.readouterr().out)
    assert (found["model"], found["severity"], found["judged"], found["error"]) == (MODEL, severity, True, None)
    assert found["line"].split(", ended")[0] == line.split(None, 1)[1].split(", ended")[0]


@pytest.mark.integration
def test_check_of_calm_but_stale_windows_is_not_ok_until_replayed_as_of_their_time(
        tmp_path: Path, calm: Dataset, capsys: pytest.CaptureFixture[str]) -> None:
    config = write_config(tmp_path, calm)
    code, lines = _check(config, capsys)
    # The windows are calm, but the newest is long past: stale data (medium), never a plain ok.
    assert code == exitcodes.SEVERITY["medium"]
    assert latest_severity(state_engine(tmp_path)) == "ok"
    (line,) = lines
    assert line.split()[:2] == [MODEL, "medium"]

    end = calm.scenario.window(calm.scenario.windows - 1)[1]
    code, lines = _check(config, capsys, "--as-of", f"{end:%Y-%m-%dT%H:%M}")
    assert code == exitcodes.OK
    assert lines[0].startswith("replay as of") and lines[1].split()[:2] == [MODEL, "ok"]


@pytest.mark.integration
def test_check_of_a_missing_table_is_incomplete_and_names_it(
        tmp_path: Path, calm: Dataset, capsys: pytest.CaptureFixture[str]) -> None:
    config = write_config(tmp_path, calm, table="main.cli_calm.no_such_table")
    code, lines = _check(config, capsys)
    assert code == exitcodes.INCOMPLETE
    (line,) = lines
    assert line.startswith(MODEL) and "FAILED" in line
    assert "main.cli_calm.no_such_table_drift_metrics does not exist" in line


@pytest.mark.integration
def test_check_leaves_alone_what_a_running_daemon_on_this_host_is_sending(
        tmp_path: Path, calm: Dataset, capsys: pytest.CaptureFixture[str]) -> None:
    """A daemon takes back at once what its instance id held before a restart; ``check`` (run beside
    it, say by ``kubectl exec``) has another identity, so it neither takes nor resends that row."""
    from datetime import timedelta

    from alerts.instance import instance_id
    from alerts.outbox import Outbox, OutboxStatus, enqueue
    from config import load_settings
    from config.basics.clock import utc_now
    from config.basics.sql import begin_write
    from monitor.app import open_state

    config = write_config(tmp_path, calm)
    settings = load_settings(config)
    store = open_state(settings)
    daemon = instance_id(settings.alerting.instance_id, str(settings.state.url))
    with begin_write(store.engine) as conn:
        row_id = enqueue(conn, now=utc_now(), receiver="log", channel_kind="file", channel_index=0,
                         idempotency_key="in-flight-at-the-daemon", payload={"status": "firing", "alerts": []})
    outbox = Outbox(store.engine, utc_now)
    held = outbox.claim_one(daemon, timedelta(minutes=5), [row_id] if row_id is not None else None)
    assert held is not None and held.id == row_id  # the daemon is sending it right now

    _check(config, capsys)

    (row,) = [r for r in outbox.rows() if r.id == row_id]
    assert row.status == OutboxStatus.IN_FLIGHT and row.lease_owner == daemon and row.attempts == held.attempts
    store.close()


@pytest.mark.integration
def test_check_logs_one_poll_cycle_line(tmp_path: Path, drifted: Dataset, capsys: pytest.CaptureFixture[str]) -> None:
    main(["check", "--config", str(write_config(tmp_path, drifted))])
    (cycle,) = [e for e in log_events(capsys.readouterr().err) if e["event"] == "poll_cycle"]
    # The data windows, and the freshness stream's period (stale: the demo's windows are from 2025).
    assert cycle["models"] == [MODEL] and cycle["windows"] == drifted.scenario.windows + 1
    assert cycle["findings"]["medium"] > 0
    assert cycle["failures"] == {} and cycle["duration_s"] > 0
    assert cycle["newest_window_age_s"][MODEL] > 0  # the demo's windows are in the past
    assert cycle["findings"]["high"] + cycle["findings"]["critical"] > 0


@pytest.mark.integration
def test_check_without_java_says_so_in_one_message_and_exits_1(tmp_path: Path, calm: Dataset) -> None:
    bin_dir = tmp_path / "bin"  # PATH holds python and nothing else: no java
    bin_dir.mkdir()
    (bin_dir / "python").symlink_to(sys.executable)
    env = {**subprocess_env(), "JAVA_HOME": "/nonexistent", "PATH": str(bin_dir)}
    done = subprocess.run([sys.executable, "-m", "monitor", "check", "--config", str(write_config(tmp_path, calm))],
                          env=env, capture_output=True, text=True, timeout=120, check=False, cwd=tmp_path)
    output = done.stdout + done.stderr
    assert done.returncode == exitcodes.ERROR, output
    assert output.count("Java 17") == 1, output
    assert "JAVA_HOME=/nonexistent" in output
    assert TRACEBACK not in output


# -- health --------------------------------------------------------------------------------------------


@pytest.mark.integration
def test_health_of_a_running_server_exits_0(capsys: pytest.CaptureFixture[str]) -> None:
    health = Health()
    health.set_started()
    server = WebServer("127.0.0.1", 0, build_app(health))
    server.start()
    try:
        code = main(["health", "--url", f"http://127.0.0.1:{server.port}/healthz"])
    finally:
        server.stop()
    assert code == exitcodes.OK
    assert '"status": "ok"' in capsys.readouterr().out


@pytest.mark.integration
def test_health_of_a_closed_port_exits_1_unhealthy(capsys: pytest.CaptureFixture[str]) -> None:
    with socket.socket() as sock:  # a port that was free a moment ago and nothing listens on now
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    code = main(["health", "--url", f"http://127.0.0.1:{port}/healthz", "--timeout", "2"])
    assert code == exitcodes.ERROR
    assert "unhealthy" in capsys.readouterr().out


# -- exit codes ----------------------------------------------------------------------------------------


def test_exit_codes_are_distinct() -> None:
    # "ok" is the one severity that shares its code, with OK: a calm check passes.
    assert exitcodes.SEVERITY["ok"] == exitcodes.OK
    codes = [exitcodes.OK, exitcodes.ERROR, exitcodes.CONFIG_ERROR, exitcodes.INCOMPLETE,
             *(code for severity, code in exitcodes.SEVERITY.items() if severity != "ok")]
    assert len(codes) == len(set(codes))
    assert all(0 <= code < 126 for code in codes)  # 126+ mean "not executable", "not found", signals
    assert list(exitcodes.SEVERITY.values()) == sorted(exitcodes.SEVERITY.values())  # worse is higher


@pytest.mark.integration
def test_python_dash_m_monitor_is_the_command(tmp_path: Path) -> None:
    """``python -m monitor`` (what the container and these tests run) exits with main's code."""
    done = subprocess.run([sys.executable, "-m", "monitor", "config", "validate", str(tmp_path / "none.yaml")],
                          env={**os.environ, **subprocess_env()}, capture_output=True, text=True, timeout=60,
                          check=False)
    assert done.returncode == exitcodes.CONFIG_ERROR
    assert TRACEBACK not in done.stderr
