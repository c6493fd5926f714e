"""Monitor discovery and refresh through the real databricks-sdk: legacy and data-quality APIs, auto choice."""

from __future__ import annotations

from datetime import timedelta

import pyarrow as pa
import pytest
from emu_http import Fault

from config.models import ModelSettings
from monitor.discovery import MonitorDiscovery, MonitorRefreshState, MonitorState
from monitor.engines.local_spark import LocalSparkEngine
from monitor.sources import LakehouseMetricsSource
from tests.databricks.dbx_tables import START, put, write_metric_tables

pytestmark = pytest.mark.integration

TABLE = "main.dbx_disc.inference"


@pytest.fixture(scope="module")
def tables(spark_engine: LocalSparkEngine) -> str:
    """The monitored table in main.dbx_disc, its metric tables in another schema (main.dbx_disc_out)."""
    write_metric_tables(spark_engine.root, "dbx_disc_out")
    put(spark_engine.root, TABLE, pa.table({"prediction": [0.5]}))
    return TABLE


def discovery(workspace, emulator, api: str = "auto") -> MonitorDiscovery:  # type: ignore[no-untyped-def]
    return MonitorDiscovery(workspace, api,  # type: ignore[arg-type]
                            clock=emulator.clock.utc,
                            sleep=emulator.clock.advance, ttl=timedelta(0))


def model(**lakehouse: object) -> ModelSettings:
    return ModelSettings.model_validate({"name": "churn", "sources": {"lakehouse": {
        "table": TABLE, "lookback": "3650d", **lakehouse}}})


@pytest.mark.parametrize("api", ["legacy", "data_quality", "auto"])
def test_the_monitor_names_its_metric_tables_once_active(workspace, emulator, tables: str, api: str) -> None:  # type: ignore[no-untyped-def]
    emulator.monitors.add(tables, "main.dbx_disc_out", pending_seconds=30, monitor_version=3,
                          inference_log={"model_id_col": "model_id", "granularities": ["1 hour"],
                                         "problem_type": "PROBLEM_TYPE_CLASSIFICATION", "timestamp_col": "ts",
                                         "prediction_col": "prediction"})
    found = discovery(workspace, emulator, api)
    assert found.monitor(tables).state is MonitorState.PENDING
    emulator.clock.advance(31)
    info = found.monitor(tables)
    assert info.state is MonitorState.ACTIVE
    assert info.metric_tables == ("main.dbx_disc_out.inference_profile_metrics",
                                  "main.dbx_disc_out.inference_drift_metrics")
    assert (info.monitor_version, info.model_id_column, info.granularities) == (3, "model_id", ("1 hour",))
    assert found.api_name == ("legacy" if api == "legacy" else "data_quality")


@pytest.mark.parametrize("answer", [(404, "ENDPOINT_NOT_FOUND"), (400, "FEATURE_NOT_ENABLED"),
                                    (403, "FEATURE_DISABLED"), (501, "NOT_IMPLEMENTED")],
                         ids=lambda a: a[1])
def test_auto_falls_back_to_legacy_where_the_new_api_is_not_served(workspace, emulator, tables: str,  # type: ignore[no-untyped-def]
                                                                   answer: tuple[int, str]) -> None:
    emulator.monitors.data_quality_enabled = False
    emulator.monitors.unavailable = answer
    emulator.monitors.add(tables, "main.dbx_disc_out", pending_seconds=0)
    found = discovery(workspace, emulator)
    assert found.monitor(tables).state is MonitorState.ACTIVE
    assert found.api_name == "legacy"
    found.monitor(tables)
    assert len(emulator.router.requests("GET", "/api/data-quality/")) == 1  # the choice is remembered


def test_the_source_reads_the_tables_the_monitor_names(workspace, emulator, tables: str,  # type: ignore[no-untyped-def]
                                                       spark_engine: LocalSparkEngine) -> None:
    emulator.monitors.add(tables, "main.dbx_disc_out", pending_seconds=0)
    settings = model()
    without = LakehouseMetricsSource(spark_engine, lambda: START + timedelta(days=1))
    assert not spark_engine.table_exists(without.tables(settings)[1])  # the default guess is wrong
    source = LakehouseMetricsSource(spark_engine, lambda: START + timedelta(days=1),
                                    discovery(workspace, emulator).resolve)
    assert source.tables(settings)[1] == "main.dbx_disc_out.inference_drift_metrics"
    windows = [w for stream in source.streams(settings) for w in source.read(settings, stream)]
    assert len(windows) == 3


def test_configured_metric_tables_win_over_discovery(workspace, emulator, tables: str) -> None:  # type: ignore[no-untyped-def]
    emulator.monitors.add(tables, "main.dbx_disc_out", pending_seconds=0)
    settings = model(profile_metrics_table="main.x.p", drift_metrics_table="main.x.d")
    assert discovery(workspace, emulator).resolve(settings) is None
    assert emulator.router.requests(path="monitor") == []


@pytest.mark.parametrize(("status", "message"), [("FAILED", "Refresh failed: schema changed"),
                                                 ("ERROR", "Permission denied on output schema")])
def test_a_failed_monitor_is_a_problem_not_a_crash(workspace, emulator, tables: str, status: str,  # type: ignore[no-untyped-def]
                                                   message: str) -> None:
    emulator.monitors.add(tables, "main.dbx_disc_out", pending_seconds=0, status=status, failure_message=message)
    found = discovery(workspace, emulator, "legacy")
    names = found.resolve(model())
    assert names == ("main.dbx_disc_out.inference_profile_metrics", "main.dbx_disc_out.inference_drift_metrics")
    (problem,) = found.problems()
    assert problem.state is MonitorState[status] and problem.message == message
    assert "is failed" in problem.describe() or "is error" in problem.describe()


@pytest.mark.parametrize("api", ["legacy", "data_quality"])
def test_a_missing_monitor_is_a_problem_and_the_configured_tables_are_read(workspace, emulator, tables: str,  # type: ignore[no-untyped-def]
                                                                           api: str) -> None:
    found = discovery(workspace, emulator, api)
    assert found.resolve(model()) is None
    (problem,) = found.problems()
    assert problem.state is MonitorState.MISSING and problem.table == tables
    emulator.monitors.add(tables, "main.dbx_disc_out", pending_seconds=0)
    assert found.resolve(model()) is not None
    assert found.problems() == []


def test_an_api_failure_is_a_problem_with_the_reason(workspace, emulator, tables: str) -> None:  # type: ignore[no-untyped-def]
    emulator.router.inject(Fault(path="/monitor$", status=500, error_code="INTERNAL_ERROR",
                                 message="monitor service broke", times=None))
    found = discovery(workspace, emulator, "legacy")
    assert found.resolve(model()) is None
    (problem,) = found.problems()
    assert problem.state is MonitorState.UNKNOWN and "INTERNAL_ERROR: monitor service broke" in problem.message


@pytest.mark.parametrize("api", ["legacy", "data_quality"])
def test_a_refresh_is_tracked_to_success(workspace, emulator, tables: str, api: str) -> None:  # type: ignore[no-untyped-def]
    emulator.monitors.add(tables, "main.dbx_disc_out", pending_seconds=0)
    found = discovery(workspace, emulator, api)
    started = found.refresh(tables)
    assert started.state is MonitorRefreshState.PENDING and len(started.refresh_id) == 15
    emulator.clock.advance(1.5)
    assert found.refresh_status(tables, started.refresh_id).state is MonitorRefreshState.RUNNING
    done = found.wait_for_refresh(tables, started.refresh_id, timeout=timedelta(minutes=5),
                                  poll=timedelta(seconds=1))
    assert done.state is MonitorRefreshState.SUCCESS and done.ended is not None


@pytest.mark.parametrize("api", ["legacy", "data_quality"])
def test_a_failed_refresh_ends_failed_with_its_message(workspace, emulator, tables: str, api: str) -> None:  # type: ignore[no-untyped-def]
    emulator.monitors.add(tables, "main.dbx_disc_out", pending_seconds=0)
    emulator.monitors.refresh_outcomes.append(("FAILED", "Table main.dbx_disc.inference is missing column ts"))
    found = discovery(workspace, emulator, api)
    started = found.refresh(tables)
    done = found.wait_for_refresh(tables, started.refresh_id, timeout=timedelta(minutes=5))
    assert done.state is MonitorRefreshState.FAILED and "missing column ts" in done.message


def test_a_second_refresh_in_flight_is_followed_and_one_can_be_cancelled(  # type: ignore[no-untyped-def]
        workspace, emulator, tables: str) -> None:
    emulator.monitors.add(tables, "main.dbx_disc_out", pending_seconds=0)
    found = discovery(workspace, emulator, "legacy")
    started = found.refresh(tables)
    # The workspace refuses a second one (RESOURCE_CONFLICT): the running refresh is the answer, never a new one.
    assert found.refresh(tables).refresh_id == started.refresh_id
    assert len(emulator.monitors.monitors[tables].refreshes) == 1
    found.cancel_refresh(tables, started.refresh_id)
    assert found.refresh_status(tables, started.refresh_id).state is MonitorRefreshState.CANCELED


def test_waiting_gives_up_at_the_timeout_with_the_last_state(workspace, emulator, tables: str) -> None:  # type: ignore[no-untyped-def]
    emulator.monitors.add(tables, "main.dbx_disc_out", pending_seconds=0)
    emulator.monitors.refresh_running = 3600
    found = discovery(workspace, emulator, "legacy")
    started = found.refresh(tables)
    info = found.wait_for_refresh(tables, started.refresh_id, timeout=timedelta(seconds=30))
    assert info.state is MonitorRefreshState.RUNNING
