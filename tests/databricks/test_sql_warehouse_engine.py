"""The SQL warehouse engine through the real databricks-sdk against the emulator's Statement Execution."""

from __future__ import annotations

import threading
import time
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pyarrow as pa
import pytest

from monitor.engines.base import EngineError, TableNotFound
from monitor.engines.local_spark import LocalSparkEngine
from monitor.engines.sql_warehouse import SqlWarehouseEngine
from tests.databricks.dbx_support import WAREHOUSE_ID, assert_same_tables

pytestmark = pytest.mark.integration

TYPES_SQL = (
    "SELECT CAST(1 AS BIGINT) AS a, 'x' AS s, CAST('2026-01-01 05:06:07.123456' AS TIMESTAMP) AS ts, "
    "1.5D AS d, CAST(NULL AS DOUBLE) AS n, named_struct('a', 1, 'b', 'c') AS st, array(1.0D, 2.0D) AS arr, "
    "CAST(1.25 AS DECIMAL(10,2)) AS dec, DATE'2026-01-02' AS dt, true AS b, map('k', 1L) AS m, "
    "CAST(1 AS INT) AS i, CAST(NULL AS STRING) AS ns, CAST('NaN' AS DOUBLE) AS nan, "
    "CAST('Infinity' AS DOUBLE) AS inf, 1e-5D AS tiny"
)


def engine(workspace, **kwargs) -> SqlWarehouseEngine:  # type: ignore[no-untyped-def]
    return SqlWarehouseEngine(workspace, WAREHOUSE_ID, **kwargs)


def test_every_type_comes_back_as_the_local_engine_types_it(workspace, spark_engine: LocalSparkEngine) -> None:  # type: ignore[no-untyped-def]
    remote = engine(workspace).query(TYPES_SQL)
    local = spark_engine.query(TYPES_SQL)
    assert_same_tables(remote, local)


def test_parameters_are_bound_with_their_types(workspace, spark_engine: LocalSparkEngine) -> None:  # type: ignore[no-untyped-def]
    sql = ("SELECT :n + 1 AS n, :x * 2 AS x, :s AS s, :t + INTERVAL 1 HOUR AS t, :b AS b, :d AS d, "
           ":dec AS dec, typeof(:t) AS tt")
    params = {"n": 41, "x": 0.25, "s": "it's", "t": datetime(2026, 3, 1, 4, tzinfo=UTC), "b": False,
              "d": date(2026, 3, 2), "dec": Decimal("12.50")}
    remote = engine(workspace).query(sql, params)
    assert_same_tables(remote, spark_engine.query(sql, params))
    assert remote.to_pylist()[0]["t"] == datetime(2026, 3, 1, 5, tzinfo=UTC)
    assert remote.to_pylist()[0]["tt"] == "timestamp"


def test_naive_datetimes_are_refused(workspace) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ValueError, match="naive datetime"):
        engine(workspace).query("SELECT :t AS t", {"t": datetime(2026, 1, 1)})  # noqa: DTZ001


def test_results_in_many_chunks_are_all_fetched(workspace, emulator) -> None:  # type: ignore[no-untyped-def]
    emulator.sql.chunk_rows = 7
    table = engine(workspace).query("SELECT id FROM range(100) ORDER BY id")
    assert table.column("id").to_pylist() == list(range(100))
    chunk_calls = emulator.router.requests("GET", r"/result/chunks/\d+$")
    assert len(chunk_calls) == 14  # chunks 1..14 after the first one inline


def test_tables_are_read_by_their_three_part_names(workspace, spark_engine: LocalSparkEngine) -> None:  # type: ignore[no-untyped-def]
    spark_engine.write("main.dbx_engine.scores", pa.table({"id": [1, 2, 3], "score": [0.5, 0.25, None]}),
                       mode="overwrite")
    wh = engine(workspace)
    assert wh.table_exists("main.dbx_engine.scores")
    assert not wh.table_exists("main.dbx_engine.nope")
    assert wh.columns("main.dbx_engine.scores") == spark_engine.columns("main.dbx_engine.scores")
    ref = wh.table_ref("main.dbx_engine.scores")
    assert ref == "`main`.`dbx_engine`.`scores`"
    got = wh.query(f"SELECT id, score FROM {ref} WHERE id >= :low ORDER BY id", {"low": 2})  # noqa: S608
    assert got.to_pylist() == [{"id": 2, "score": 0.25}, {"id": 3, "score": None}]
    with pytest.raises(TableNotFound, match=r"main\.dbx_engine\.nope"):
        wh.columns("main.dbx_engine.nope")


def test_a_failed_statement_names_the_error_and_the_sql(workspace) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(EngineError, match=r"failed the statement: BAD_REQUEST: .*UNRESOLVED_COLUMN.*SQL: 'SELECT"):
        engine(workspace).query("SELECT no_such_column FROM range(1)")


def test_a_missing_table_in_sql_is_a_clear_error(workspace) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(EngineError, match=r"TABLE_OR_VIEW_NOT_FOUND.*`main`.`dbx_engine`.`missing`"):
        engine(workspace).query("SELECT * FROM `main`.`dbx_engine`.`missing`")


def test_a_table_without_select_permission_says_so(workspace, emulator, spark_engine) -> None:  # type: ignore[no-untyped-def]
    spark_engine.write("main.dbx_engine.secret", pa.table({"id": [1]}), mode="overwrite")
    emulator.tables.denied.add("main.dbx_engine.secret")
    with pytest.raises(EngineError, match=r"INSUFFICIENT_PERMISSIONS.*SELECT on Table 'main\.dbx_engine\.secret'"):
        engine(workspace).query("SELECT * FROM `main`.`dbx_engine`.`secret`")


def test_a_missing_warehouse_is_named(workspace) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(EngineError, match=r"SQL warehouse nosuchwarehouse does not exist at http://127\.0\.0\.1"):
        SqlWarehouseEngine(workspace, "nosuchwarehouse").query("SELECT 1")


def test_a_statement_polled_to_the_end_after_the_server_wait(workspace, emulator) -> None:  # type: ignore[no-untyped-def]
    emulator.sql.warehouses[WAREHOUSE_ID].start_seconds = 0.6   # the warehouse is starting
    table = engine(workspace, wait_timeout=timedelta(0)).query("SELECT 7 AS seven")
    assert table.to_pylist() == [{"seven": 7}]
    assert len(emulator.router.requests("GET", r"/api/2.0/sql/statements/[^/]+$")) >= 2


def test_a_stopped_warehouse_times_out_and_the_statement_is_cancelled(workspace, emulator) -> None:  # type: ignore[no-untyped-def]
    emulator.sql.warehouses[WAREHOUSE_ID].start_seconds = 60
    wh = engine(workspace, wait_timeout=timedelta(0), query_timeout=timedelta(seconds=1))
    with pytest.raises(EngineError, match=r"still PENDING after 0:00:01 .*cancelled: is the warehouse stopped"):
        wh.query("SELECT 1")
    (statement,) = emulator.sql.statements.values()
    assert statement.state == "CANCELED"


def test_a_result_too_large_for_inline_fails_with_the_reason(workspace, emulator) -> None:  # type: ignore[no-untyped-def]
    emulator.sql.inline_limit = 1000
    with pytest.raises(EngineError, match="Inline byte limit exceeded"):
        engine(workspace, results="inline").query("SELECT id FROM range(1000)")


def test_close_cancels_statements_in_flight(workspace, emulator) -> None:  # type: ignore[no-untyped-def]
    emulator.sql.warehouses[WAREHOUSE_ID].start_seconds = 60
    wh = engine(workspace, wait_timeout=timedelta(0), query_timeout=timedelta(seconds=30))
    worker, errors, _ended = _query_in_thread(wh)
    deadline = datetime.now(UTC) + timedelta(seconds=10)
    # Polling shows the engine has the statement's id (the emulator knows it a moment before the engine does).
    while not emulator.router.requests("GET", "/api/2.0/sql/statements/") and datetime.now(UTC) < deadline:
        worker.join(0.05)
    wh.close()
    worker.join(10)
    (statement,) = emulator.sql.statements.values()
    assert statement.state == "CANCELED"
    assert errors and "ended CANCELED" in str(errors[0])


def _query_in_thread(wh: SqlWarehouseEngine) -> tuple[threading.Thread, list[BaseException], list[float]]:
    errors: list[BaseException] = []
    ended: list[float] = []

    def run() -> None:
        try:
            wh.query("SELECT 1")
        except EngineError as exc:
            errors.append(exc)
        finally:
            ended.append(time.monotonic())

    worker = threading.Thread(target=run)
    worker.start()
    return worker, errors, ended


def _running_statement(emulator, polls: int):  # type: ignore[no-untyped-def]
    """The one statement, once it runs on the warehouse and the engine has polled it ``polls`` times."""
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        statements = list(emulator.sql.statements.values())
        gets = emulator.router.requests("GET", r"/api/2.0/sql/statements/[^/]+$")
        if statements and statements[0].state == "RUNNING" and len(gets) >= polls:
            return statements[0]
        time.sleep(0.05)
    raise AssertionError("no statement running and polled on the emulated warehouse")


def test_cancel_cancels_the_running_statement_and_the_query_raises_at_once(workspace, emulator) -> None:  # type: ignore[no-untyped-def]
    emulator.sql.warehouses[WAREHOUSE_ID].run_seconds = 60  # a slow query
    wh = engine(workspace, wait_timeout=timedelta(0), query_timeout=timedelta(seconds=120))
    worker, errors, ended = _query_in_thread(wh)
    # Five polls: the engine's poll interval has grown to its longest (2 s) while the statement runs.
    statement = _running_statement(emulator, polls=5)
    began = time.monotonic()
    wh.cancel()
    worker.join(10)
    assert not worker.is_alive()
    assert ended[0] - began < 0.5  # the query does not sleep out its poll interval
    assert statement.state == "CANCELED"
    assert emulator.router.requests("POST", f"/api/2.0/sql/statements/{statement.statement_id}/cancel")
    assert errors and "cancelled: lakewarden is stopping" in str(errors[0])
    with pytest.raises(EngineError, match="cancelled: lakewarden is stopping"):  # nothing new is submitted
        wh.query("SELECT 2")
    assert len(emulator.sql.statements) == 1


def test_cancel_during_the_servers_wait_raises_at_once_and_cancels_the_statement(workspace, emulator) -> None:  # type: ignore[no-untyped-def]
    """The server holds the submit for its wait: the engine has no statement id until the wait ends."""
    emulator.sql.warehouses[WAREHOUSE_ID].run_seconds = 60
    wh = engine(workspace, wait_timeout=timedelta(seconds=5), query_timeout=timedelta(seconds=120))
    worker, errors, ended = _query_in_thread(wh)
    statement = _running_statement(emulator, polls=0)
    began = time.monotonic()
    wh.cancel()
    worker.join(10)
    assert not worker.is_alive()
    assert ended[0] - began < 0.5, f"the query ended {ended[0] - began:.1f} s after cancel"
    assert errors and "cancelled: lakewarden is stopping" in str(errors[0])
    # The submit's answer (at the end of the server's 5 s wait) brings the id: then it is cancelled.
    deadline = time.monotonic() + 10
    while statement.state != "CANCELED" and time.monotonic() < deadline:
        time.sleep(0.05)
    assert statement.state == "CANCELED"
    assert emulator.router.requests("POST", f"/api/2.0/sql/statements/{statement.statement_id}/cancel")
