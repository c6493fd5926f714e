"""The Lakehouse metrics source over metric tables written by the profile writer, on real Spark."""

from __future__ import annotations

from datetime import timedelta

import pyarrow as pa
import pytest

from config.models import ModelSettings
from monitor.demo import data
from monitor.engines.local_spark import LocalSparkEngine
from monitor.profile import ProfileSpec, write_profile
from monitor.sources import LakehouseMetricsSource, SourceError, Stream

pytestmark = pytest.mark.integration

SCENARIO = data.DemoScenario(windows=4, drift_from=2, drift_until=4, rows_per_window=600, baseline_rows=1200)
NOW = SCENARIO.start + timedelta(hours=5)
HOURLY = Stream("lakehouse", "1 hour")


def read(engine: LocalSparkEngine, m: ModelSettings, known: dict | None = None) -> list:  # type: ignore[type-arg]
    return LakehouseMetricsSource(engine, lambda: NOW).read(m, HOURLY, known)


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


def test_reads_every_window_in_order_with_drift_profile_and_baseline(spark_engine: LocalSparkEngine,
                                                                     tables: str) -> None:
    windows = read(spark_engine, model(tables))
    assert [w.window_start for w in windows] == [SCENARIO.window(i)[0] for i in range(4)]
    first = windows[0]
    assert first.row_count == SCENARIO.rows_per_window
    assert first.stream == "lakehouse:1 hour" and first.version
    assert {d.column for d in first.drift} >= {"prediction", "tenure_months", "contract"}
    assert {d.drift_type for d in first.drift} == {"BASELINE"}  # the first window has no previous one
    assert {d.drift_type for d in windows[1].drift} == {"BASELINE", "CONSECUTIVE"}
    assert {p.column for p in first.profile} >= {"prediction", "age", ":table"}
    assert {b.log_type for b in first.baseline} == {"BASELINE"} and first.baseline[0].count
    stats = next(d for d in first.drift if d.column == "tenure_months").statistics
    assert {"js_distance", "ks_statistic", "ks_pvalue", "population_stability_index"} <= set(stats)
    calm = {d.column: d.statistics["js_distance"] for d in windows[0].drift if d.drift_type == "BASELINE"}
    drifted = {d.column: d.statistics["js_distance"] for d in windows[3].drift if d.drift_type == "BASELINE"}
    assert drifted["prediction"] > 0.2 > calm["prediction"]  # type: ignore[operator]


def test_known_versions_return_only_new_or_changed_windows(spark_engine: LocalSparkEngine, tables: str) -> None:
    everything = read(spark_engine, model(tables))
    known = {(w.window_start, w.window_end): w.version for w in everything[:2]}
    assert [w.window_start for w in read(spark_engine, model(tables), known)] == [
        SCENARIO.window(2)[0], SCENARIO.window(3)[0]]
    known = {(w.window_start, w.window_end): w.version for w in everything}
    assert read(spark_engine, model(tables), known) == []
    known[(everything[1].window_start, everything[1].window_end)] = "an older version"
    assert [w.window_start for w in read(spark_engine, model(tables), known)] == [SCENARIO.window(1)[0]]


def test_first_read_is_bounded_by_the_lookback(spark_engine: LocalSparkEngine, tables: str) -> None:
    windows = read(spark_engine, model(tables, lookback="3h"))
    assert [w.window_end for w in windows] == [SCENARIO.window(2)[1], SCENARIO.window(3)[1]]


def test_model_id_filter_reads_that_models_rows(spark_engine: LocalSparkEngine, tables: str) -> None:
    one = read(spark_engine, model(tables, model_id_column="model_id", model_id=SCENARIO.model_id))
    everyone = read(spark_engine, model(tables, model_id_column="model_id", model_id="*"))
    assert len(one) == len(everyone) == 4
    assert {d.scope.model_id for d in one[0].drift} == {SCENARIO.model_id}
    assert {d.scope.model_id for d in everyone[0].drift} == {"*"}
    both = read(spark_engine, model(tables, model_id_column="model_id", per_model_id=True))
    assert {d.scope.model_id for d in both[0].drift} == {"*", SCENARIO.model_id}
    assert both[0].row_count == SCENARIO.rows_per_window  # the all-models count, not a sum
    assert read(spark_engine, model(tables, model_id_column="model_id", model_id="no-such-model")) == []


def test_consecutive_drift_starts_at_the_second_window(spark_engine: LocalSparkEngine, tables: str) -> None:
    windows = read(spark_engine, model(tables, drift_type="CONSECUTIVE"))
    assert [w.window_start for w in windows] == [SCENARIO.window(i)[0] for i in range(4)]
    assert windows[0].drift == () and "no drift metrics for this window" in " ".join(windows[0].notes)
    assert {d.drift_type for d in windows[1].drift} == {"CONSECUTIVE"}


def test_missing_table_is_a_source_error_naming_it(spark_engine: LocalSparkEngine) -> None:
    with pytest.raises(SourceError, match=r"main\.nowhere\.inference_drift_metrics does not exist"):
        read(spark_engine, model("nowhere"))


def test_table_without_metric_columns_is_named_with_what_is_missing(spark_engine: LocalSparkEngine) -> None:
    spark_engine.write("main.not_metrics.inference_drift_metrics", pa.table({"x": [1]}), mode="overwrite")
    with pytest.raises(SourceError, match="lacks the expected columns window, granularity"):
        read(spark_engine, model("not_metrics"))


def test_an_older_monitor_without_some_statistics_still_reads(spark_engine: LocalSparkEngine, tables: str) -> None:
    """Columns absent from the table are left out of the query; the judge skips them with a reason."""
    old = spark_engine.spark.read.parquet(str(spark_engine.path(f"main.{tables}.inference_drift_metrics")))
    old = old.drop("population_stability_index", "ks_test", "monitor_version")
    old.write.mode("overwrite").parquet(str(spark_engine.path("main.old_monitor.inference_drift_metrics")))
    windows = read(spark_engine, model("old_monitor"))
    assert len(windows) == 4
    stats = windows[0].drift[0].statistics
    assert "population_stability_index" not in stats and "js_distance" in stats
    assert windows[0].monitor_version is None
    assert any("no profile metrics table" in note for note in windows[0].notes)


def test_windows_without_drift_rows_wait_for_the_next_poll(spark_engine: LocalSparkEngine, tables: str) -> None:
    """A refresh writes profile rows before drift rows: a window seen only in the profile is not judged yet."""
    src = spark_engine.spark.read.parquet(str(spark_engine.path(f"main.{tables}.inference_drift_metrics")))
    last_start = SCENARIO.window(3)[0].replace(tzinfo=None)
    src.filter(src["window"]["start"] < last_start).write.mode("overwrite").parquet(
        str(spark_engine.path("main.half_written.inference_drift_metrics")))
    prof = spark_engine.spark.read.parquet(str(spark_engine.path(f"main.{tables}.inference_profile_metrics")))
    prof.write.mode("overwrite").parquet(str(spark_engine.path("main.half_written.inference_profile_metrics")))
    windows = read(spark_engine, model("half_written"))
    assert [w.window_start for w in windows] == [SCENARIO.window(i)[0] for i in range(3)]
