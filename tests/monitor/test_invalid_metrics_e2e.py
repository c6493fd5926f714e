"""Broken metric tables, read by the real source on local Spark and judged by the composed daemon's poll.

Each model of one config has its own breakage; the wording of what reaches the findings (or the
source error) is checked end to end, and a healthy model in the same config is still judged.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pyarrow as pa
import pytest

from config import parse_settings
from monitor.app import build_app
from monitor.engines.local_spark import LocalSparkEngine
from monitor.messages import AssessmentMade, PollDue, SourceFailed
from monitor.risk import Assessment
from monitor.sources import is_data_stream
from tests.monitor.metric_tables import DRIFT, PROFILE, START, drow, prow, put, table
from tests.monitor.payloads import Call, ai_gateway, at

pytestmark = pytest.mark.integration

NOW = START + timedelta(hours=3)
COLUMNS = ("age", "prediction")
MODELS = ("broken", "nojs", "stringy", "undated", "fine")


def _config(tmp_path: Path, root: Path) -> str:
    lakehouse = "\n".join(f"""  - name: {name}
    sources:
      lakehouse: {{table: main.invalid_{name}.t, lookback: 1d, model_id_column: model_id}}""" for name in MODELS)
    return f"""
engine: {{kind: local_spark, lakehouse_root: {root}}}
state: {{url: "sqlite:///{tmp_path}/state.db"}}
models:
{lakehouse}
  - name: endpoint
    sources:
      inference: {{table: main.invalid_endpoint.payload, lookback: 1d}}
route: {{receiver: log, group_wait: 0s}}
receivers:
  - name: log
    file_configs: [{{path: "{tmp_path}/alerts.jsonl"}}]
"""


def _write(engine: LocalSparkEngine, name: str, drift: list[dict], profile: list[dict],  # type: ignore[type-arg]
           drift_layout: list[tuple[str, pa.DataType]] = DRIFT, drop: tuple[str, ...] = ()) -> None:
    put(engine, f"main.invalid_{name}.t_drift_metrics", table(drift_layout, drift, drop=drop))
    put(engine, f"main.invalid_{name}.t_profile_metrics", table(PROFILE, profile))


def _healthy(windows: int = 2) -> tuple[list[dict], list[dict]]:  # type: ignore[type-arg]
    drift = [drow(i, c, 0.05, pvalue=0.5) for i in range(windows) for c in COLUMNS]
    profile = [prow(i, c, 1000) for i in range(windows) for c in (*COLUMNS, ":table")]
    return drift, profile


@pytest.fixture(scope="module")
def polled(spark_engine: LocalSparkEngine, tmp_path_factory: pytest.TempPathFactory
           ) -> tuple[dict[str, list[Assessment]], dict[str, str]]:
    drift, profile = _healthy()
    # broken: window 0 has a JS distance of 7.5 on age, window 1 a p-value of -3 on a drifted prediction and a
    # count of -5 on age; three rows have no window at all.
    broken_drift = [r if (r["window"]["start"], r["column_name"]) != (START, "age") else {**r, "js_distance": 7.5}
                    for r in drift]
    broken_drift = [r if (r["window"]["start"], r["column_name"]) != (START + timedelta(hours=1), "prediction")
                    else {**r, "js_distance": 0.35, "ks_test": {"statistic": 0.3, "pvalue": -3.0}}
                    for r in broken_drift]
    broken_drift += [drow(0, f"lost{i}", 0.05, window=None) for i in range(3)]
    broken_profile = [r if (r["window"]["start"], r["column_name"]) != (START + timedelta(hours=1), "age")
                      else {**r, "count": -5} for r in profile]
    _write(spark_engine, "broken", broken_drift, broken_profile)
    _write(spark_engine, "nojs", drift, profile, drop=("js_distance",))
    text_test = [(n, pa.struct([("statistic", pa.float64()), ("pvalue", pa.string())]) if n == "ks_test" else t)
                 for n, t in DRIFT]
    _write(spark_engine, "stringy", [{**r, "ks_test": {"statistic": 0.1, "pvalue": "lots"}} for r in drift], profile,
           drift_layout=text_test)
    _write(spark_engine, "undated", [{**r, "window": None} for r in drift],
           [{**r, "window": None} for r in profile])
    _write(spark_engine, "fine", drift, profile)
    calls = [Call(f"r{h}-{i}", at(h + i / 100), ms=-50 if h == 1 else 20) for h in range(3) for i in range(50)]
    put(spark_engine, "main.invalid_endpoint.payload", ai_gateway(calls))

    tmp_path = tmp_path_factory.mktemp("invalid")
    app = build_app(parse_settings(_config(tmp_path, spark_engine.root), "t.yaml", {}), clock=lambda: NOW,
                    engine=spark_engine)
    made: dict[str, list[Assessment]] = {}
    failed: dict[str, str] = {}
    # The data windows (the freshness stream's period is judged for every model that has a table: not here).
    app.bus.subscribe(AssessmentMade, lambda e: made.setdefault(e.assessment.model, []).append(e.assessment)
                      if is_data_stream(e.assessment.stream) else ())
    app.bus.subscribe(SourceFailed, lambda e: failed.update({e.model: e.error}) or ())
    try:
        for name in (*MODELS, "endpoint"):
            app.bus.handle(PollDue(name))
    finally:
        app.store.close()  # not app.close(): the engine is the test run's shared Spark session
    return made, failed


def _invalid(a: Assessment) -> list[str]:
    return [f.describe() for f in a.findings if f.signal == "invalid_metrics"]


def test_out_of_range_values_are_findings_not_drift_and_null_windows_are_counted(
        polled: tuple[dict[str, list[Assessment]], dict[str, str]]) -> None:
    made, _ = polled
    first, second = made["broken"]
    [drift] = _invalid(first)
    assert drift.startswith("invalid metrics (medium): main.invalid_broken.t_drift_metrics, window "
                            "2025-06-02T00:00:00+00:00 to 2025-06-02T01:00:00+00:00: 1 invalid values; js_distance "
                            "7.5 on `age` (must be a distance in [0, 1] (base-2 Jensen-Shannon)); 3 rows of "
                            "granularity '1 hour' have a NULL window")
    assert not [f for f in first.findings if f.signal == "feature_drift"]  # 7.5 is not drift
    assert first.severity == "medium"
    texts = _invalid(second)
    assert any("ks_pvalue -3 on `prediction` (must be a p-value in [0, 1])" in t for t in texts)
    assert any(t.startswith("invalid metrics (medium): main.invalid_broken.t_profile_metrics, window "
                            "2025-06-02T01:00:00+00:00 to 2025-06-02T02:00:00+00:00: 1 invalid values; row_count -5 "
                            "on `age` (must be a count >= 0)") for t in texts)
    [prediction] = [f for f in second.findings if f.signal == "prediction_drift"]
    assert prediction.detail == "no p-value in the table: effect size alone"  # -3 was not read as significant
    assert not [n for n in second.not_raised if "rows, below min_count" in n.reason]


def test_a_dropped_statistic_column_is_a_finding(polled: tuple[dict[str, list[Assessment]], dict[str, str]]) -> None:
    made, _ = polled
    for a in made["nojs"]:
        [text] = _invalid(a)
        assert ("main.invalid_nojs.t_drift_metrics, window" in text and "column js_distance is missing (the statistic "
                "signals.feature_drift, signals.prediction_drift, signals.label_drift judge)" in text)
        assert a.severity == "medium"


def test_a_string_statistic_column_and_only_null_windows_are_source_errors_and_other_models_are_judged(
        polled: tuple[dict[str, list[Assessment]], dict[str, str]]) -> None:
    made, failed = polled
    assert set(failed) == {"stringy", "undated"}
    assert failed["stringy"].startswith(
        "model stringy: column ks_test.pvalue (read as ks_pvalue) of main.invalid_stringy.t_drift_metrics has type "
        "string, expected a number")
    assert "could not convert" not in failed["stringy"]
    assert failed["undated"].startswith(
        "model undated: every row of granularity '1 hour' in the metric tables has a NULL window "
        "(main.invalid_undated.t_drift_metrics: 4 rows; main.invalid_undated.t_profile_metrics: 6 rows)")
    assert "stringy" not in made and "undated" not in made
    fine = made["fine"]
    assert len(fine) == 2 and all(a.severity == "ok" and not a.findings for a in fine)


def test_negative_latencies_from_the_payload_table_are_findings(
        polled: tuple[dict[str, list[Assessment]], dict[str, str]]) -> None:
    made, _ = polled
    [bad] = [a for a in made["endpoint"] if _invalid(a)]
    assert bad.window_start == at(1)
    [text] = _invalid(bad)
    assert ("main.invalid_endpoint.payload, window 2025-06-02T01:00:00+00:00 to 2025-06-02T02:00:00+00:00: "
            "3 invalid values; latency_p50 -50 on `execution_duration_ms` (must be a latency in ms >= 0)") in text
