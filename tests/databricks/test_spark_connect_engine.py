"""The Spark Connect engine against a Spark Connect server on the run's local Spark (gRPC on 127.0.0.1)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pyarrow as pa
import pytest

from monitor.engines.base import EngineError, TableNotFound
from monitor.engines.local_spark import LocalSparkEngine
from monitor.engines.spark_connect import SparkConnectEngine, connection_string, retry_policy
from tests.databricks.dbx_support import assert_same_tables


def test_retry_policy_gives_up_within_the_budget() -> None:
    policy = retry_policy(timedelta(seconds=30))
    waits = [min(50 * 4.0**i, 10_000) for i in range(policy["max_retries"])]
    assert 10_000 < sum(waits) <= 30_000
    assert retry_policy(timedelta(seconds=1))["max_retries"] == 2  # 50 + 200 ms; 800 more would pass 1 s


def test_connection_string_carries_token_and_cluster_only_when_given() -> None:
    assert connection_string("sc://h:15002") == "sc://h:15002"
    assert connection_string("sc://h:443/", token="t", cluster_id="c-1", use_ssl=True) == \
        "sc://h:443/;use_ssl=true;token=t;x-databricks-cluster-id=c-1"


@pytest.fixture
def connect(spark_connect_url: str, spark_engine: LocalSparkEngine) -> Iterator[SparkConnectEngine]:
    engine = SparkConnectEngine(spark_connect_url, lakehouse_root=str(spark_engine.root))
    yield engine
    engine.close()


@pytest.mark.integration
def test_tables_columns_and_bound_queries_match_the_local_engine(
        connect: SparkConnectEngine, spark_engine: LocalSparkEngine) -> None:
    spark_engine.write("main.dbx_connect.scores", pa.table({"id": [1, 2, 3], "score": [0.5, 0.25, None]}),
                       mode="overwrite")
    assert connect.table_exists("main.dbx_connect.scores")
    assert not connect.table_exists("main.dbx_connect.nope")
    assert connect.columns("main.dbx_connect.scores") == spark_engine.columns("main.dbx_connect.scores")
    with pytest.raises(TableNotFound):
        connect.columns("main.dbx_connect.nope")
    sql = "SELECT id, score, :t AS t FROM {} WHERE id >= :low ORDER BY id"
    params = {"low": 2, "t": datetime(2026, 3, 1, tzinfo=UTC)}
    got = connect.query(sql.format(connect.table_ref("main.dbx_connect.scores")), params)
    want = spark_engine.query(sql.format(spark_engine.table_ref("main.dbx_connect.scores")), params)
    assert_same_tables(got, want)


@pytest.mark.integration
def test_sql_errors_are_engine_errors_with_the_sql(connect: SparkConnectEngine) -> None:
    with pytest.raises(EngineError, match=r"Spark Connect SQL failed on sc://127.0.0.1:\d+: .*UNRESOLVED_COLUMN.*SQL"):
        connect.query("SELECT no_such_column FROM range(1)")


@pytest.mark.integration
def test_an_unreachable_server_is_a_clear_error() -> None:
    engine = SparkConnectEngine("sc://127.0.0.1:1", token="secret-token-value", retry_timeout=timedelta(seconds=1))
    with pytest.raises(EngineError) as caught:
        engine.query("SELECT 1")
    assert "127.0.0.1:1" in str(caught.value) and "secret-token-value" not in str(caught.value)
    engine.close()


@pytest.mark.integration
def test_cancel_interrupts_the_running_query_and_it_raises_at_once(
        connect: SparkConnectEngine, spark_engine: LocalSparkEngine) -> None:
    import threading
    import time

    tracker = spark_engine.spark.sparkContext.statusTracker()
    before = set(tracker.getActiveJobsIds())
    errors: list[BaseException] = []
    ended: list[float] = []

    def run() -> None:
        try:  # minutes of work on the server's local Spark
            connect.query("SELECT sum(hash(id)) AS s FROM range(0, 100000000000, 1, 2)")
        except EngineError as exc:
            errors.append(exc)
        finally:
            ended.append(time.monotonic())

    worker = threading.Thread(target=run)
    worker.start()
    deadline = time.monotonic() + 60
    while not set(tracker.getActiveJobsIds()) - before and time.monotonic() < deadline:
        time.sleep(0.05)
    assert set(tracker.getActiveJobsIds()) - before, "the query's job never ran on the server"
    began = time.monotonic()
    connect.cancel()
    worker.join(30)
    assert not worker.is_alive()
    assert ended[0] - began < 5, f"the query ended {ended[0] - began:.1f} s after cancel"
    assert errors and "cancelled: lakewarden is stopping" in str(errors[0]), errors
    deadline = time.monotonic() + 10  # the job is cancelled on the server, not left running
    while set(tracker.getActiveJobsIds()) - before and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not set(tracker.getActiveJobsIds()) - before
    with pytest.raises(EngineError, match="cancelled: lakewarden is stopping"):  # nothing new starts
        connect.query("SELECT 1")
