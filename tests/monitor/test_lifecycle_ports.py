"""The lifecycle's ports on the monitor side: stored assessments as window verdicts, and monitor refreshes.

``AssessmentVerdicts`` reads real stored assessments; ``LocalProfileRefresher`` runs ``lakewarden
profile`` on the run's one local Spark session over a tiny table; ``DatabricksMonitorRefresher`` goes
through monitor discovery and the real databricks-sdk to the workspace emulator, whose refreshes move
PENDING -> RUNNING -> SUCCESS (or their scripted outcome) on the emulator's clock.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pyarrow as pa
import pytest

from config import parse_settings
from config.basics.clock import utc_now
from config.settings import Settings
from monitor.assessments import AssessmentStore
from monitor.demo.data import DemoScenario
from monitor.engines.local_spark import LocalSparkEngine
from monitor.lifecycle_ports import AssessmentVerdicts, DatabricksMonitorRefresher, LocalProfileRefresher
from retrain import RefreshState
from tests.monitor.judge_support import HOUR, T0, drift
from tests.monitor.lifecycle_support import CRITICAL, HIGH, QUIET, model_settings, quality, record, state

if TYPE_CHECKING:
    from emu_server import Emulator

# -- AssessmentVerdicts ----------------------------------------------------------------------------------------


@pytest.fixture
def verdicts_and_store(tmp_path: Path) -> tuple[AssessmentVerdicts, AssessmentStore]:
    engine = state(tmp_path).engine
    return AssessmentVerdicts(engine), AssessmentStore(engine, lambda: T0 + timedelta(days=1))


def test_windows_since_are_those_mostly_after_the_moment_oldest_first(
        verdicts_and_store: tuple[AssessmentVerdicts, AssessmentStore]) -> None:
    verdicts, store = verdicts_and_store
    model = model_settings()
    for index, rows in enumerate((QUIET, HIGH, CRITICAL)):
        record(store, model, index, rows)
    record(store, model, 3, QUIET)
    record(store, model_settings(name="other"), 2, HIGH)  # another model's window
    since = T0 + HOUR + timedelta(minutes=30)  # the middle of window 1: it counts (half of it is after)
    found = verdicts.windows_since("churn", since)
    assert [(v.window_start, v.severity) for v in found] == [
        (T0 + HOUR, "high"), (T0 + 2 * HOUR, "critical"), (T0 + 3 * HOUR, "ok")]
    assert all(v.window_start.tzinfo is not None and v.window_end.tzinfo is not None for v in found)
    assert found[0].risk == 75.0 and found[0].signals == {"prediction_drift": "high"}
    later = verdicts.windows_since("churn", since + timedelta(minutes=1))  # window 1 is now mostly before
    assert [v.window_start for v in later] == [T0 + 2 * HOUR, T0 + 3 * HOUR]
    assert verdicts.windows_since("other-model", T0) == []


def test_signals_are_the_worst_tier_per_signal_in_the_lifecycles_names(
        verdicts_and_store: tuple[AssessmentVerdicts, AssessmentStore]) -> None:
    verdicts, store = verdicts_and_store
    model = model_settings()
    record(store, model, 0, drift("age", js_distance=0.6), drift("income", js_distance=0.25),
           *quality(0.84))  # feature drift: critical and high; macro F1 down 0.06: medium
    record(store, model, 0, HIGH, source="inference")  # the same window on another stream
    (inference, lakehouse) = verdicts.windows_since("churn", T0)  # by window, then stream
    assert lakehouse.signals == {"feature_drift": "critical", "quality": "medium"}  # rollout.watch's names
    assert inference.signals == {"prediction_drift": "high"}
    assert lakehouse.window_start == inference.window_start == T0


def test_the_monitor_status_stream_is_no_window_of_data(
        verdicts_and_store: tuple[AssessmentVerdicts, AssessmentStore]) -> None:
    verdicts, store = verdicts_and_store
    model = model_settings()
    for index in (1, 2, 3):  # hourly status windows since the canary went live, no data judged yet
        record(store, model, index, QUIET, source="lakehouse_monitor")
    assert verdicts.windows_since("churn", T0 + HOUR) == []
    record(store, model, 2, HIGH)
    assert [(v.window_start, v.severity) for v in verdicts.windows_since("churn", T0 + HOUR)] == [
        (T0 + 2 * HOUR, "high")]


# -- LocalProfileRefresher -------------------------------------------------------------------------------------

SCENARIO = DemoScenario(windows=2, rows_per_window=60, baseline_rows=120)


def local_settings(tmp_path: Path, root: Path, table: str) -> Settings:
    return parse_settings(f"""
engine: {{kind: local_spark, lakehouse_root: {root}}}
state: {{url: "sqlite:///{tmp_path}/state.db"}}
models:
  - name: churn
    sources:
      lakehouse: {{table: {table}, baseline_table: main.lc_refresh.baseline, drift_type: BASELINE,
                   prediction_column: prediction, label_column: label, granularity: 1 hour}}
  - name: nolake
    sources: {{inference: {{table: main.lc_refresh.payload}}}}
route: {{receiver: log}}
receivers: [{{name: log, file_configs: [{{path: "{tmp_path}/alerts.jsonl"}}]}}]
""", "t.yaml", {})


@pytest.fixture(scope="module")
def lake(spark_engine: LocalSparkEngine) -> LocalSparkEngine:
    spark_engine.write("main.lc_refresh.baseline", SCENARIO.baseline(), mode="overwrite")
    spark_engine.write("main.lc_refresh.scored", pa.concat_tables([SCENARIO.frame(i) for i in range(2)]),
                       mode="overwrite")
    return spark_engine


@pytest.mark.integration
def test_a_local_refresh_profiles_the_models_table_and_a_restart_runs_it_again(lake: LocalSparkEngine,
                                                                                 tmp_path: Path) -> None:
    settings = local_settings(tmp_path, lake.root, "main.lc_refresh.scored")
    engine = state(tmp_path).engine
    now = SCENARIO.window(1)[1] + timedelta(minutes=5)
    refresher = LocalProfileRefresher(settings, lake, engine, lambda: now)
    refresh_id = refresher.start_refresh("churn")
    assert refresh_id.startswith("local-")
    assert refresher.refresh_state("churn", refresh_id) == (
        RefreshState.SUCCEEDED, "profiled 2 window(s) of main.lc_refresh.scored")
    rows = lake.query("SELECT count(DISTINCT window.start) AS n FROM "  # noqa: S608 - a test's own table
                      f"{lake.table_ref('main.lc_refresh.scored_drift_metrics')} WHERE drift_type = 'BASELINE'")
    assert rows.to_pylist() == [{"n": 2}]
    # A new process does not know the id: it refreshes again, which finds nothing new to write.
    restarted = LocalProfileRefresher(settings, lake, engine, lambda: now)
    assert restarted.refresh_state("churn", refresh_id) == (
        RefreshState.SUCCEEDED, "profiled 0 window(s) of main.lc_refresh.scored")


@pytest.mark.integration
def test_a_local_refresh_that_cannot_run_fails_with_the_reason(lake: LocalSparkEngine, tmp_path: Path) -> None:
    engine = state(tmp_path).engine
    missing = LocalProfileRefresher(local_settings(tmp_path, lake.root, "main.lc_refresh.nothing_here"), lake,
                                    engine, utc_now)
    status, message = missing.refresh_state("churn", missing.start_refresh("churn"))
    assert status is RefreshState.FAILED and "main.lc_refresh.nothing_here" in message
    status, message = missing.refresh_state("nolake", missing.start_refresh("nolake"))
    assert (status, message) == (RefreshState.FAILED, "model nolake has no lakehouse source to profile")


# -- DatabricksMonitorRefresher --------------------------------------------------------------------------------

TABLE = "main.lc_dbx.inference"


@pytest.fixture
def emulator(spark_engine: LocalSparkEngine) -> Iterator[Emulator]:
    """A fresh emulated workspace (as ``tests/databricks/conftest.py`` makes one) with a monitor on TABLE."""
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "emulator"))
    from emu_server import Emulator

    from tests.databricks.dbx_tables import put

    put(spark_engine.root, TABLE, pa.table({"prediction": [0.5]}))
    emu = Emulator(spark_engine.root, lambda: spark_engine.spark)
    emu.start()
    emu.monitors.add(TABLE, "main.lc_dbx", pending_seconds=0)
    yield emu
    emu.stop()


def dbx_refresher(emulator: Emulator, tmp_path: Path, api: str = "auto") -> DatabricksMonitorRefresher:
    from monitor.discovery import MonitorDiscovery
    from retrain.databricks.client import workspace_client
    from tests.databricks.dbx_support import TOKEN, settings_for

    settings = parse_settings(f"""
engine: {{kind: sql_warehouse, warehouse_id: emu0warehouse1}}
workspace: {{kind: databricks, host: "{emulator.url}", token: {TOKEN}, retry_timeout: 5s}}
state: {{url: "sqlite:///{tmp_path}/state.db"}}
models:
  - name: churn
    sources: {{lakehouse: {{table: {TABLE}}}}}
  - name: served
    sources: {{inference: {{table: main.lc_dbx.payload}}}}
route: {{receiver: log}}
receivers: [{{name: log, file_configs: [{{path: "{tmp_path}/alerts.jsonl"}}]}}]
""", "t.yaml", {})
    discovery = MonitorDiscovery(workspace_client(settings_for(emulator.url)), api,  # type: ignore[arg-type]
                                 clock=emulator.clock.utc,
                                 sleep=emulator.clock.advance, ttl=timedelta(0))
    return DatabricksMonitorRefresher(settings, discovery)


@pytest.mark.integration
@pytest.mark.parametrize("api", ["legacy", "data_quality"])
def test_a_workspace_refresh_runs_then_succeeds_on_the_emulators_clock(emulator: Emulator, tmp_path: Path,
                                                                       api: str) -> None:
    refresher = dbx_refresher(emulator, tmp_path, api)
    refresh_id = refresher.start_refresh("churn")
    status: Any = refresher.refresh_state("churn", refresh_id)
    assert status == (RefreshState.RUNNING, "refresh pending")
    emulator.clock.advance(1.5)
    assert refresher.refresh_state("churn", refresh_id) == (RefreshState.RUNNING, "refresh running")
    emulator.clock.advance(2)
    state_now, message = refresher.refresh_state("churn", refresh_id)
    assert state_now is RefreshState.SUCCEEDED and message


@pytest.mark.integration
def test_a_failed_workspace_refresh_fails_with_the_workspaces_message(emulator: Emulator, tmp_path: Path) -> None:
    emulator.monitors.refresh_outcomes.append(("FAILED", "Table main.lc_dbx.inference is missing column ts"))
    refresher = dbx_refresher(emulator, tmp_path)
    refresh_id = refresher.start_refresh("churn")
    emulator.clock.advance(5)
    assert refresher.refresh_state("churn", refresh_id) == (
        RefreshState.FAILED, "refresh ended failed: Table main.lc_dbx.inference is missing column ts")


@pytest.mark.integration
def test_a_cancelled_workspace_refresh_is_a_failure_and_a_model_without_a_monitor_is_refused(
        emulator: Emulator, tmp_path: Path) -> None:
    refresher = dbx_refresher(emulator, tmp_path, "legacy")
    refresh_id = refresher.start_refresh("churn")
    refresher._discovery.cancel_refresh(TABLE, refresh_id)  # someone cancelled it in the workspace
    assert refresher.refresh_state("churn", refresh_id) == (RefreshState.FAILED, "refresh ended canceled")
    with pytest.raises(ValueError, match="model served has no lakehouse source: there is no monitor to refresh"):
        refresher.start_refresh("served")


@pytest.mark.integration
def test_the_databricks_app_wires_the_workspace_ports(emulator: Emulator, tmp_path: Path,
                                                      spark_engine: LocalSparkEngine) -> None:
    from monitor.app import build_app
    from retrain.databricks.serving import ServingEndpoints
    from tests.databricks.dbx_support import TOKEN

    settings = parse_settings(f"""
engine: {{kind: local_spark, lakehouse_root: {spark_engine.root}}}
workspace: {{kind: databricks, host: "{emulator.url}", token: {TOKEN}, retry_timeout: 5s,
             mlflow_tracking_uri: "sqlite:///{tmp_path}/mlflow.db"}}
state: {{url: "sqlite:///{tmp_path}/state.db"}}
models: [{{name: churn, sources: {{lakehouse: {{table: {TABLE}}}}}}}]
route: {{receiver: log}}
receivers: [{{name: log, file_configs: [{{path: "{tmp_path}/alerts.jsonl"}}]}}]
""", "t.yaml", {})
    app = build_app(settings, clock=utc_now, engine=spark_engine)
    try:
        deps = app.lifecycle.deps
        assert isinstance(deps.serving, ServingEndpoints)
        assert isinstance(deps.monitors, DatabricksMonitorRefresher)
        assert isinstance(deps.verdicts, AssessmentVerdicts)
        refresh_id = deps.monitors.start_refresh("churn")  # through the app's own discovery and client
        emulator.clock.advance(5)
        assert deps.monitors.refresh_state("churn", refresh_id)[0] is RefreshState.SUCCEEDED
    finally:
        app.store.close()  # not app.close(): the Spark session is the test run's


@pytest.mark.integration
@pytest.mark.parametrize("api", ["legacy", "data_quality"])
def test_a_refresh_asked_for_again_follows_the_one_running_or_started_since_and_starts_none(
        emulator: Emulator, tmp_path: Path, api: str) -> None:
    """A daemon killed between asking for a refresh and recording it asks again after its restart."""
    refresher = dbx_refresher(emulator, tmp_path, api)
    since = emulator.clock.utc()
    first = refresher.start_refresh("churn", since=since)
    emulator.clock.advance(1.5)
    assert refresher.start_refresh("churn", since=since) == first  # listed RUNNING: followed, not asked
    assert refresher.start_refresh("churn") == first  # asked: refused with RESOURCE_CONFLICT, the running one followed
    emulator.clock.advance(5)
    assert refresher.start_refresh("churn", since=since) == first  # ended, but started since the step began
    assert len(emulator.monitors.monitors[TABLE].refreshes) == 1
    assert len(emulator.router.requests("POST", "/refreshes$")) == 2  # the first ask and the refused one

    emulator.clock.advance(3600)  # a later step: the ended refresh is older than it, so a new one starts
    second = refresher.start_refresh("churn", since=emulator.clock.utc())
    assert second != first and len(emulator.monitors.monitors[TABLE].refreshes) == 2
