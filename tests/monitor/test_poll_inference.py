"""The composed daemon polling an inference source: serving errors become an alert only when they persist."""

from __future__ import annotations

from pathlib import Path

import pytest

from config import parse_settings
from monitor.app import build_app
from monitor.engines.local_spark import LocalSparkEngine
from monitor.messages import AssessmentMade, PollDue
from tests.monitor.metric_tables import put
from tests.monitor.payloads import Call, ai_gateway, at

pytestmark = pytest.mark.integration
STREAM = "inference:1 hour"


def _config(tmp_path: Path, root: Path) -> str:
    return f"""
engine: {{kind: local_spark, lakehouse_root: {root}}}
state: {{url: "sqlite:///{tmp_path}/state.db"}}
models:
  - name: endpoint
    sources:
      inference: {{table: main.poll_inference.payload, lookback: 1d}}
route: {{receiver: log, group_wait: 0s}}
receivers:
  - name: log
    file_configs: [{{path: "{tmp_path}/alerts.jsonl"}}]
"""


def test_one_bad_hour_is_logged_two_page(spark_engine: LocalSparkEngine, tmp_path: Path) -> None:
    bad_hours = (1, 4, 5)
    calls = [Call(f"r{h}-{i}", at(h + i / 100), status=503 if h in bad_hours and i < 30 else 200)
             for h in range(6) for i in range(100)]
    put(spark_engine, "main.poll_inference.payload", ai_gateway(calls))
    clock = [at(3.5)]
    app = build_app(parse_settings(_config(tmp_path, spark_engine.root), "t.yaml", {}), clock=lambda: clock[0],
                    engine=spark_engine)
    made: list[AssessmentMade] = []
    # The serving windows only (not the freshness stream's periods).
    app.bus.subscribe(AssessmentMade, lambda event: made.append(event) if event.assessment.stream == STREAM else ())
    app.bus.handle(PollDue("endpoint"))  # windows 0-2: ok, 30% 503s for one hour, ok
    assert [(a.assessment.severity, a.assessment.alert_severity) for a in made] == [
        ("ok", "ok"), ("critical", "ok"), ("ok", "ok")]
    clock[0] = at(6.5)
    app.bus.handle(PollDue("endpoint"))  # windows 3-5: ok, then two bad hours in a row
    assert [(a.assessment.severity, a.assessment.alert_severity) for a in made[3:]] == [
        ("ok", "ok"), ("critical", "ok"), ("critical", "critical")]
    last = made[-1].assessment
    assert last.stream == STREAM
    assert "operational: server_error_rate 0.3 on the table >= critical 0.2 (503 x 30)" in last.findings[0].describe()
    assert app.assessments.model_alert("endpoint") == "critical"
    assert app.outbox.counts().get("pending") == 1  # the alert is on its way
    app.store.close()  # not app.close(): the engine is the test run's shared Spark session
