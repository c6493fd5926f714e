"""The canonical ``poll_cycle`` line, the self-alert settings, and the watchdog's route check."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from pathlib import Path

import pytest
from structlog.testing import capture_logs

from config import parse_settings
from config.errors import ConfigError
from monitor.app import open_state
from monitor.assessments import AssessmentStore
from monitor.cli import main
from monitor.messages import AssessmentMade, SourceFailed
from monitor.poll_cycle import PollCycle
from monitor.risk import judge
from monitor.self_watch import watchdog_route_warning
from tests.monitor.judge_support import T0, drift, model, window

ROUTES = """
route:
  receiver: team
  routes: {routes}
receivers: [{{name: team}}, {{name: heartbeat}}]
"""


def _settings(routes: str = "[]", watchdog: bool = True, extra: str = "") -> str:
    return (f"models: [{{name: churn, sources: {{lakehouse: {{table: main.ml.t}}}}}}]\n"
            f"service: {{self_alerts: {{watchdog: {str(watchdog).lower()}{extra}}}}}\n" + ROUTES.format(routes=routes))


def test_one_poll_cycle_line_with_models_windows_ages_findings_failures_and_duration(tmp_path: Path) -> None:
    state = open_state(None, f"sqlite:///{tmp_path}/state.db")
    now = T0 + timedelta(hours=3)
    store = AssessmentStore(state.engine, lambda: now)
    cycle = PollCycle(store, lambda: now)
    rows = (drift("prediction", js_distance=0.25, chi_squared_pvalue=1e-9),
            drift("age", js_distance=0.35, ks_pvalue=1e-6))
    with capture_logs() as logs:
        for index in range(2):
            w = replace(window(*rows, index=index), version=f"v{index}")
            recorded = store.record(judge(model(), w, store.prior("churn", w.stream, w.window_start, 5)), model().risk)
            assert recorded is not None
            cycle.on_assessment(AssessmentMade(recorded.assessment, None))
        assert cycle.polled("churn", 1.25) is None
        cycle.on_failure(SourceFailed("fraud", "main.ml.fraud_profile_metrics does not exist"))
        assert cycle.polled("fraud", 0.5) == "main.ml.fraud_profile_metrics does not exist"
        fields = cycle.close()
        assert cycle.close() is None  # a new cycle with no poll logs nothing
    (line,) = [e for e in logs if e["event"] == "poll_cycle"]
    assert fields is not None and line == {**fields, "event": "poll_cycle", "log_level": "info"}
    assert line["models"] == ["churn", "fraud"]
    assert line["windows"] == 2
    assert line["newest_window_age_s"] == {"churn": 3600.0, "fraud": None}  # window 2 ended at T0+2h
    assert line["findings"] == {"low": 0, "medium": 0, "high": 4, "critical": 0}
    assert line["failures"] == {"fraud": "main.ml.fraud_profile_metrics does not exist"}
    assert line["duration_s"] == 1.75
    state.close()


def test_a_poll_that_raised_is_a_failure_of_its_model(tmp_path: Path) -> None:
    state = open_state(None, f"sqlite:///{tmp_path}/state.db")
    cycle = PollCycle(AssessmentStore(state.engine, lambda: T0), lambda: T0)
    assert cycle.polled("churn", 0.1, raised="RuntimeError: boom") == "RuntimeError: boom"
    fields = cycle.close()
    assert fields is not None and fields["failures"] == {"churn": "RuntimeError: boom"}
    state.close()


def test_self_alert_defaults() -> None:
    cfg = parse_settings(_settings(watchdog=False), "t.yaml", {}).service.self_alerts
    assert cfg.watchdog is False
    assert (cfg.polls_failing.enabled, cfg.polls_failing.after, cfg.polls_failing.severity) == (True, 3, "high")
    assert (cfg.outbox_backlog.older_than, cfg.outbox_backlog.severity) == (timedelta(minutes=10), "high")
    assert (cfg.dead_letters.within, cfg.dead_letters.severity) == (timedelta(hours=1), "medium")
    with pytest.raises(ConfigError, match=r"polls_failing\.severity: found 'urgent'"):
        parse_settings(_settings(extra=", polls_failing: {severity: urgent}"), "t.yaml", {})


@pytest.mark.parametrize(("routes", "warned"), [
    ("[]", True),                                                              # the root receiver
    ("[{receiver: heartbeat}]", True),                                         # a catch-all child
    ("[{matchers: ['alertname!=\"ModelAtRisk\"'], receiver: heartbeat}]", True),  # matches, names nothing
    ("[{matchers: ['alertname=\"Watchdog\"'], receiver: heartbeat}]", False),
    ("[{matchers: ['alertname=~\"Watchdog|Heartbeat\"'], receiver: heartbeat}]", False),
    ("[{matchers: ['alertname=\"ModelAtRisk\"'], receiver: heartbeat}]", True),
])
def test_the_watchdog_needs_a_route_that_names_it(routes: str, warned: bool) -> None:
    warning = watchdog_route_warning(parse_settings(_settings(routes), "t.yaml", {}))
    assert (warning is not None) == warned
    if warning:
        assert "no route matches alertname=\"Watchdog\"" in warning and "'team'" in warning
    assert watchdog_route_warning(parse_settings(_settings(routes, watchdog=False), "t.yaml", {})) is None


def test_config_validate_warns_about_an_unrouted_watchdog(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "c.yaml"
    path.write_text(_settings())
    assert main(["config", "validate", str(path)]) == 0
    out = capsys.readouterr().out
    assert "self alerts watchdog on, polls failing 3x (high), outbox backlog > 10m (high)" in out
    assert "warnings (1)\n  service.self_alerts.watchdog is on, but no route matches" in out
    path.write_text(_settings("[{matchers: ['alertname=\"Watchdog\"'], receiver: heartbeat}]"))
    assert main(["config", "validate", str(path)]) == 0
    assert "warnings" not in capsys.readouterr().out
