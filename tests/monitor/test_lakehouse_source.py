"""The Lakehouse metrics source over metric tables written by the profile writer, on real Spark."""

from __future__ import annotations

from datetime import timedelta

import pyarrow as pa
import pytest

from config.models import ModelSettings
from monitor.demo import data
from monitor.engines.local_spark import LocalSparkEngine
from monitor.profile import ProfileSpec, write_profile
from monitor.sources import LakehouseMetricsSource, SourceError

pytestmark = pytest.mark.integration

SCENARIO = data.DemoScenario(windows=4, drift_from=2, drift_until=4, rows_per_window=600, baseline_rows=1200)
NOW = SCENARIO.start + timedelta(hours=5)


def model(schema: str, **lakehouse: object) -> ModelSettings:
    return ModelSettings.model_validate({"name": "churn", "sources": {"lakehouse": {
        "table": f"main.{schema}.inference", "baseline_table": f"main.{schema}.baseline",
        "label_column": "label", "lookback": "30d", **lakehouse}}})


@pytest.fixture(scope="module")
def tables(spark_engine: LocalSparkEngine) -> str:
    """Four windows (the last two drifted) and their metric tables, written once for the module."""
    schema = "source_test"
    spark_engine.write(f"main.{schema}.baseline", SCENARIO.baseline(), mode="overwrite")
    for index in range(SCENARIO.windows):
        spark_engine.write(f"main.{schema}.inference", SCENARIO.frame(index), mode="append")
    spec = ProfileSpec(table=f"main.{schema}.inference", baseline_table=f"main.{schema}.baseline",
                       timestamp_col="timestamp", granularity="1 hour", feature_cols=data.FEATURES,
                       prediction_col="prediction", label_col="label", model_id_col="model_id")
    write_profile(spark_engine, spec)
    return schema


def test_reads_every_window_in_order_with_drift_and_profile(spark_engine: LocalSparkEngine, tables: str) -> None:
    windows = LakehouseMetricsSource(spark_engine, lambda: NOW).read(model(tables), since=None)
    assert [w.window_start for w in windows] == [SCENARIO.window(i)[0] for i in range(4)]
    first = windows[0]
    assert first.row_count == SCENARIO.rows_per_window
    assert {d.column for d in first.drift} >= {"prediction", "tenure_months", "contract"}
    assert all(d.drift_type == "BASELINE" for d in first.drift)
    assert {p.column for p in first.profile} >= {"prediction", "age"}
    calm = {d.column: d.statistics["js_distance"] for d in windows[0].drift}
    drifted = {d.column: d.statistics["js_distance"] for d in windows[3].drift}
    assert drifted["prediction"] > 0.2 > calm["prediction"]


def test_watermark_returns_only_newer_windows(spark_engine: LocalSparkEngine, tables: str) -> None:
    source = LakehouseMetricsSource(spark_engine, lambda: NOW)
    after_second = SCENARIO.window(1)[1]
    windows = source.read(model(tables), since=after_second)
    assert [w.window_start for w in windows] == [SCENARIO.window(2)[0], SCENARIO.window(3)[0]]
    assert source.read(model(tables), since=SCENARIO.window(3)[1]) == []


def test_first_read_is_bounded_by_the_lookback(spark_engine: LocalSparkEngine, tables: str) -> None:
    windows = LakehouseMetricsSource(spark_engine, lambda: NOW).read(model(tables, lookback="3h"), since=None)
    assert [w.window_end for w in windows] == [SCENARIO.window(2)[1], SCENARIO.window(3)[1]]


def test_model_id_filter_reads_that_models_rows(spark_engine: LocalSparkEngine, tables: str) -> None:
    source = LakehouseMetricsSource(spark_engine, lambda: NOW)
    one = source.read(model(tables, model_id_column="model_id", model_id=SCENARIO.model_id), since=None)
    everyone = source.read(model(tables, model_id_column="model_id", model_id="*"), since=None)
    assert len(one) == len(everyone) == 4
    assert source.read(model(tables, model_id_column="model_id", model_id="no-such-model"), since=None) == []


def test_consecutive_drift_starts_at_the_second_window(spark_engine: LocalSparkEngine, tables: str) -> None:
    windows = LakehouseMetricsSource(spark_engine, lambda: NOW).read(
        model(tables, drift_type="CONSECUTIVE"), since=None)
    assert [w.window_start for w in windows] == [SCENARIO.window(i)[0] for i in range(1, 4)]


def test_missing_table_is_a_source_error_naming_it(spark_engine: LocalSparkEngine) -> None:
    with pytest.raises(SourceError, match=r"main\.nowhere\.inference_drift_metrics does not exist"):
        LakehouseMetricsSource(spark_engine, lambda: NOW).read(model("nowhere"), since=None)


def test_table_without_metric_columns_is_named_with_what_is_missing(spark_engine: LocalSparkEngine) -> None:
    spark_engine.write("main.not_metrics.inference_drift_metrics", pa.table({"x": [1]}), mode="overwrite")
    with pytest.raises(SourceError, match="lacks the expected columns window, granularity"):
        LakehouseMetricsSource(spark_engine, lambda: NOW).read(model("not_metrics"), since=None)


def test_an_older_monitor_without_some_statistics_still_reads(spark_engine: LocalSparkEngine, tables: str) -> None:
    """Columns absent from the table are left out of the query; the judge skips them with a reason."""
    old = spark_engine.spark.read.parquet(str(spark_engine.path(f"main.{tables}.inference_drift_metrics")))
    old = old.drop("population_stability_index", "ks_test", "monitor_version")
    old.write.mode("overwrite").parquet(str(spark_engine.path("main.old_monitor.inference_drift_metrics")))
    windows = LakehouseMetricsSource(spark_engine, lambda: NOW).read(model("old_monitor"), since=None)
    assert len(windows) == 4
    stats = windows[0].drift[0].statistics
    assert "population_stability_index" not in stats and "js_distance" in stats
    assert windows[0].monitor_version is None
    assert windows[0].notes and "no profile metrics" in windows[0].notes[0]


def test_windows_without_drift_rows_wait_for_the_next_poll(spark_engine: LocalSparkEngine, tables: str) -> None:
    """A refresh writes profile rows before drift rows: a window seen only in the profile is not judged yet."""
    src = spark_engine.spark.read.parquet(str(spark_engine.path(f"main.{tables}.inference_drift_metrics")))
    last_start = SCENARIO.window(3)[0].replace(tzinfo=None)
    src.filter(src["window"]["start"] < last_start).write.mode("overwrite").parquet(
        str(spark_engine.path("main.half_written.inference_drift_metrics")))
    prof = spark_engine.spark.read.parquet(str(spark_engine.path(f"main.{tables}.inference_profile_metrics")))
    prof.write.mode("overwrite").parquet(str(spark_engine.path("main.half_written.inference_profile_metrics")))
    windows = LakehouseMetricsSource(spark_engine, lambda: NOW).read(model("half_written"), since=None)
    assert [w.window_start for w in windows] == [SCENARIO.window(i)[0] for i in range(3)]
