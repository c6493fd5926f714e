"""Helpers for the Databricks backend tests (the emulator fixture is in conftest.py)."""

from __future__ import annotations

import socket
from typing import Any

import pyarrow as pa

from config.service import WorkspaceSettings

TOKEN = "dapi-emulator-token"        # the emulator's default token (tests/emulator/emu_server.py)
WAREHOUSE_ID = "emu0warehouse1"      # the emulator's default warehouse

# Config pieces for the CLI tests: LOCAL or DATABRICKS, then COMMON (one model on ``table``).
LOCAL = """\
engine: {{kind: local_spark, lakehouse_root: {root}}}
workspace: {{kind: local, mlflow_tracking_uri: "sqlite:///{work}/mlflow.db", jobs_dir: {work}/jobs}}
"""
DATABRICKS = """\
engine: {{kind: sql_warehouse, warehouse_id: {warehouse}, wait_timeout: 5s, query_timeout: 2m}}
workspace: {{kind: databricks, host: "{host}", token: {token}, retry_timeout: 10s, monitor_api: auto}}
"""
COMMON = """\
state: {{url: "sqlite:///{work}/state.db"}}
service: {{log_format: json}}
models:
  - name: churn
    sources:
      lakehouse: {{table: {table}, granularity: 1 hour, drift_type: BASELINE, lookback: 3650d{extra}}}
route: {{receiver: log}}
receivers:
  - name: log
    file_configs: [{{path: {work}/alerts.jsonl}}]
"""


def settings_for(url: str, token: str = TOKEN, retry_timeout: str = "5s") -> WorkspaceSettings:
    return WorkspaceSettings.model_validate({"kind": "databricks", "host": url, "token": token,
                                             "retry_timeout": retry_timeout, "http_timeout": "60s"})


def nullable(table: pa.Table) -> pa.Table:
    """The table with every field nullable: a warehouse manifest does not carry Spark's NOT NULL flags."""

    def loosen(kind: pa.DataType) -> pa.DataType:
        if pa.types.is_struct(kind):
            return pa.struct([pa.field(f.name, loosen(f.type)) for f in kind])
        if pa.types.is_map(kind):
            return pa.map_(loosen(kind.key_type), loosen(kind.item_type))
        if pa.types.is_list(kind):
            return pa.list_(loosen(kind.value_type))
        return kind

    schema = pa.schema([pa.field(f.name, loosen(f.type)) for f in table.schema])
    return table.cast(schema)


def assert_same_tables(got: pa.Table, expected: pa.Table) -> None:
    """Equal column names, types and values (NOT NULL flags aside), with a readable difference."""
    got, expected = nullable(got), nullable(expected)
    assert got.schema.names == expected.schema.names
    for name in expected.schema.names:
        assert got.schema.field(name).type == expected.schema.field(name).type, (
            f"column {name}: {got.schema.field(name).type} != {expected.schema.field(name).type}")
        # repr: NaN equals NaN here, as it should for "the same result"
        assert repr(got.column(name).to_pylist()) == repr(expected.column(name).to_pylist()), (
            f"column {name}: {got.column(name).to_pylist()[:5]} != {expected.column(name).to_pylist()[:5]}")
    assert got.num_rows == expected.num_rows


def start_spark_connect(spark: Any) -> tuple[str, Any]:
    """Start a Spark Connect server on the given (classic, local) session's own SparkContext.

    No second JVM and no download: PySpark 4 ships the server (``jars/spark-connect_*.jar``) and
    ``SparkConnectService.start(sc)`` serves the running context over gRPC. The port is chosen here
    (free a moment ago) because the service does not report the port it bound. Returns the URL and
    the service, whose ``stop`` ends it.
    """
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    context = spark._jsc.sc()
    context.conf().set("spark.connect.grpc.binding.address", "127.0.0.1")
    context.conf().set("spark.connect.grpc.binding.port", str(port))
    jvm = spark._jvm
    service = jvm.org.apache.spark.sql.connect.service.SparkConnectService
    service.start(context)
    return f"sc://127.0.0.1:{port}", service


def stop_spark_connect(service: Any) -> None:
    service.stop(getattr(service, "stop$default$1")(), getattr(service, "stop$default$2")())
