"""Freshness on real tables: stale, empty and out-of-lookback metric tables become stale_data findings, alerts
and ``check`` lines; ``check --as-of`` replays old windows without touching the state database.

Metric tables are hand-made Parquet (``tests.monitor.metric_tables``: three hourly windows from
2025-06-02 00:00 UTC, the newest ending 03:00); the daemon's clock is a ``SimulatedClock``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa

from config import parse_settings
from config.basics.clock import SimulatedClock
from monitor.app import App, build_app
from monitor.cli import exitcodes, main
from monitor.engines.local_spark import LocalSparkEngine
from monitor.messages import AlertsEnqueued, AssessmentMade, PollDue
from monitor.observations import Newest
from monitor.risk.stored import StoredAssessment
from monitor.sources import InferenceTableSource, LakehouseMetricsSource, Stream
from tests.monitor.metric_tables import DRIFT, PROFILE, START, drow, prow, put, table
from tests.monitor.payloads import Call, ai_gateway

pytestmark = [pytest.mark.integration, pytest.mark.usefixtures("restore_logging")]

MODEL = "churn"
NEWEST_END = START + timedelta(hours=3)  # the newest window: 2025-06-02T02:00Z to 03:00Z
FRESHNESS = "freshness:1h"



def _metric_tables(engine: LocalSparkEngine, schema: str, drift_windows: int = 3, profile_windows: int = 3) -> str:
    base = f"main.{schema}.t"
    put(engine, f"{base}_drift_metrics", table(DRIFT, [drow(i, "age", 0.01) for i in range(drift_windows)]))
    put(engine, f"{base}_profile_metrics", table(PROFILE, [prow(i, "age", 500) for i in range(profile_windows)]
                                                 + [prow(None, "age", 500, log_type="BASELINE")]))
    return base


def _config(tmp_path: Path, root: Path, base: str, *, lookback: str = "2d", freshness: str = "{}") -> Path:
    path = tmp_path / "lakewarden.yaml"
    path.write_text(f"""
engine: {{kind: local_spark, lakehouse_root: {root}}}
state: {{url: "sqlite:///{tmp_path}/state.db"}}
models:
  - name: {MODEL}
    sources: {{lakehouse: {{table: {base}, drift_type: BASELINE, lookback: {lookback}}}}}
    signals: {{freshness: {freshness}}}
route: {{receiver: log, group_wait: 0s}}
receivers:
  - name: log
    file_configs: [{{path: "{tmp_path}/alerts.jsonl"}}]
""", encoding="utf-8")
    return path


def _app(config: Path, engine: LocalSparkEngine, clock: SimulatedClock) -> App:
    return build_app(parse_settings(config.read_text(encoding="utf-8"), str(config), {}), clock=clock, engine=engine)


def _freshness(app: App) -> StoredAssessment:
    (row,) = app.assessments.history(MODEL, limit=1, stream=FRESHNESS)
    return row


# -- stale_data findings ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Case:
    name: str
    now: datetime
    expected: str | None  # the stale_data finding's detail starts with it; None: fresh
    fresh: str | None = None  # the not-raised reason when fresh
    freshness: str = "{}"
    drift_windows: int = 3
    profile_windows: int = 3
    judged: int = 3  # data windows judged


CASES = [
    Case("fresh", NEWEST_END + timedelta(minutes=30), None,
         fresh="fresh: the newest window of main.fresh_fresh.t_drift_metrics (2025-06-02T02:00Z to "
               "2025-06-02T03:00Z, lakehouse:1 hour) ended 30m ago, within 2h (2 x cadence 1h)"),
    Case("stale", NEWEST_END + timedelta(hours=5),
         "the newest window of main.fresh_stale.t_drift_metrics (2025-06-02T02:00Z to 2025-06-02T03:00Z, "
         "lakehouse:1 hour) ended 5h ago, more than 2h (2 x cadence 1h); check the monitor's refresh schedule"),
    Case("cadence", NEWEST_END + timedelta(hours=5), None, freshness="{cadence: 6h, multiple: 1.5}",
         fresh="fresh: the newest window of main.fresh_cadence.t_drift_metrics (2025-06-02T02:00Z to "
               "2025-06-02T03:00Z, lakehouse:1 hour) ended 5h ago, within 9h (1.5 x cadence 6h)"),
    Case("lagging", NEWEST_END + timedelta(hours=1, minutes=10), profile_windows=2, judged=2, expected=(
         "the newest window of main.fresh_lagging.t_profile_metrics (2025-06-02T01:00Z to 2025-06-02T02:00Z, "
         "lakehouse:1 hour) ended 2h10m ago, more than 2h")),
    Case("empty", NEWEST_END, drift_windows=0, profile_windows=0, judged=0, expected=(
         "main.fresh_empty.t_drift_metrics holds no window for granularity 1 hour (lakehouse:1 hour); check")),
    Case("outside", START + timedelta(days=30), judged=0, expected=(
         "the newest window of main.fresh_outside.t_drift_metrics (2025-06-02T02:00Z to 2025-06-02T03:00Z, "
         "lakehouse:1 hour) ended 29d21h ago, more than 2h")),
]


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_the_newest_window_is_judged_against_the_clock(spark_engine: LocalSparkEngine, tmp_path: Path,
                                                       case: Case) -> None:
    base = _metric_tables(spark_engine, f"fresh_{case.name}", case.drift_windows, case.profile_windows)
    app = _app(_config(tmp_path, spark_engine.root, base, freshness=case.freshness), spark_engine,
               SimulatedClock(case.now))
    app.bus.handle(PollDue(MODEL))

    assert len(app.assessments.history(MODEL, stream="lakehouse:1 hour")) == case.judged
    row = _freshness(app)
    stale = [f for f in row.findings if f["signal"] == "stale_data"]
    if case.expected is None:
        assert stale == [] and row.severity == "ok"
        assert [n["reason"] for n in row.skipped if n["signal"] == "stale_data"] == [case.fresh]
    else:
        (finding,) = stale
        assert finding["detail"].startswith(case.expected), finding["detail"]
        assert finding["tier"] == "medium" and row.severity == "medium" and row.risk == 50
    app.store.close()  # not app.close(): the engine is the test run's shared Spark session


def test_unchanged_facts_are_not_judged_again_within_the_period_but_crossing_the_limit_is(
        spark_engine: LocalSparkEngine, tmp_path: Path) -> None:
    base = _metric_tables(spark_engine, "fresh_period")
    clock = SimulatedClock(NEWEST_END + timedelta(hours=1, minutes=10))  # age 1h10m; limit 1h30m
    app = _app(_config(tmp_path, spark_engine.root, base, freshness="{cadence: 45m}"), spark_engine, clock)
    made: list[AssessmentMade] = []
    app.bus.subscribe(AssessmentMade, lambda event: made.append(event) or ())

    app.bus.handle(PollDue(MODEL))
    assert [m.assessment.stream for m in made] == ["lakehouse:1 hour"] * 3 + [FRESHNESS]
    assert made[-1].assessment.severity == "ok"
    clock.advance(minutes=10)  # 1h20m: the same facts in the same period
    app.bus.handle(PollDue(MODEL))
    assert len(made) == 4
    clock.advance(minutes=20)  # 1h40m: past the limit, still the same period: judged again
    app.bus.handle(PollDue(MODEL))
    assert len(made) == 5
    again = made[-1].assessment
    assert (again.stream, again.window_start, again.severity) == (FRESHNESS, made[3].assessment.window_start, "medium")
    assert "ended 1h40m ago, more than 1h30m (2 x cadence 45m)" in again.findings[0].detail
    app.store.close()


def test_stale_data_reaches_the_alerts_once_persistent_and_readyz_lists_it(
        spark_engine: LocalSparkEngine, tmp_path: Path) -> None:
    base = _metric_tables(spark_engine, "fresh_alert")
    clock = SimulatedClock(NEWEST_END + timedelta(hours=5))
    app = _app(_config(tmp_path, spark_engine.root, base), spark_engine, clock)
    app.health.set_started()
    sent: list[AlertsEnqueued] = []
    app.bus.subscribe(AlertsEnqueued, lambda event: sent.append(event) or ())

    app.bus.handle(PollDue(MODEL))  # one stale period: not persistent yet (2 of the last 3)
    assert sent == []
    ready, details = app.health.readiness()
    assert ready and details["status"] == "stale"
    (stale,) = details["models"][MODEL]["stale"]
    assert stale.startswith(f"the newest window of {base}_drift_metrics") and "ended 5h ago" in stale

    clock.advance(hours=1)  # the next period, still stale: the alert fires
    app.bus.handle(PollDue(MODEL))
    (event,) = sent
    (note,) = event.notifications
    assert note["status"] == "firing" and note["labels"]["model"] == MODEL
    assert note["labels"]["severity"] == "medium"
    assert app.assessments.model_alert(MODEL) == "medium"
    assert app.outbox.counts().get("pending") == 1
    app.store.close()


# -- Source.newest ---------------------------------------------------------------------------------------


class CountingEngine:
    """The engine, with the statements sent through it recorded."""

    def __init__(self, inner: LocalSparkEngine) -> None:
        self.inner, self.sent = inner, []  # type: ignore[var-annotated]

    def __getattr__(self, name: str) -> object:
        return getattr(self.inner, name)

    def query(self, sql: str, params: object = None) -> object:
        self.sent.append(sql)
        return self.inner.query(sql, params)  # type: ignore[arg-type]


@pytest.mark.parametrize(("now", "windows_in_lookback"), [(NEWEST_END + timedelta(hours=1), True),
                                                          (START + timedelta(days=30), False)],
                         ids=["within lookback", "outside lookback"])
def test_the_lakehouse_newest_window_comes_from_the_polls_read_when_it_lies_within_lookback(
        spark_engine: LocalSparkEngine, tmp_path: Path, now: datetime, windows_in_lookback: bool) -> None:
    base = _metric_tables(spark_engine, f"fresh_reuse_{int(windows_in_lookback)}", profile_windows=2)
    model = parse_settings(_config(tmp_path, spark_engine.root, base).read_text(encoding="utf-8"), "x", {}).models[0]
    stream = Stream("lakehouse", "1 hour")
    counted = CountingEngine(spark_engine)
    polled = LakehouseMetricsSource(counted, lambda: now)  # type: ignore[arg-type]
    polled.read(model, stream)
    before = len(counted.sent)
    seen = polled.newest(model, stream)
    asked = LakehouseMetricsSource(spark_engine, lambda: now).newest(model, stream)  # no read first: the query

    assert seen == asked and asked is not None and asked.table == f"{base}_profile_metrics"  # the lagging table
    assert (len(counted.sent) == before) is windows_in_lookback  # outside lookback, only the query knows


def test_the_inference_source_names_the_window_of_the_newest_request(spark_engine: LocalSparkEngine,
                                                                    tmp_path: Path) -> None:
    calls = [Call(f"r{i}", START + timedelta(minutes=40 * i)) for i in range(4)]  # the newest at 02:00
    put(spark_engine, "main.fresh_inference.payload", ai_gateway(calls))
    settings = parse_settings(f"""
engine: {{kind: local_spark, lakehouse_root: {spark_engine.root}}}
state: {{url: "sqlite:///{tmp_path}/state.db"}}
models:
  - name: endpoint
    sources: {{inference: {{table: main.fresh_inference.payload, lookback: 1d}}}}
route: {{receiver: log}}
receivers: [{{name: log, file_configs: [{{path: "{tmp_path}/alerts.jsonl"}}]}}]
""", "t.yaml", {})
    model, stream = settings.models[0], Stream("inference", "1 hour")
    expected = Newest("inference:1 hour", "main.fresh_inference.payload", "1 hour", START + timedelta(hours=2),
                      START + timedelta(hours=3))
    # Within lookback (the recent partitions), then long after it (the whole table is read).
    for now in (START + timedelta(hours=4), START + timedelta(days=400)):
        assert InferenceTableSource(spark_engine, SimulatedClock(now)).newest(model, stream) == expected
    # A replay as of 01:30 leaves the later requests out.
    replay = InferenceTableSource(spark_engine, SimulatedClock(START + timedelta(hours=1, minutes=30)), replay=True)
    assert replay.newest(model, stream) == Newest("inference:1 hour", "main.fresh_inference.payload", "1 hour",
                                                  START + timedelta(hours=1), START + timedelta(hours=2))


# -- check -----------------------------------------------------------------------------------------------


def _check(config: Path, capsys: pytest.CaptureFixture[str], *extra: str) -> tuple[int, list[str]]:
    code = main(["check", "--config", str(config), *extra])
    return code, [line for line in capsys.readouterr().out.splitlines() if line.strip()]


def _stored(tmp_path: Path) -> list[tuple[str, str]]:
    with sa.create_engine(f"sqlite:///{tmp_path}/state.db").connect() as conn:
        return [(r.stream, str(r.window_start)) for r in conn.execute(sa.text(
            "SELECT stream, window_start FROM monitor_assessments ORDER BY stream, window_start"))]


def test_check_of_windows_outside_lookback_is_incomplete_and_says_so_then_as_of_replays_them(
        spark_engine: LocalSparkEngine, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    base = _metric_tables(spark_engine, "fresh_check")
    config = _config(tmp_path, spark_engine.root, base)

    code, lines = _check(config, capsys)  # the real clock: the 2025 windows lie far outside lookback 2d
    assert code == exitcodes.INCOMPLETE
    (line,) = lines
    assert line.startswith(f"{MODEL:<24} NOT JUDGED: no window within lookback 2d: the newest window of "
                           f"{base}_drift_metrics ended 2025-06-02T03:00Z, "), line
    assert re.search(r", \d+d(\d+h)? ago; use --as-of to replay it$", line), line
    stored = _stored(tmp_path)
    assert [stream for stream, _ in stored] == [FRESHNESS]  # the stale_data finding, nothing else

    code, lines = _check(config, capsys, "--as-of", "2025-06-02T03:10")  # UTC without an offset
    assert code == exitcodes.OK
    assert lines == [
        "replay as of 2025-06-02T03:10:00+00:00: a temporary state database, lifecycle off; nothing is stored or sent",
        f"{MODEL:<24} ok         risk 0    window lakehouse:1 hour 2025-06-02T02:00Z to 2025-06-02T03:00Z, "
        "ended 10m ago",
    ]
    # Windows after the replay time did not exist yet; the real state database and alert log are untouched.
    code, lines = _check(config, capsys, "--as-of", "2025-06-02T02:30+00:00")
    assert code == exitcodes.OK
    assert "window lakehouse:1 hour 2025-06-02T01:00Z to 2025-06-02T02:00Z, ended 30m ago" in lines[1]
    assert _stored(tmp_path) == stored
    assert not (tmp_path / "alerts.jsonl").exists()

    assert main(["check", "--config", str(config), "--as-of", "yesterday"]) == exitcodes.CONFIG_ERROR
    assert "--as-of 'yesterday' is not an ISO 8601 time" in capsys.readouterr().out


def test_check_of_an_empty_table_is_incomplete_and_says_so(
        spark_engine: LocalSparkEngine, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    base = _metric_tables(spark_engine, "fresh_check_empty", drift_windows=0, profile_windows=0)
    code, lines = _check(_config(tmp_path, spark_engine.root, base), capsys)
    assert code == exitcodes.INCOMPLETE
    assert lines == [f"{MODEL:<24} NOT JUDGED: {base}_drift_metrics holds no window for granularity 1 hour"]


def test_check_of_stale_windows_is_never_ok_and_prints_the_judged_window_and_its_age(
        spark_engine: LocalSparkEngine, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    base = _metric_tables(spark_engine, "fresh_check_stale")
    config = _config(tmp_path, spark_engine.root, base, lookback="3650d")
    code, lines = _check(config, capsys)  # judged (lookback 10 years), but the newest window is a year old
    assert code == exitcodes.SEVERITY["medium"]
    (line,) = lines
    assert line.startswith(f"{MODEL:<24} medium     risk 50   window lakehouse:1 hour 2025-06-02T02:00Z to "
                           "2025-06-02T03:00Z, ended "), line

    # explain --as-of: the newest assessment of each stream that ended by then.
    assert main(["explain", MODEL, "--config", str(config), "--as-of", "2025-06-02T02:00Z"]) == exitcodes.OK
    out = capsys.readouterr().out
    assert "churn  lakehouse:1 hour  window 2025-06-02 01:00 - 2025-06-02 02:00 UTC" in out
    assert FRESHNESS not in out  # its window is the period of the check, long after
    assert main(["explain", MODEL, "--config", str(config), "--as-of", "2025-06-01T00:00Z"]) == exitcodes.ERROR
    assert "with a window that ended by 2025-06-01T00:00:00+00:00" in capsys.readouterr().out
