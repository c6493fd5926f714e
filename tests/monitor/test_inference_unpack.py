"""Unpacking requests and responses of payload tables into a processed table: four request shapes, two schemas."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from config.models import ModelSettings
from monitor.engines.local_spark import LocalSparkEngine
from monitor.sources import InferenceTableSource
from tests.monitor.metric_tables import put
from tests.monitor.payloads import Call, ai_gateway, at, legacy

pytestmark = pytest.mark.integration

SHAPES: list[tuple[str, Any, Any]] = [
    ("split", {"dataframe_split": {"columns": ["age", "plan"], "data": [[30, "basic"], [40, "pro"]]}},
     {"predictions": [0.1, 0.9]}),
    ("records", {"dataframe_records": [{"plan": "pro", "age": 50}]}, {"predictions": [0.3]}),
    ("instances", {"instances": [{"age": 60, "plan": "basic"}, [70, "pro"]]}, {"predictions": [0.6, 0.7]}),
    ("inputs-columns", {"inputs": {"age": [80, 90], "plan": ["a", "b"]}}, {"predictions": [0.8, 0.95]}),
    ("inputs-rows", {"inputs": [[100, "c"], {"age": 110, "plan": "d"}]}, {"predictions": [0.2, 0.25]}),
    ("bad-value", {"dataframe_records": [{"age": "old", "plan": "x"}]}, {"predictions": ["n/a"]}),
]
EXPECTED = {  # (request id, position) -> (age, plan, prediction)
    ("split", 0): (30, "basic", 0.1), ("split", 1): (40, "pro", 0.9), ("records", 0): (50, "pro", 0.3),
    ("instances", 0): (60, "basic", 0.6), ("instances", 1): (70, "pro", 0.7),
    ("inputs-columns", 0): (80, "a", 0.8), ("inputs-columns", 1): (90, "b", 0.95),
    ("inputs-rows", 0): (100, "c", 0.2), ("inputs-rows", 1): (110, "d", 0.25), ("bad-value", 0): (None, "x", None),
}


def calls() -> list[Call]:
    good = [Call(rid, at(1 + i / 10), request=req, response=resp) for i, (rid, req, resp) in enumerate(SHAPES)]
    return [*good, Call("failed", at(1.9), status=500, request=SHAPES[0][1], response="error"),
            Call("garbled", at(1.95), request="{not json", response="{}")]


def model(schema: str, **processed: object) -> ModelSettings:
    return ModelSettings.model_validate({"name": "m", "sources": {"inference": {
        "table": f"main.{schema}.payload", "lookback": "1d",
        "processed": {"table": f"main.{schema}.processed", "columns": {"age": "bigint", "plan": "string"},
                      **processed}}}})


def processed(engine: LocalSparkEngine, schema: str) -> dict[tuple[str, int], tuple[Any, ...]]:
    rows = pq.read_table(engine.path(f"main.{schema}.processed")).to_pylist()
    return {(r["request_id"], r["position"]): (r["age"], r["plan"], r["prediction"]) for r in rows}


@pytest.mark.parametrize(("schema", "write"), [("unpack_gw", ai_gateway), ("unpack_legacy", legacy)])
def test_every_request_shape_becomes_rows_once(spark_engine: LocalSparkEngine, schema: str,
                                               write: Callable[[list[Call]], pa.Table]) -> None:
    put(spark_engine, f"main.{schema}.payload", write(calls()))
    source = InferenceTableSource(spark_engine, lambda: at(3))
    source.prepare(model(schema))
    assert processed(spark_engine, schema) == EXPECTED
    source.prepare(model(schema))  # idempotent: nothing is written twice
    assert len(pq.read_table(spark_engine.path(f"main.{schema}.processed"))) == len(EXPECTED)
    table = pq.read_table(spark_engine.path(f"main.{schema}.processed"))
    assert table.schema.field("age").type == pa.int64() and table.schema.field("model_id").type == pa.string()
    assert set(table.column("model_id").to_pylist()) == {"churn-1"}


def test_predictions_given_as_objects_take_the_configured_field(spark_engine: LocalSparkEngine) -> None:
    put(spark_engine, "main.unpack_objects.payload", ai_gateway([
        Call("obj", at(1), request={"dataframe_records": [{"age": 1, "plan": "p"}, {"age": 2, "plan": "q"}]},
             response={"predictions": [{"score": 0.4, "label": "no"}, {"score": 0.6, "label": "yes"}]})]))
    InferenceTableSource(spark_engine, lambda: at(3)).prepare(model("unpack_objects", prediction_field="label",
                                                               prediction_type="string"))
    assert processed(spark_engine, "unpack_objects") == {("obj", 0): (1, "p", "no"), ("obj", 1): (2, "q", "yes")}
