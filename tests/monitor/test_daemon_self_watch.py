"""``lakewarden run`` watches itself: a model whose polls keep failing raises LakewardenPollsFailing through
the daemon's own pipeline to a loopback webhook, and every poll cycle logs one ``poll_cycle`` line."""

from __future__ import annotations

import signal
from pathlib import Path

import pytest

from monitor.demo import data
from tests.monitor.cli_support import MODEL, Dataset, daemon_process, wait_for, webhook_server, write_config

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
            code, _ = daemon.signal_and_wait(signal.SIGTERM, 60)
            cycles = daemon.events("poll_cycle")
    assert code == 0
    (alert,) = [a for r in hook.requests() for a in r.payload["alerts"]
                if a["labels"]["alertname"] == "LakewardenPollsFailing"]
    assert alert["labels"] == {"alertname": "LakewardenPollsFailing", "severity": "high", "model": MODEL}
    assert "does not exist" in alert["annotations"]["error"]
    assert len(cycles) >= 3  # a poll every second, each its own cycle
    first = cycles[0]
    assert first["models"] == [MODEL] and first["windows"] == 0
    assert first["newest_window_age_s"] == {MODEL: None}
    assert "does not exist" in first["failures"][MODEL] and first["duration_s"] >= 0
