"""Large results through EXTERNAL_LINKS + ARROW_STREAM, and statements the client lost, against the emulator.

The emulator serves each chunk behind a presigned-style link on 127.0.0.1 (refused with an
Authorization header, without its http_headers, or past its expiry), aborts INLINE results over its
limit with the warehouse's own error, holds submits past the client's timeout, and lists statements
in its query history.
"""

from __future__ import annotations

import time
from datetime import timedelta

import pyarrow as pa
import pytest
import structlog

from config.models import ModelSettings
from config.service import WorkspaceSettings
from monitor.engines.base import EngineError
from monitor.engines.local_spark import LocalSparkEngine
from monitor.engines.sql_warehouse import SqlWarehouseEngine
from monitor.sources import LakehouseMetricsSource
from retrain.databricks.client import workspace_client
from tests.databricks.dbx_support import TOKEN, WAREHOUSE_ID, assert_same_tables
from tests.databricks.dbx_tables import DRIFT, PROFILE, START, drift_rows, profile_rows, put
from tests.databricks.test_sql_warehouse_engine import TYPES_SQL

pytestmark = pytest.mark.integration

WIDE = "SELECT id, concat('row-', id) AS label, id * 0.5D AS half FROM range(200) ORDER BY id"


def _engine(emulator, http_timeout: str = "30s", **kwargs) -> SqlWarehouseEngine:  # type: ignore[no-untyped-def]
    client = workspace_client(WorkspaceSettings.model_validate(
        {"kind": "databricks", "host": emulator.url, "token": TOKEN, "retry_timeout": "5s",
         "http_timeout": http_timeout}))
    return SqlWarehouseEngine(client, WAREHOUSE_ID, **kwargs)


def test_external_links_chunks_come_in_order_with_every_type(emulator, spark_engine: LocalSparkEngine) -> None:  # type: ignore[no-untyped-def]
    emulator.sql.chunk_rows = 17
    wh = _engine(emulator, results="external_links")
    with structlog.testing.capture_logs() as logs:
        table = wh.query(WIDE)
    assert table.column("id").to_pylist() == list(range(200))
    assert emulator.sql.links.downloads == list(range(12))  # 200 rows in chunks of 17, each once, in order
    assert len(emulator.router.requests("GET", r"/result/chunks/\d+$")) == 11  # links after the first one
    assert not any("emu-storage" in repr(line) for line in logs)  # a link is a credential: never logged
    assert_same_tables(wh.query(TYPES_SQL), spark_engine.query(TYPES_SQL))  # Arrow typed as INLINE types


def test_an_expired_or_refused_link_is_asked_for_again(emulator) -> None:  # type: ignore[no-untyped-def]
    emulator.sql.chunk_rows = 50
    emulator.sql.links.early_expiry = True  # storage refuses each chunk's first link
    wh = _engine(emulator, results="external_links")
    assert wh.query(WIDE).column("id").to_pylist() == list(range(200))
    assert emulator.sql.links.downloads == [0, 1, 2, 3]
    emulator.sql.links.early_expiry = False
    emulator.sql.links.lifetime = 5  # inside the engine's margin: asked again before any download
    before = len(emulator.router.requests("GET", r"/result/chunks/\d+$"))
    assert wh.query(WIDE).num_rows == 200
    assert len(emulator.router.requests("GET", r"/result/chunks/\d+$")) - before >= 4
    assert not emulator.router.requests("GET", "/emu-storage/") or all(
        "authorization" not in r.headers for r in emulator.router.requests("GET", "/emu-storage/"))


def test_auto_reads_a_result_over_the_inline_limit_through_external_links(emulator) -> None:  # type: ignore[no-untyped-def]
    emulator.sql.inline_limit = 1000  # bytes: the 200-row result is over it
    with pytest.raises(EngineError, match=r"Inline byte limit exceeded.*set engine\.results to auto"):
        _engine(emulator, results="inline").query(WIDE)
    table = _engine(emulator).query(WIDE)  # auto
    assert table.column("label").to_pylist()[-1] == "row-199"
    kinds = [(r.body["disposition"], r.body["format"]) for r in emulator.router.requests("POST", "/sql/statements$")]
    assert kinds == [("INLINE", "JSON_ARRAY"), ("INLINE", "JSON_ARRAY"), ("EXTERNAL_LINKS", "ARROW_STREAM")]


def test_a_statement_whose_submit_timed_out_is_found_and_cancelled(emulator) -> None:  # type: ignore[no-untyped-def]
    emulator.sql.warehouses[WAREHOUSE_ID].run_seconds = 60
    emulator.sql.answer_delay = 3.0  # the server answers after the client (http_timeout 1s) gave up
    wh = _engine(emulator, http_timeout="1s", wait_timeout=timedelta(0))
    with pytest.raises(EngineError) as caught:
        wh.query("SELECT 1 AS one")
    (statement,) = emulator.sql.statements.values()
    assert statement.state == "CANCELED"
    assert f"statement {statement.statement_id} was found in the query history and cancelled" in str(caught.value)
    assert len(emulator.router.requests("POST", "/sql/statements$")) == 1  # the submit was never repeated


def test_a_write_is_submitted_without_a_wait_and_polled_past_the_client_timeout(emulator) -> None:  # type: ignore[no-untyped-def]
    emulator.sql.warehouses[WAREHOUSE_ID].run_seconds = 2.5  # longer than the client's 1 s timeout
    wh = _engine(emulator, http_timeout="1s", wait_timeout=timedelta(seconds=5))
    began = time.monotonic()
    wh.query("CREATE OR REPLACE TEMPORARY VIEW dbx_write_probe AS SELECT 1 AS one")  # a write, as the engine sees it
    assert time.monotonic() - began >= 2.5
    (submit,) = emulator.router.requests("POST", "/sql/statements$")
    assert submit.body["wait_timeout"] == "0s" and submit.body["on_wait_timeout"] == "CONTINUE"
    assert submit.body["statement"].rstrip().endswith("*/")  # tagged, so a lost answer can be found
    assert len(emulator.sql.statements) == 1


def test_integer_statistics_are_read_by_value_in_batches(emulator, spark_engine: LocalSparkEngine) -> None:  # type: ignore[no-untyped-def]
    """``count_delta`` as bigint and ``avg_delta`` as float, through EXTERNAL_LINKS (Arrow types, not text),
    three windows read two per statement: the same windows and baseline as one statement gives."""
    rows = [{**r, "count_delta": -7 * n, "avg_delta": 0.5 * n} for n, r in enumerate(drift_rows(), start=1)]
    schema = DRIFT.set(DRIFT.get_field_index("count_delta"), pa.field("count_delta", pa.int64()))
    schema = schema.set(schema.get_field_index("avg_delta"), pa.field("avg_delta", pa.float32()))
    table = "main.dbx_types.inference"
    put(spark_engine.root, f"{table}_drift_metrics", pa.Table.from_pylist(rows, schema=schema))
    put(spark_engine.root, f"{table}_profile_metrics", pa.Table.from_pylist(profile_rows(), schema=PROFILE))
    settings = ModelSettings.model_validate({"name": "churn", "sources": {"lakehouse": {
        "table": table, "lookback": "3650d"}}})
    source = LakehouseMetricsSource(_engine(emulator, results="external_links"), lambda: START + timedelta(days=1),
                                    windows_per_read=2)
    (stream,) = source.streams(settings)
    windows = source.read(settings, stream)
    assert len(windows) == 3
    statements = [r.body["statement"] for r in emulator.router.requests("POST", "/sql/statements$")]
    rows_read = [s for s in statements if "'drift' AS part" in s]  # both tables' rows in one statement
    assert len(rows_read) == 2  # 2 batches (two windows, then one)
    assert sum("log_type = 'BASELINE'" in s for s in rows_read) == 1  # baseline once
    assert windows[0].baseline and all(repr(w.baseline) == repr(windows[0].baseline) for w in windows)
    read = [d.statistics["count_delta"] for w in windows for d in w.drift]
    assert len(read) >= 9 and all(isinstance(v, float) and v.is_integer() and v < 0 for v in read)
    assert set(read) <= {float(r["count_delta"]) for r in rows}
