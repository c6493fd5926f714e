"""The three engines return the same Arrow tables for the metric queries lakewarden issues.

The Lakehouse metrics source reads one model's drift and profile metric tables through the local
Spark engine, the SQL warehouse engine (databricks-sdk -> emulator -> the same Spark) and the Spark
Connect engine (gRPC -> a Connect server on the same Spark); every query's result is recorded and
compared column by column (types and values; Spark's NOT NULL flags are not part of a warehouse
manifest, so nullability is not compared), and so are the windows the source builds from them.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from datetime import timedelta
from typing import Any

import pyarrow as pa
import pytest

from config.models import ModelSettings
from monitor.engines.base import Engine
from monitor.engines.local_spark import LocalSparkEngine
from monitor.engines.spark_connect import SparkConnectEngine
from monitor.engines.sql_warehouse import SqlWarehouseEngine
from monitor.sources import LakehouseMetricsSource
from tests.databricks.dbx_support import WAREHOUSE_ID, assert_same_tables
from tests.databricks.dbx_tables import START, write_metric_tables

pytestmark = pytest.mark.integration


class Recording:
    """An engine that keeps every query's parameters and result."""

    def __init__(self, inner: Engine) -> None:
        self.inner = inner
        self.results: list[tuple[dict[str, Any], pa.Table]] = []

    def table_ref(self, name: str) -> str:
        return self.inner.table_ref(name)

    def table_exists(self, name: str) -> bool:
        return self.inner.table_exists(name)

    def columns(self, name: str) -> dict[str, str]:
        return self.inner.columns(name)

    def query(self, sql: str, params: Mapping[str, Any] | None = None) -> pa.Table:
        table = self.inner.query(sql, params)
        self.results.append((dict(params or {}), table))
        return table

    def cancel(self) -> None:
        self.inner.cancel()

    def close(self) -> None:
        self.inner.close()


@pytest.fixture(scope="module")
def table(spark_engine: LocalSparkEngine) -> str:
    return write_metric_tables(spark_engine.root, "dbx_equivalence")


@pytest.fixture
def connect(spark_connect_url: str, spark_engine: LocalSparkEngine) -> Iterator[SparkConnectEngine]:
    engine = SparkConnectEngine(spark_connect_url, lakehouse_root=str(spark_engine.root))
    yield engine
    engine.close()


def model(table: str, **lakehouse: object) -> ModelSettings:
    return ModelSettings.model_validate({"name": "churn", "sources": {"lakehouse": {
        "table": table, "lookback": "3650d", **lakehouse}}})


def test_local_warehouse_and_connect_engines_return_the_same_tables(
        table: str, spark_engine: LocalSparkEngine, workspace, connect: SparkConnectEngine) -> None:  # type: ignore[no-untyped-def]
    # one model id (a STRING parameter), consecutive drift; the window bound is a TIMESTAMP parameter
    settings = model(table, drift_type="CONSECUTIVE", model_id_column="model_id", model_id="m1")
    now = START + timedelta(days=1)
    engines = {"local": Recording(spark_engine), "warehouse": Recording(SqlWarehouseEngine(workspace, WAREHOUSE_ID)),
               "connect": Recording(connect)}
    windows = {}
    for name, engine in engines.items():
        source = LakehouseMetricsSource(engine, lambda: now)
        windows[name] = [source.read(settings, stream) for stream in source.streams(settings)]

    local = engines["local"].results
    assert len(local) >= 2 and all(result.num_rows > 0 for _, result in local)
    for name in ("warehouse", "connect"):
        other = engines[name].results
        assert [params for params, _ in other] == [params for params, _ in local]
        for (_, got), (_, want) in zip(other, local, strict=True):
            assert_same_tables(got, want)
        assert repr(windows[name]) == repr(windows["local"])  # repr: NaN statistics compare equal
    assert sum(len(w) for w in windows["local"]) >= 3
