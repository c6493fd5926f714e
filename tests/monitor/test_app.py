"""The composed daemon in-process: one failing model never stops the others, and /readyz shows it."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from structlog.testing import capture_logs

from config import parse_settings
from monitor.app import App, build_app
from monitor.demo import data
from monitor.engines.local_spark import LocalSparkEngine
from monitor.messages import PollDue
from monitor.profile import ProfileSpec, write_profile

pytestmark = pytest.mark.integration

STREAM = "lakehouse:1 hour"  # the data windows (the freshness stream has one window per hour of the clock)
# Two drifted windows of three: the risk alert needs two of the last three windows (risk.enter).
SCENARIO = data.DemoScenario(windows=3, drift_from=1, drift_until=3, rows_per_window=500, baseline_rows=1000)


def _config(tmp_path: Path, root: Path) -> str:
    return f"""
engine: {{kind: local_spark, lakehouse_root: {root}}}
state: {{url: "sqlite:///{tmp_path}/state.db"}}
models:
  - name: good
    sources: {{lakehouse: {{table: main.app_test.inference, lookback: 3650d}}}}
  - name: broken
    sources: {{lakehouse: {{table: main.app_test.missing, lookback: 3650d}}}}
route: {{receiver: log, group_wait: 0s}}  # judged at once: the pending count below is the outbox
receivers:
  - name: log
    file_configs: [{{path: "{tmp_path}/alerts.jsonl"}}]
"""


@pytest.fixture(scope="module")
def engine(spark_engine: LocalSparkEngine) -> LocalSparkEngine:
    spark_engine.write("main.app_test.baseline", SCENARIO.baseline(), mode="overwrite")
    for index in range(SCENARIO.windows):
        spark_engine.write("main.app_test.inference", SCENARIO.frame(index), mode="append")
    write_profile(spark_engine, ProfileSpec(
        table="main.app_test.inference", baseline_table="main.app_test.baseline", timestamp_col="timestamp",
        granularity="1 hour", feature_cols=data.FEATURES, prediction_col="prediction", label_col="label"))
    return spark_engine


def _app(engine: LocalSparkEngine, tmp_path: Path) -> App:
    settings = parse_settings(_config(tmp_path, engine.root), "t.yaml", {})
    return build_app(settings, clock=lambda: SCENARIO.start + timedelta(days=1), engine=engine)


def test_a_failing_source_does_not_stop_other_models(engine: LocalSparkEngine, tmp_path: Path) -> None:
    app = _app(engine, tmp_path)
    app.health.set_started()
    with capture_logs() as logs:
        for model in ("broken", "good"):
            app.bus.handle(PollDue(model))
    assert [e["model"] for e in logs if e["event"] == "source_failed"] == ["broken"]
    (latest,) = app.assessments.history("good", limit=1, stream=STREAM)
    assert latest.severity in ("high", "critical")
    assert len(app.assessments.history("good", stream=STREAM)) == SCENARIO.windows
    ready, details = app.health.readiness()
    assert ready
    assert details["models"]["good"]["ok"] is True
    assert details["models"]["broken"]["ok"] is False
    assert "main.app_test.missing_drift_metrics does not exist" in details["models"]["broken"]["error"]
    assert app.outbox.counts().get("pending") == 1  # the good model's alert is on its way


def test_a_restart_judges_no_window_twice_and_sends_nothing_again(engine: LocalSparkEngine, tmp_path: Path) -> None:
    _app(engine, tmp_path).bus.handle(PollDue("good"))
    restarted = _app(engine, tmp_path)  # same state database, as after a restart
    restarted.bus.handle(PollDue("good"))
    assert len(restarted.assessments.history("good", stream=STREAM)) == SCENARIO.windows
    assert restarted.outbox.counts().get("pending") == 1
