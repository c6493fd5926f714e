"""Score drift end to end on real Spark: `lakewarden profile` profiles the model's score, the judge calls its
drift prediction drift, leaves id columns out of feature drift (with a note) and profiles only `features`.

The seeded data drifts in the score ONLY: the features have one distribution in the baseline and in the
windows; the ids are new on every row, as ids are.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import pyarrow as pa
import pytest

from config.models import ModelSettings
from monitor.engines.local_spark import LocalSparkEngine
from monitor.observations import WindowMetrics
from monitor.profile import ProfileError, write_profile
from monitor.profile.from_config import Overrides, spec_from_source
from monitor.risk import Assessment, judge
from monitor.sources import LakehouseMetricsSource, Stream

pytestmark = pytest.mark.integration

SCHEMA = "scores"
START = datetime(2025, 6, 2, tzinfo=UTC)
WINDOWS = 2
ROWS = 1_500
BASELINE_ROWS = 3_000
NOW = START + timedelta(hours=WINDOWS + 1)


def _frame(seed: int, n: int, start: datetime, span: timedelta, first_id: int, score: tuple[float, float],
           prefix: str) -> pa.Table:
    rng = np.random.default_rng(seed)
    offsets = np.sort(rng.uniform(0, span.total_seconds(), n))
    return pa.table({
        "ts": pa.array([start + timedelta(seconds=float(s)) for s in offsets], pa.timestamp("us", tz="UTC")),
        "request_id": pa.array([f"{prefix}-{first_id + i:07d}" for i in range(n)]),
        "seq": pa.array(np.arange(first_id, first_id + n), pa.int64()),
        "age": pa.array(rng.normal(40.0, 10.0, n)),
        "plan": pa.array(rng.choice(["basic", "plus", "pro"], n, p=[0.5, 0.3, 0.2]).tolist()),
        "p_churn": pa.array(rng.beta(*score, n)),  # the model's score: low in the baseline, high later
    })


def _model(name: str, **lakehouse: Any) -> ModelSettings:
    signals = lakehouse.pop("signals", {})
    return ModelSettings.model_validate({"name": name, "signals": signals, "sources": {"lakehouse": {
        "table": f"main.{SCHEMA}.inference", "baseline_table": f"main.{SCHEMA}.baseline", "timestamp_column": "ts",
        "prediction_proba_column": "p_churn", "lookback": "3650d", **lakehouse}}})


DEFAULT = _model("default")
FEATURES_ONLY = _model("listed", features=["age"], output_schema=f"main.{SCHEMA}_listed")


@pytest.fixture(scope="module")
def engine(spark_engine: LocalSparkEngine) -> LocalSparkEngine:
    spark_engine.write(f"main.{SCHEMA}.baseline", _frame(1, BASELINE_ROWS, START - timedelta(days=1),
                                                         timedelta(days=1), 0, (2.0, 5.0), "b"), mode="overwrite")
    frames = [_frame(10 + i, ROWS, START + timedelta(hours=i), timedelta(hours=1), BASELINE_ROWS + i * ROWS,
                     (5.0, 2.0), "w") for i in range(WINDOWS)]
    spark_engine.write(f"main.{SCHEMA}.inference", pa.concat_tables(frames), mode="overwrite")
    for model in (DEFAULT, FEATURES_ONLY):
        source = model.sources.lakehouse
        assert source is not None
        spec = spec_from_source(source, list(spark_engine.columns(source.table)), Overrides(), "1 hour")
        write_profile(spark_engine, spec, now=NOW)
    return spark_engine


def _windows(engine: LocalSparkEngine, model: ModelSettings) -> list[WindowMetrics]:
    windows = LakehouseMetricsSource(engine, lambda: NOW).read(model, Stream("lakehouse", "1 hour"), None)
    assert len(windows) == WINDOWS
    return windows


def _findings(a: Assessment) -> set[tuple[str, str]]:
    return {(f.signal, f.column) for f in a.findings}


def test_only_the_score_drifts_and_it_is_prediction_drift_not_feature_drift(engine: LocalSparkEngine) -> None:
    for window in _windows(engine, DEFAULT):
        assert {d.column for d in window.drift if d.drift_type == "BASELINE"} == {
            ":table", "request_id", "seq", "age", "plan", "p_churn"}
        a = judge(DEFAULT, window)
        assert _findings(a) == {("prediction_drift", "p_churn")}
        score = next(f for f in a.findings if f.column == "p_churn")
        assert score.tier == "critical" and score.drift_type == "BASELINE"
        ids = {n.column: n.describe() for n in a.not_raised if "looks like an id" in n.reason}
        assert ids == {
            "request_id": f"feature drift on `request_id`: looks like an id (distinct = rows = {BASELINE_ROWS:,} in "
                          "the baseline): left out of feature drift; list it in signals.feature_drift.columns to "
                          "judge it",
            "seq": ids["seq"]}
        assert "looks like an id (distinct" in ids["seq"]  # a HyperLogLog estimate, within 10 % of the rows


def test_ids_listed_in_feature_drift_columns_are_judged_and_drift_by_construction(engine: LocalSparkEngine) -> None:
    # without a test: chi-square over thousands of categories seen once each has no power (p about 0.5)
    model = _model("explicit", signals={"feature_drift": {"columns": ["request_id", "seq", "age", "plan"],
                                                          "test": "none"}})
    for window in _windows(engine, model):
        a = judge(model, window)
        assert _findings(a) == {("prediction_drift", "p_churn"), ("feature_drift", "request_id"),
                                ("feature_drift", "seq")}
        assert not [n for n in a.not_raised if "looks like an id" in n.reason]


def test_features_limit_what_is_profiled_and_judged(engine: LocalSparkEngine) -> None:
    source = FEATURES_ONLY.sources.lakehouse
    assert source is not None
    rows = engine.query(f"SELECT DISTINCT column_name FROM {engine.table_ref(source.profile_table)}")  # noqa: S608
    assert sorted(rows.column("column_name").to_pylist()) == [":table", "age", "p_churn"]
    for window in _windows(engine, FEATURES_ONLY):
        a = judge(FEATURES_ONLY, window)
        assert _findings(a) == {("prediction_drift", "p_churn")}
        assert not [n for n in a.not_raised if n.signal == "feature_drift" and n.kind == "skipped"]


def test_a_score_column_missing_from_the_table_stops_the_profile_naming_it(engine: LocalSparkEngine) -> None:
    source = _model("typo", prediction_proba_column="p_chrun").sources.lakehouse
    assert source is not None
    spec = spec_from_source(source, list(engine.columns(source.table)), Overrides(), "1 hour")
    with pytest.raises(ProfileError, match=r"probability \(score\) column 'p_chrun' not in main\.scores\.inference"):
        write_profile(engine, spec, now=NOW)
