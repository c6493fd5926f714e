"""Refreshes, late windows, scopes and extra columns, on hand-made metric tables read by real Spark."""

from __future__ import annotations

from datetime import timedelta

import pyarrow as pa
import pytest

from config.models import ModelSettings
from monitor.engines.local_spark import LocalSparkEngine
from monitor.observations import Scope
from monitor.sources import LakehouseMetricsSource, Stream
from tests.monitor.metric_tables import AVERAGED, DRIFT, PROFILE, START, drow, prow, put, table

pytestmark = pytest.mark.integration

NOW = START + timedelta(hours=12)
HOURLY = Stream("lakehouse", "1 hour")
COLUMNS = ("age", "prediction")


def model(schema: str, **lakehouse: object) -> ModelSettings:
    return ModelSettings.model_validate({"name": "m", "sources": {"lakehouse": {
        "table": f"main.{schema}.t", "lookback": "1d", "model_id_column": "model_id", **lakehouse}}})


def write(engine: LocalSparkEngine, schema: str, drift: list[dict], profile: list[dict],  # type: ignore[type-arg]
          drift_extra: list | None = None, profile_extra: list | None = None) -> None:  # type: ignore[type-arg]
    put(engine, f"main.{schema}.t_drift_metrics", table(DRIFT, drift, drift_extra))
    put(engine, f"main.{schema}.t_profile_metrics", table(PROFILE, profile, profile_extra))


def windows(n: int, js: float = 0.05, mv: int = 0) -> tuple[list[dict], list[dict]]:  # type: ignore[type-arg]
    drift = [drow(i, c, js, mv=mv) for i in range(n) for c in COLUMNS]
    profile = [prow(i, c, 1000, mv=mv) for i in range(n) for c in (*COLUMNS, ":table")]
    return drift, profile


def test_a_refresh_rewriting_windows_changes_their_versions_only(spark_engine: LocalSparkEngine) -> None:
    source = LakehouseMetricsSource(spark_engine, lambda: NOW)
    drift, profile = windows(3)
    write(spark_engine, "refresh", drift, profile)
    first = source.read(model("refresh"), HOURLY)
    known = {(w.window_start, w.window_end): w.version for w in first}
    # The refresh recomputes window 1 in place (new values, a new commit of the logging table) and adds window 3.
    drift = [r if r["window"]["start"] != START + timedelta(hours=1) else {**r, "js_distance": 0.4} for r in drift]
    profile = [r if r["window"]["start"] != START + timedelta(hours=1) else {**r, "logging_table_commit_version": 2}
               for r in profile]
    more_drift, more_profile = windows(4)
    write(spark_engine, "refresh", drift + more_drift[-2:], profile + more_profile[-3:])
    again = source.read(model("refresh"), HOURLY, known)
    assert [w.window_start - START for w in again] == [timedelta(hours=1), timedelta(hours=3)]
    assert next(d for d in again[0].drift if d.column == "age").statistics["js_distance"] == 0.4


def test_a_new_monitor_version_rewrites_every_window_and_old_rows_left_behind_are_not_judged(
        spark_engine: LocalSparkEngine) -> None:
    source = LakehouseMetricsSource(spark_engine, lambda: NOW)
    write(spark_engine, "new_version", *windows(2))
    known = {(w.window_start, w.window_end): w.version for w in source.read(model("new_version"), HOURLY)}
    old_drift, old_profile = windows(2)
    new_drift, new_profile = windows(2, js=0.45, mv=1)
    write(spark_engine, "new_version", old_drift + new_drift, old_profile + new_profile)  # both versions present
    again = source.read(model("new_version"), HOURLY, known)
    assert len(again) == 2 and {w.monitor_version for w in again} == {1}
    assert [(d.column, d.statistics["js_distance"]) for d in again[0].drift] == [("age", 0.45), ("prediction", 0.45)]
    assert len(again[0].profile) == 3
    assert any("5 duplicated metric rows" in note for note in again[0].notes)  # 2 drift + 3 profile rows


def test_a_late_window_is_read_even_when_newer_ones_were_judged(spark_engine: LocalSparkEngine) -> None:
    drift, profile = windows(4)
    late = START + timedelta(hours=2)
    write(spark_engine, "late", [r for r in drift if r["window"]["start"] != late],
          [r for r in profile if r["window"]["start"] != late])
    source = LakehouseMetricsSource(spark_engine, lambda: NOW)
    known = {(w.window_start, w.window_end): w.version for w in source.read(model("late"), HOURLY)}
    assert len(known) == 3
    write(spark_engine, "late", drift, profile)
    assert [w.window_start for w in source.read(model("late"), HOURLY, known)] == [late]


def test_slices_model_ids_custom_and_quality_columns(spark_engine: LocalSparkEngine) -> None:
    eu = ("region", "eu")
    drift = [drow(0, "age", 0.1), drow(0, "age", 0.3, slice_=eu), drow(0, "age", 0.2, model="v2"),
             drow(0, "age", 0.9, slice_=("other", "x")), drow(0, ":table", None, hellinger=0.25)]
    profile = [prow(0, ":table", 1000, accuracy_score=0.8, f1_score={"macro": 0.7, "weighted": 0.75},
                    expected_loss=120.0, confusion={"a": 1}),
               prow(0, ":table", 300, slice_=eu, accuracy_score=0.6),
               prow(None, ":table", 5000, log_type="BASELINE", accuracy_score=0.85,
                    f1_score={"macro": 0.8, "weighted": 0.8})]
    write(spark_engine, "scopes", drift, profile, drift_extra=[("hellinger", pa.float64())],
          profile_extra=[("accuracy_score", pa.float64()), ("f1_score", AVERAGED), ("expected_loss", pa.float64()),
                         ("confusion", pa.map_(pa.string(), pa.int64()))])
    source = LakehouseMetricsSource(spark_engine, lambda: NOW)
    [w] = source.read(model("scopes", slices=["region"], per_model_id=True), HOURLY)
    assert {(d.column, d.scope) for d in w.drift} == {
        ("age", Scope(None, None, "*")), ("age", Scope("region", "eu", "*")), ("age", Scope(None, None, "v2")),
        (":table", Scope(None, None, "*"))}
    table_row = next(p for p in w.profile if p.column == ":table" and p.scope.whole_table)
    assert table_row.metrics["accuracy_score"] == 0.8 and table_row.metrics["f1_score.macro"] == 0.7
    assert table_row.metrics["expected_loss"] == 120.0
    assert next(d for d in w.drift if d.column == ":table").statistics["hellinger"] == 0.25
    assert w.baseline[0].metrics["f1_score.macro"] == 0.8
    assert any("confusion" in note and "map<string,bigint>" in note for note in w.notes)
    assert w.row_count == 1000



def test_a_window_written_to_one_table_only_waits_for_the_other(spark_engine: LocalSparkEngine) -> None:
    """The profile writer lags here (drift rows first): window 2 is judged once its profile rows exist."""
    drift, profile = windows(3)
    write(spark_engine, "half", drift, [r for r in profile if r["window"]["start"] < START + timedelta(hours=2)])
    source = LakehouseMetricsSource(spark_engine, lambda: NOW)
    first = source.read(model("half"), HOURLY)
    assert [w.window_start - START for w in first] == [timedelta(0), timedelta(hours=1)]
    write(spark_engine, "half", drift, profile)
    known = {(w.window_start, w.window_end): w.version for w in first}
    assert [w.window_start - START for w in source.read(model("half"), HOURLY, known)] == [timedelta(hours=2)]
