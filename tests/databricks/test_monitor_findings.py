"""A missing or failed Lakehouse monitor is a finding: real databricks-sdk -> emulator -> status source -> judge.

Also end to end through the daemon's composition root (``build_app``): polls in two periods make
the monitor stream fire and the model's alert is raised, with the monitor's problem in its text.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pyarrow as pa
import pytest
from emu_http import Fault

from config import load_settings
from config.models import ModelSettings
from monitor.discovery import MonitorDiscovery
from monitor.engines.local_spark import LocalSparkEngine
from monitor.messages import AlertsEnqueued, AssessmentMade, PollDue, SourceFailed
from monitor.risk import judge
from monitor.sources import MonitorStatusSource, SourceError
from monitor.sources.monitor_status import period
from tests.databricks.dbx_support import COMMON, TOKEN
from tests.databricks.dbx_tables import put

pytestmark = pytest.mark.integration

TABLE = "main.dbx_mf.inference"
NOW = datetime(2026, 3, 2, 10, 20, tzinfo=UTC)


@pytest.fixture(scope="module")
def table(spark_engine: LocalSparkEngine) -> str:
    put(spark_engine.root, TABLE, pa.table({"prediction": [0.5]}))
    return TABLE


def model(**signal: object) -> ModelSettings:
    return ModelSettings.model_validate({"name": "churn", "sources": {"lakehouse": {"table": TABLE}},
                                         "signals": {"monitor_health": signal}})


def source(workspace, emulator, api: str = "auto", now: datetime = NOW) -> MonitorStatusSource:  # type: ignore[no-untyped-def]
    found = MonitorDiscovery(workspace, api, clock=emulator.clock.utc,  # type: ignore[arg-type]
                             ttl=timedelta(0))
    return MonitorStatusSource(found.status, lambda: now)


def findings_of(src: MonitorStatusSource, settings: ModelSettings):  # type: ignore[no-untyped-def]
    (stream,) = src.streams(settings)
    (window,) = src.read(settings, stream)
    assessment = judge(settings, window)
    return assessment, [f for f in assessment.findings if f.signal == "lakehouse_monitor"]


@pytest.mark.parametrize("api", ["legacy", "data_quality"])
def test_a_missing_monitor_is_a_medium_finding_naming_the_table_and_the_fix(workspace, emulator, table: str,  # type: ignore[no-untyped-def]
                                                                             api: str) -> None:
    assessment, (finding,) = findings_of(source(workspace, emulator, api), model())
    assert (finding.tier, assessment.severity, assessment.risk) == ("medium", "medium", 50.0)
    text = finding.describe()
    assert text.startswith(f"lakehouse monitor (medium): the monitor on {table} is missing")
    assert "create a Lakehouse monitor on the table" in text
    assert assessment.stream == "lakehouse_monitor:1h"
    assert (assessment.window_start, assessment.window_end) == period(NOW, timedelta(hours=1))


@pytest.mark.parametrize("api", ["legacy", "data_quality"])
def test_a_failed_refresh_is_a_finding_with_its_message(workspace, emulator, table: str, api: str) -> None:  # type: ignore[no-untyped-def]
    emulator.monitors.add(table, "main.dbx_mf_out", pending_seconds=0)
    emulator.monitors.refresh_pending = emulator.monitors.refresh_running = 0
    emulator.monitors.refresh_outcomes.append(("FAILED", "Column ts not found in main.dbx_mf.inference"))
    discovery = MonitorDiscovery(workspace, api, ttl=timedelta(0))  # type: ignore[arg-type]
    refresh = discovery.refresh(table)
    emulator.clock.advance(1)

    assessment, (finding,) = findings_of(source(workspace, emulator, api), model())
    assert (finding.tier, assessment.severity) == ("medium", "medium")
    assert f"the newest refresh ({refresh.refresh_id}) of the monitor on {table} FAILED at " in finding.describe()
    assert "Column ts not found" in finding.describe() and "refresh it" in finding.describe()
    (problem,) = [p for p in [discovery.check(model())[1]] if p is not None]  # `monitors status` sees it too
    assert problem.refresh is not None and "Column ts not found" in problem.describe()

    emulator.monitors.refresh_outcomes.append(("SUCCESS", ""))  # a later successful refresh clears it
    discovery.refresh(table)
    emulator.clock.advance(1)
    assessment, found = findings_of(source(workspace, emulator, api), model())
    assert found == [] and assessment.severity == "ok"


@pytest.mark.parametrize(("status", "word"), [("FAILED", "FAILED"), ("ERROR", "ERROR")])
def test_a_failed_monitor_is_a_finding(workspace, emulator, table: str, status: str, word: str) -> None:  # type: ignore[no-untyped-def]
    emulator.monitors.add(table, "main.dbx_mf_out", pending_seconds=0, status=status,
                          failure_message="PERMISSION_DENIED on schema main.dbx_mf_out")
    _, (finding,) = findings_of(source(workspace, emulator), model())
    assert f"the monitor on {table} is {word}: PERMISSION_DENIED on schema main.dbx_mf_out" in finding.describe()


def test_an_active_monitor_is_no_finding_and_a_pending_one_is_not_judged(workspace, emulator, table: str) -> None:  # type: ignore[no-untyped-def]
    emulator.monitors.add(table, "main.dbx_mf_out", pending_seconds=30)
    assessment, found = findings_of(source(workspace, emulator), model())
    assert found == [] and any("is pending" in n.reason for n in assessment.not_raised)
    emulator.clock.advance(31)
    assessment, found = findings_of(source(workspace, emulator), model())
    assert found == [] and assessment.severity == "ok"
    assert any(n.reason == f"the monitor on {table} is active (no refresh ended yet)" for n in assessment.not_raised)


def test_severity_and_switches_come_from_config(workspace, emulator, table: str) -> None:  # type: ignore[no-untyped-def]
    assessment, (finding,) = findings_of(source(workspace, emulator), model(missing="high"))
    assert (finding.tier, assessment.severity) == ("high", "high")
    assessment, found = findings_of(source(workspace, emulator), model(missing=None))
    assert found == [] and any("monitor_health.missing is off" in n.reason for n in assessment.not_raised)
    assert source(workspace, emulator).streams(model(enabled=False)) == []
    named = ModelSettings.model_validate({"name": "churn", "sources": {"lakehouse": {
        "table": TABLE, "profile_metrics_table": "main.x.p", "drift_metrics_table": "main.x.d"}}})
    assert source(workspace, emulator).streams(named) == []


def test_one_window_per_period_rejudged_only_when_the_status_changes(workspace, emulator, table: str) -> None:  # type: ignore[no-untyped-def]
    settings = model()
    src = source(workspace, emulator)
    (stream,) = src.streams(settings)
    (window,) = src.read(settings, stream)
    known = {(window.window_start, window.window_end): window.version}
    assert src.read(settings, stream, known) == []  # same status, same period: nothing to judge
    emulator.monitors.add(table, "main.dbx_mf_out", pending_seconds=0)
    (changed,) = src.read(settings, stream, known)  # fixed within the period: the window is judged again
    assert changed.window_start == window.window_start and changed.version != window.version
    later = source(workspace, emulator, now=NOW + timedelta(hours=1))
    (next_window,) = later.read(settings, stream, {(changed.window_start, changed.window_end): changed.version})
    assert next_window.window_start == window.window_end


def test_a_monitor_api_failure_is_a_source_failure_not_a_finding(workspace, emulator, table: str) -> None:  # type: ignore[no-untyped-def]
    emulator.router.inject(Fault(path="/monitor$", status=500, error_code="INTERNAL_ERROR",
                                 message="monitor service broke", times=None))
    src = source(workspace, emulator, "legacy")
    (stream,) = src.streams(model())
    with pytest.raises(SourceError, match=r"model churn: the status of its Lakehouse monitor could not be read: "
                                          r".*INTERNAL_ERROR: monitor service broke"):
        src.read(model(), stream)


def test_through_the_daemon_a_missing_monitor_raises_the_models_alert(tmp_path: Path, emulator, table: str,  # type: ignore[no-untyped-def]
                                                                     spark_engine: LocalSparkEngine) -> None:
    from monitor.app import build_app

    config = tmp_path / "databricks.yaml"
    config.write_text(
        "engine: {kind: local_spark, lakehouse_root: " + str(spark_engine.root) + "}\n"
        f'workspace: {{kind: databricks, host: "{emulator.url}", token: {TOKEN}, retry_timeout: 10s}}\n'
        + COMMON.format(work=tmp_path, table=table, extra=""), encoding="utf-8")
    now = [NOW]
    app = build_app(load_settings(config), clock=lambda: now[0], engine=spark_engine)
    events: list[object] = []
    for kind in (AssessmentMade, AlertsEnqueued, SourceFailed):
        app.bus.subscribe(kind, events.append)
    try:
        app.bus.handle(PollDue("churn"))
        now[0] += timedelta(minutes=5)
        app.bus.handle(PollDue("churn"))  # same status, same period: not judged again
        now[0] += timedelta(hours=1)
        app.bus.handle(PollDue("churn"))
    finally:
        app.store.close()  # not app.close(): the Spark session is the test run's
    made = [e for e in events if isinstance(e, AssessmentMade)]
    assert [(m.assessment.stream, m.assessment.severity) for m in made] == [("lakehouse_monitor:1h", "medium")] * 2
    assert made[-1].assessment.alert_severity == "medium"  # 2 of the last 3 windows: the alert fires
    (enqueued,) = [e for e in events if isinstance(e, AlertsEnqueued)]
    assert enqueued.notifications[0]["status"] == "firing"
    assert enqueued.notifications[0]["labels"]["severity"] == "medium"
    # The metric tables do not exist (no monitor wrote them): the lakehouse source fails, and says so.
    assert any(isinstance(e, SourceFailed) and "does not exist" in e.error for e in events)
    assert f"the monitor on {table} is missing" in made[-1].assessment.findings[0].describe()


def test_the_status_window_round_trips_for_replay(workspace, emulator, table: str) -> None:  # type: ignore[no-untyped-def]
    from monitor.observations_codec import window_from_json, window_to_json

    emulator.monitors.add(table, "main.dbx_mf_out", pending_seconds=0, status="ERROR", failure_message="boom")
    src = source(workspace, emulator)
    (stream,) = src.streams(model())
    (window,) = src.read(model(), stream)
    assert window.monitor is not None and window.monitor.state == "error"
    assert window_from_json(window_to_json(window)) == window


def test_a_quiet_monitor_window_leaves_the_firing_streams_findings_in_the_alert(  # type: ignore[no-untyped-def]
        tmp_path: Path, emulator, table: str, spark_engine: LocalSparkEngine) -> None:
    """The lakehouse stream fires; the hourly status windows (no finding) must not replace its text."""
    from monitor.app import build_app
    from tests.databricks.dbx_tables import START, write_metric_tables

    write_metric_tables(spark_engine.root, "dbx_mf_out")
    emulator.monitors.add(TABLE, "main.dbx_mf_out", pending_seconds=0)
    config = tmp_path / "databricks.yaml"
    config.write_text(
        "engine: {kind: local_spark, lakehouse_root: " + str(spark_engine.root) + "}\n"
        f'workspace: {{kind: databricks, host: "{emulator.url}", token: {TOKEN}, retry_timeout: 10s}}\n'
        + COMMON.format(work=tmp_path, table=TABLE, extra=""), encoding="utf-8")
    app = build_app(load_settings(config), clock=lambda: START + timedelta(hours=5), engine=spark_engine)
    made: list[AssessmentMade] = []
    app.bus.subscribe(AssessmentMade, made.append)  # type: ignore[arg-type]
    try:
        app.bus.handle(PollDue("churn"))
        (alert,) = app.alerts.firing("model:churn")
    finally:
        app.store.close()
    # Two quiet status windows after the data: the monitor's (active) and freshness (the newest window is 2h old).
    assert [m.assessment.stream for m in made] == ["lakehouse:1 hour"] * 3 + ["lakehouse_monitor:1h", "freshness:1h"]
    assert all(m.assessment.findings == () and m.assessment.alert_severity == "medium" for m in made[-2:])
    assert "prediction drift" in alert.annotations["findings"]  # the firing stream's findings, kept
    # 91, not 88: the table's NaN JS distance and infinite PSI are an invalid_metrics finding too
    assert alert.annotations["summary"].startswith("churn: risk 91 (high)")


def test_with_stale_after_an_old_successful_refresh_is_a_stale_finding(workspace, emulator, table: str) -> None:  # type: ignore[no-untyped-def]
    emulator.monitors.add(table, "main.dbx_mf_out", pending_seconds=0)
    emulator.monitors.refresh_pending = emulator.monitors.refresh_running = 0
    MonitorDiscovery(workspace, "legacy").refresh(table)  # ends SUCCESS at once
    later = datetime.fromtimestamp(emulator.clock.now(), UTC) + timedelta(days=3)
    src = source(workspace, emulator, "legacy", now=later)
    assessment, (finding,) = findings_of(src, model(stale_after="2d"))
    assert (finding.tier, assessment.severity) == ("low", "low")
    assert f"the monitor on {table} last refreshed successfully at " in finding.describe()
    assert "(stale_after 2d); check the monitor's refresh schedule" in finding.describe()
    assert findings_of(src, model(stale_after="4d"))[1] == []
    assert findings_of(src, model())[1] == []  # off by default
