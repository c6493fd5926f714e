"""The inference source over payload tables in both schemas: volume, errors by status, latency, freshness."""

from __future__ import annotations

from datetime import timedelta

import pytest

from config.models import ModelSettings
from monitor.engines.local_spark import LocalSparkEngine
from monitor.risk import judge
from monitor.sources import InferenceTableSource, SourceError, Stream
from tests.monitor.metric_tables import put
from tests.monitor.payloads import Call, ai_gateway, at, legacy

pytestmark = pytest.mark.integration

HOURLY = Stream("inference", "1 hour")
NOW = at(5.25)  # windows 0-4 are complete and settled (10 minutes); window 5 is open


def calls() -> list[Call]:
    out = [Call(f"ok{h}-{i}", at(h + i / 200), ms=20 + i % 10) for h in (0, 1) for i in range(100)]
    out += [Call(f"bad{i}", at(2 + i / 200), status=503 if i < 10 else (500 if i < 15 else 200), ms=300 + i)
            for i in range(100)]
    out += [Call(f"late{i}", at(4 + i / 100), logging_errors=["MAX_REQUEST_SIZE_EXCEEDED"] if i < 5 else [],
                 entity="churn-2" if i % 2 else "churn-1") for i in range(50)]
    return out  # window 3 (03:00-04:00) has no rows: the endpoint went quiet


def model(schema: str, **inference: object) -> ModelSettings:
    return ModelSettings.model_validate({"name": "m", "sources": {"inference": {
        "table": f"main.{schema}.payload", "lookback": "1d", **inference}}})


@pytest.fixture(scope="module")
def gateway(spark_engine: LocalSparkEngine) -> str:
    put(spark_engine, "main.inference_gw.payload", ai_gateway(calls()))
    return "inference_gw"


def test_serving_metrics_per_window_from_an_ai_gateway_table(spark_engine: LocalSparkEngine, gateway: str) -> None:
    windows = InferenceTableSource(spark_engine, lambda: NOW).read(model(gateway), HOURLY)
    assert [w.window_start for w in windows] == [at(h) for h in range(5)]
    ops = [w.operations for w in windows]
    assert [o.requests for o in ops if o] == [100, 100, 100, 0, 50]
    bad = ops[2]
    assert bad is not None and bad.status_counts == {200: 85, 503: 10, 500: 5}
    assert bad.share(500, 600) == pytest.approx(0.15)
    assert bad.latency_ms["p50"] is not None and bad.latency_ms["p50"] >= 300
    assert ops[0] is not None and ops[0].latency_ms["p99"] is not None and ops[0].latency_ms["p99"] < 30
    assert ops[4] is not None and ops[4].logging_errors == 5
    quiet = ops[3]
    assert quiet is not None and quiet.freshness_seconds == pytest.approx(1.5 * 3600 + 18, abs=1)  # 02:29:42
    a = judge(model(gateway), windows[2])
    assert [(f.statistic, f.tier) for f in a.findings] == [("server_error_rate", "high")]
    assert "503 x 10, 500 x 5" in a.findings[0].describe()


def test_known_windows_are_rechecked_and_late_rows_re_judge_them(spark_engine: LocalSparkEngine) -> None:
    put(spark_engine, "main.inference_late.payload", ai_gateway(calls()))
    source = InferenceTableSource(spark_engine, lambda: NOW)
    known = {(w.window_start, w.window_end): w.version for w in source.read(model("inference_late"), HOURLY)}
    assert source.read(model("inference_late"), HOURLY, known) == []
    put(spark_engine, "main.inference_late.payload", ai_gateway([*calls(), Call("straggler", at(4.9), status=500)]))
    again = source.read(model("inference_late"), HOURLY, known)
    assert [(w.window_start, w.row_count) for w in again] == [(at(4), 51)]


def test_legacy_schema_and_served_entity_filter(spark_engine: LocalSparkEngine) -> None:
    put(spark_engine, "main.inference_legacy.payload", legacy(calls()))
    source = InferenceTableSource(spark_engine, lambda: NOW + timedelta(hours=1))
    windows = source.read(model("inference_legacy", served_entity="churn-2", granularity="1 day"),
                          Stream("inference", "1 day"))
    assert windows == []  # the day is not over
    hourly = source.read(model("inference_legacy", served_entity="churn-2", payload_schema="legacy"), HOURLY)
    assert [w.row_count for w in hourly][-2:] == [25, 0]  # window 4 holds 25 rows of churn-2; window 5 none
    assert hourly[-1].operations is not None and hourly[-1].operations.logging_errors is None  # legacy: not logged
    assert "legacy schema" in hourly[0].notes[0]


def test_a_table_that_is_not_a_payload_table_is_named(spark_engine: LocalSparkEngine) -> None:
    put(spark_engine, "main.inference_bad.payload", legacy(calls()).drop(["timestamp_ms"]))
    with pytest.raises(SourceError, match=r"is not an inference \(payload\) table: expected the columns of "
                                          r"ai_gateway: request_time"):
        InferenceTableSource(spark_engine, lambda: NOW).read(model("inference_bad"), HOURLY)
