"""``lakewarden run`` watches itself: a model whose polls keep failing raises LakewardenPollsFailing through
the daemon's own pipeline to a loopback webhook, and every poll cycle logs one ``poll_cycle`` line. Its
``/readyz`` says what it holds, and a second daemon on its SQLite file is refused."""

from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path

import pytest

from monitor.demo import data
from tests.monitor.cli_support import (
    MODEL,
    Dataset,
    daemon_process,
    subprocess_env,
    wait_for,
    webhook_server,
    write_config,
)

pytestmark = pytest.mark.integration


def test_failing_polls_alert_through_the_daemon_and_each_cycle_logs_one_line(tmp_path: Path) -> None:
    lake = tmp_path / "lakehouse"  # empty: the model's metric tables do not exist
    missing = Dataset(lake, "main.nowhere.churn_inference", "main.nowhere.churn_baseline", data.DemoScenario())
    with webhook_server() as hook:
        receivers = f"  - name: hook\n    webhook_configs: [{{url: \"{hook.url()}\"}}]\n"
        config = write_config(tmp_path, missing, receivers=receivers, route_receiver="hook")
        with daemon_process(config, tmp_path / "daemon.log") as daemon:
            daemon.http_port(timeout=120)

            def paged() -> bool:
                return any(a["labels"].get("alertname") == "LakewardenPollsFailing"
                           for r in hook.requests() for a in r.payload["alerts"])

            wait_for(paged, 60, "a LakewardenPollsFailing notification")
            leases = daemon.readiness()["leases"]  # alone on its state database: it holds everything
            second = subprocess.run([sys.executable, "-m", "monitor", "run", "--config", str(config)],
                                    env=subprocess_env(), cwd=config.parent, capture_output=True, text=True,
                                    timeout=120, check=False)  # SQLite: one daemon per database file
            code, _ = daemon.signal_and_wait(signal.SIGTERM, 60)
            cycles = daemon.events("poll_cycle")
    assert code == 0
    assert leases["models"] == [MODEL] and leases["alerts_flush"] is True and leases["live_replicas"] == 1
    assert second.returncode == 1, second.stderr[-2000:]
    assert f"the SQLite state database {tmp_path}" in second.stderr and "in use by another lakewarden daemon" in \
        second.stderr and "PostgreSQL" in second.stderr, second.stderr[-2000:]
    (alert,) = [a for r in hook.requests() for a in r.payload["alerts"]
                if a["labels"]["alertname"] == "LakewardenPollsFailing"]
    assert alert["labels"] == {"alertname": "LakewardenPollsFailing", "severity": "high", "model": MODEL}
    assert "does not exist" in alert["annotations"]["error"]
    assert len(cycles) >= 3  # a poll every second, each its own cycle
    first = cycles[0]
    assert first["models"] == [MODEL] and first["windows"] == 0
    assert first["newest_window_age_s"] == {MODEL: None}
    assert "does not exist" in first["failures"][MODEL] and first["duration_s"] >= 0
