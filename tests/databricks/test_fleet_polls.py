"""Many models polled at once through the SQL warehouse engine (the emulator): the same decisions with a
pool of 1 and of 8, a bounded number of statements per model, a slow or failing model holding up
nobody, and a stop that cancels the statements in flight.

One small world for the three tests (``world``: three models' metric tables in one schema, one window
each; the first test refreshes them with a second): the statements run on the shared local Spark
behind the emulator, each costing seconds on a loaded machine, so models and windows are few.
"""

from __future__ import annotations

import json
import re
import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest
import sqlalchemy as sa
from prometheus_client.parser import text_string_to_metric_families

from config.loader import parse_settings
from monitor.app import App, build_app
from monitor.engines.local_spark import LocalSparkEngine
from monitor.engines.sql_warehouse import SqlWarehouseEngine
from monitor.messages import SourceFailed
from monitor.web.metrics import Metrics
from retrain.databricks.client import workspace_client
from tests.databricks.dbx_support import WAREHOUSE_ID, settings_for
from tests.monitor.metric_tables import DRIFT, PROFILE, table

pytestmark = [pytest.mark.integration, pytest.mark.usefixtures("restore_logging")]

FEATURES = ("age", "income", "prediction")
NOW = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
FIRST = NOW - timedelta(hours=4)
SCHEMA = "fleet"
NAMES = [f"m{i}" for i in range(3)]
JS = {name: 0.02 + 0.15 * (i % 3) for i, name in enumerate(NAMES)}  # prediction drift: low, medium, high
RETRAINS = {"m2"}  # lifecycle on (trigger: high drift) only where it fires: each retrain job is a process


def write(root: Path, schema: str, name: str, windows: range, part: int, js: float) -> None:
    """The model's two metric tables: ``windows`` (hours after FIRST) as one more Parquet file (a refresh)."""
    def span(i: int) -> dict[str, datetime]:
        return {"start": FIRST + timedelta(hours=i), "end": FIRST + timedelta(hours=i + 1)}

    drift = [{"window": span(w), "granularity": "1 hour", "monitor_version": 0, "column_name": c,
              "data_type": "double", "drift_type": "BASELINE", "js_distance": js if c == "prediction" else 0.01,
              "model_id": "*"} for w in windows for c in FEATURES]
    profile = [{"window": span(w), "log_type": "INPUT", "logging_table_commit_version": w, "monitor_version": 0,
                "granularity": "1 hour", "column_name": c, "count": 500, "num_nulls": 1, "avg": 1.0,
                "model_id": "*"} for w in windows for c in FEATURES]
    if part == 0:
        profile += [{"window": None, "log_type": "BASELINE", "logging_table_commit_version": 0, "monitor_version": 0,
                     "granularity": "1 hour", "column_name": c, "count": 900, "num_nulls": 1, "avg": 1.0,
                     "model_id": "*"} for c in FEATURES]
    for suffix, layout, rows in (("drift", DRIFT, drift), ("profile", PROFILE, profile)):
        path = root / "main" / schema / f"{name}_{suffix}_metrics"
        path.mkdir(parents=True, exist_ok=True)
        pq.write_table(table(layout, rows), path / f"part-{part:05d}.parquet")


def settings_text(work: Path, schema: str, names: list[str], pool: int, retrains: frozenset[str] = frozenset(),
                  batch: int = 100) -> str:
    # The retrain job ends at once (``python -m platform`` prints the platform): the test compares what
    # triggered a run, and a real training job would compete for the cores for a minute.
    lifecycle = ("lifecycle: {enabled: true, registered_model: churn, retrain: {module: platform}, "
                 "trigger: {min_severity: high, held_for: {windows: 1, of: 1}}}")
    # Freshness off: it is judged against the clock, and the two apps of a test poll minutes apart.
    models = "\n".join(f"  - name: {n}\n    sources:\n      lakehouse: {{table: main.{schema}.{n}, "
                       f"granularity: 1 hour, drift_type: BASELINE, lookback: 2d}}\n"
                       f"{f'    {lifecycle}' + chr(10) if n in retrains else ''}"
                       "    signals: {freshness: {enabled: false}}" for n in names)
    return (f"engine: {{kind: local_spark, lakehouse_root: {work}}}\n"
            f"workspace: {{kind: local, mlflow_tracking_uri: \"sqlite:///{work}/mlflow.db\", jobs_dir: {work}/jobs}}\n"
            f"state: {{url: \"sqlite:///{work}/state.db\"}}\n"
            f"service: {{log_format: json, poll_concurrency: {pool}, poll_batch_tables: {batch}}}\n"
            f"models:\n{models}\nroute: {{receiver: log, group_by: [model]}}\n"
            f"receivers:\n  - name: log\n    file_configs: [{{path: {work}/alerts.jsonl}}]\n")


@pytest.fixture(scope="module")
def world(spark_engine: LocalSparkEngine) -> list[str]:
    """The models' metric tables, one window each (the first test adds a second)."""
    for name in NAMES:
        write(spark_engine.root, SCHEMA, name, range(1), 0, JS[name])
    return NAMES


@pytest.fixture
def make_app(tmp_path: Path, emulator: Any) -> Iterator[Callable[..., tuple[App, SqlWarehouseEngine]]]:
    apps: list[App] = []

    def make(schema: str, names: list[str], pool: int, label: str,
             retrains: frozenset[str] = frozenset(), batch: int = 100) -> tuple[App, SqlWarehouseEngine]:
        work = tmp_path / label
        work.mkdir()
        settings = parse_settings(settings_text(work, schema, names, pool, retrains, batch), str(work / "fleet.yaml"),
                                  {})
        engine = SqlWarehouseEngine(workspace_client(settings_for(emulator.url)), WAREHOUSE_ID,
                                    wait_timeout=timedelta(seconds=5), query_timeout=timedelta(minutes=2),
                                    max_concurrent=pool)
        app = build_app(settings, engine=engine, worker_id=f"test-{label}")
        apps.append(app)
        return app, engine

    yield make
    for app in apps:
        app.close()


def decisions(app: App) -> dict[str, list[tuple[Any, ...]]]:
    with app.store.engine.connect() as conn:
        assessed = conn.execute(sa.text(
            "SELECT model, stream, window_start, window_end, severity, risk, findings FROM monitor_assessments "
            "ORDER BY model, stream, window_start")).all()
        alerts = conn.execute(sa.text("SELECT labels, status, scope FROM alerts_state ORDER BY fingerprint")).all()
        runs = conn.execute(sa.text("SELECT model, state, step, trigger FROM retrain_runs ORDER BY model")).all()
    # A lifecycle notice names its run, whose id is new in each database: compared without it.
    labels = [({k: v for k, v in (json.loads(r[0]) if isinstance(r[0], str) else r[0]).items() if k != "lifecycle_run"},
               r[1], r[2]) for r in alerts]
    return {"assessments": [tuple(r) for r in assessed], "alerts": sorted(map(str, labels)),
            "runs": [tuple(map(str, r)) for r in runs]}


def test_a_pool_of_1_and_of_8_make_the_same_decisions_with_at_most_two_statements_per_model(
        spark_engine: LocalSparkEngine, emulator: Any, world: list[str],
        make_app: Callable[..., tuple[App, SqlWarehouseEngine]]) -> None:
    names = world
    apps = [make_app(SCHEMA, names, pool, f"pool{pool}", RETRAINS) for pool in (1, 8)]
    metrics = Metrics()
    apps[1][0].cycle.observers.append(metrics.on_cycle)
    cycles: dict[int, list[dict[str, Any]]] = {1: [], 8: []}
    for app, _ in apps:
        app.poll_all(names)
        cycles[app.poller.size].append(app.cycle.close() or {})
    for name in names:  # one new window each: a refresh appends a file to both tables
        write(spark_engine.root, SCHEMA, name, range(1, 2), 1, JS[name])
    for app, _ in apps:
        app.poll_all(names)
        cycles[app.poller.size].append(app.cycle.close() or {})
    app8, engine8 = apps[1]
    before, seen = engine8.statements, set(emulator.sql.statements)
    app8.poll_all(names)  # nothing new
    steady = app8.cycle.close() or {}
    probes = [s.sql for sid, s in list(emulator.sql.statements.items()) if sid not in seen]

    one, eight = decisions(apps[0][0]), decisions(app8)
    assert one == eight
    assert len(one["assessments"]) == 2 * len(names) and one["alerts"]  # 2 windows each
    assert [run[0] for run in one["runs"]] == sorted(RETRAINS)  # the high drift triggered its retrain
    for pool in (1, 8):
        cold, new = cycles[pool]
        assert (cold["windows"], new["windows"]) == (len(names), len(names))  # lakehouse windows
        assert not cold["failures"] and not new["failures"]
        assert cold["statements"] <= 2 * len(names)  # its versions, then its rows, per model
        # Batched probes and versions (pool 1: one of each for all; pool 8: split so 8 run at once), then rows.
        assert new["statements"] <= 2 * len(names)
    assert cycles[1][1]["statements"] == len(names) + 2
    # Nothing new: only the tables' versions are read (their files' metadata), no window's versions, no rows.
    assert steady["windows"] == 0 and 1 <= steady["statements"] <= len(names)
    assert len(probes) == steady["statements"] and all("_metadata.row_index = 0" in sql for sql in probes)
    assert engine8.statements - before == len(probes)
    # /metrics counts what the cycles' lines say.
    exposed = {s.name: s.value for f in text_string_to_metric_families(metrics.render()[0].decode()) for s in f.samples}
    assert exposed["lakewarden_poll_statements_total"] == sum(c["statements"] for c in (*cycles[8], steady)) > 0
    assert exposed["lakewarden_poll_cycle_models_total"] == 3 * len(names)


def test_poll_batch_tables_bounds_the_tables_each_batched_statement_names(
        emulator: Any, world: list[str], make_app: Callable[..., tuple[App, SqlWarehouseEngine]]) -> None:
    names = world
    app, _ = make_app(SCHEMA, names, 8, "batch4", batch=4)

    def cycle() -> list[set[str]]:
        """The tables each statement of one cycle named."""
        seen = set(emulator.sql.statements)
        app.poll_all(names)
        app.cycle.close()
        return [set(re.findall(r"m\d+_(?:drift|profile)_metrics", s.sql))
                for sid, s in list(emulator.sql.statements.items()) if sid not in seen]

    cycle()  # first reads: each model its own statements
    confirm = cycle()  # the tables' versions, and the windows' versions batched to confirm what was read
    steady = cycle()  # nothing new: only the tables' versions
    count = 2 * len(names)  # every table once, 4 to a statement (the setting was once lost on its way)
    expected = sorted([4] * (count // 4) + ([count % 4] if count % 4 else []))
    assert sorted(len(tables) for tables in steady) == expected
    assert set().union(*steady) == {f"{n}_{t}_metrics" for n in names for t in ("drift", "profile")}
    assert len(confirm) > len(steady) and all(len(tables) <= 4 for tables in confirm)


def test_a_slow_model_and_a_failing_model_hold_up_nobody_and_a_stop_ends_the_cycle(
        emulator: Any, world: list[str], make_app: Callable[..., tuple[App, SqlWarehouseEngine]]) -> None:
    from emu_http import Fault

    names = world  # slow, broken, then the healthy ones
    emulator.tables.denied.add(f"main.{SCHEMA}.{names[1]}_drift_metrics")  # its statements fail
    # The slow model's first read asks Unity Catalog for its drift table's columns: that answer takes 2 min.
    emulator.router.inject(Fault(path=f"/unity-catalog/tables/main.{SCHEMA}.{names[0]}_drift_metrics$", delay=120.0))
    app, _ = make_app(SCHEMA, names, 4, "slow")
    failed: list[str] = []
    app.bus.subscribe(SourceFailed, lambda event: failed.append(event.model))
    stop = threading.Event()
    errors: dict[str, str] = {}
    poll = threading.Thread(target=lambda: errors.update(app.poll_all(names, stop)), daemon=True)
    poll.start()

    deadline = time.monotonic() + 90
    while time.monotonic() < deadline and not (all(app.assessments.streams(n) for n in names[2:]) and failed):
        time.sleep(0.05)
    judged = {n for n in names if app.assessments.streams(n)}
    assert judged == set(names[2:])  # every healthy model judged while the slow one still waits
    assert set(failed) == {names[1]}  # its failure reported, the others' polls untouched by it
    assert poll.is_alive()
    stop.set()
    # The read in flight (a metadata call no statement cancel ends) is waited for, not dropped: the
    # daemon sees its poll busy until then, and gives up on it after half its shutdown deadline.
    poll.join(1)
    assert poll.is_alive()
    assert not app.assessments.streams(names[0])


def test_a_stop_cancels_every_statement_in_flight(
        emulator: Any, world: list[str], make_app: Callable[..., tuple[App, SqlWarehouseEngine]]) -> None:
    names = world
    for warehouse in emulator.sql.warehouses.values():
        warehouse.run_seconds = 60.0  # every statement runs a minute
    app, engine = make_app(SCHEMA, names, 4, "stop")
    stop = threading.Event()
    poll = threading.Thread(target=lambda: app.poll_all(names, stop), daemon=True)
    poll.start()
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and sum(
            s.state == "RUNNING" for s in list(emulator.sql.statements.values())) < len(names):
        time.sleep(0.05)
    running = [s for s in list(emulator.sql.statements.values()) if s.state == "RUNNING"]
    assert len(running) == len(names)  # one statement per model at once (pool and warehouse limit: 4)
    started = time.monotonic()
    stop.set()
    engine.cancel()  # what the daemon does at a stop while a command is busy
    # The reads in flight end when their statements do: a submit the server holds (wait_timeout 5 s)
    # sees the cancel when it returns.
    poll.join(15)
    assert not poll.is_alive() and time.monotonic() - started < 5 + 3
    deadline = time.monotonic() + 20  # a submit the server holds (wait_timeout 5s) is cancelled when it returns
    while time.monotonic() < deadline and any(s.state == "RUNNING" for s in running):
        time.sleep(0.05)
    assert {s.state for s in running} == {"CANCELED"}
    assert not any(app.assessments.streams(n) for n in names)
