# ruff: noqa: PLC0415, PLR0915  (a script: heavy imports happen in the measured process, after argument parsing)
"""Fleet scale: one poll cycle over N models, on the embedded default and through a SQL warehouse.

    .venv/bin/python bench/fleet.py --engine local --sizes 10,100,1000
    .venv/bin/python bench/fleet.py --engine warehouse --latency 0.3 --sizes 10,100,1000

Each size runs in a fresh process (its own Spark, so peak RSS is its own). Per size: N models, each
with its own pair of Lakehouse-Monitoring-shaped metric tables (``main.fleet.mNNNN_profile_metrics``
and ``_drift_metrics``, 4 columns, ``1 hour``, ``--history`` windows plus the baseline, written with
pyarrow), all in one schema. Three cycles are timed:

- ``cold``: the first cycle, every window new (a fresh state database);
- ``new``: after one more window was appended to every model's two tables (a refresh: a new file);
- ``steady``: again, nothing new.

Engines: ``local`` is the embedded default (local Spark over the Parquet folders); ``warehouse`` is
the SQL warehouse engine (databricks-sdk) against the Databricks emulator in this process, which adds
``--latency`` seconds to every statement before running it on the same local Spark.

``--spark-conf KEY=VALUE`` sets the local Spark session's settings (with ``warehouse`` that session is
the emulated warehouse's: ``spark.driver.memory=4g`` gives it a warehouse's room).

Printed per cycle: wall seconds, statements (SQL statements sent through the engine), metadata calls
(table exists / column lookups: Unity Catalog API calls on a warehouse, schema reads on local Spark),
CPU seconds of the Python process (lakewarden, and the emulator's HTTP side with ``warehouse``) and of
Spark's JVM (the local engine's work, or the emulated warehouse executing every statement), peak RSS
of both, the JVM's heap in use after a full collection once the cycle ended (``live MB``), and the
machine's load (``uptime``).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "tests" / "emulator")]

FEATURES = ("age", "income", "tenure", "prediction")


def load() -> str:
    return Path("/proc/loadavg").read_text().split(" ", 3)[:3].__str__()


def hour_start(now: datetime) -> datetime:
    return now.replace(minute=0, second=0, microsecond=0)


def write_tables(root: Path, count: int, history: int, first: datetime, part: int, windows: range) -> None:
    """Per model, one Parquet file per table holding ``windows`` (hours after ``first``); part 0 adds the baseline."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from tests.monitor.metric_tables import DRIFT, PROFILE, table

    def span(i: int) -> dict[str, datetime]:
        return {"start": first + timedelta(hours=i), "end": first + timedelta(hours=i + 1)}

    for m in range(count):
        shift = (m % 7) / 10  # some models drift, most do not
        drift_rows, profile_rows = [], []
        for w in windows:
            for j, column in enumerate(FEATURES):
                js = 0.02 + (shift if j == 0 and w == windows[-1] else 0.0)
                drift_rows.append({"window": span(w), "granularity": "1 hour", "monitor_version": 0,
                                   "column_name": column, "data_type": "double", "drift_type": "BASELINE",
                                   "js_distance": js, "population_stability_index": js * 2,
                                   "ks_test": {"statistic": js, "pvalue": 0.5}, "model_id": "*"})
                profile_rows.append({"window": span(w), "log_type": "INPUT", "logging_table_commit_version": w,
                                     "monitor_version": 0, "granularity": "1 hour", "column_name": column,
                                     "count": 1000, "num_nulls": 3, "avg": 1.0 + j, "stddev": 1.0,
                                     "min": 0.0, "max": 9.0, "data_type": "double", "model_id": "*"})
        if part == 0:
            for j, column in enumerate(FEATURES):
                profile_rows.append({"window": None, "log_type": "BASELINE", "logging_table_commit_version": 0,
                                     "monitor_version": 0, "granularity": "1 hour", "column_name": column,
                                     "count": 5000, "num_nulls": 10, "avg": 1.0 + j, "stddev": 1.0,
                                     "min": 0.0, "max": 9.0, "data_type": "double", "model_id": "*"})
        for suffix, layout, rows in (("drift", DRIFT, drift_rows), ("profile", PROFILE, profile_rows)):
            path = root / "main" / "fleet" / f"m{m:04d}_{suffix}_metrics"
            path.mkdir(parents=True, exist_ok=True)
            data: pa.Table = table(layout, rows)
            pq.write_table(data, path / f"part-{part:05d}.parquet")
    del history


def config_text(work: Path, root: Path, count: int) -> str:
    models = "\n".join(
        f"  - name: m{m:04d}\n    sources:\n      lakehouse: {{table: main.fleet.m{m:04d}, granularity: 1 hour, "
        "drift_type: BASELINE, lookback: 2d}" for m in range(count))
    return (f"engine: {{kind: local_spark, lakehouse_root: {root}}}\n"
            f"workspace: {{kind: local, mlflow_tracking_uri: \"sqlite:///{work}/mlflow.db\", jobs_dir: {work}/jobs}}\n"
            f"state: {{url: \"sqlite:///{work}/state.db\"}}\n"
            "service: {log_format: json, log_level: warning}\n"
            f"models:\n{models}\n"
            "route: {receiver: log}\n"
            f"receivers:\n  - name: log\n    file_configs: [{{path: {work}/alerts.jsonl}}]\n")


class Counting:
    """Counts the engine's statements and metadata calls (thread-safe), whatever the code under test."""

    def __init__(self, engine: Any) -> None:
        self.statements = 0
        self.metadata = 0
        self._lock = threading.Lock()
        for name, kind in (("query", "statements"), ("table_exists", "metadata"), ("columns", "metadata")):
            setattr(engine, name, self._wrap(getattr(engine, name), kind))

    def _wrap(self, call: Any, kind: str) -> Any:
        def counted(*args: Any, **kwargs: Any) -> Any:
            with self._lock:
                setattr(self, kind, getattr(self, kind) + 1)
            return call(*args, **kwargs)
        return counted

    def take(self) -> tuple[int, int]:
        with self._lock:
            out = (self.statements, self.metadata)
            self.statements = self.metadata = 0
        return out


def jvm_cpu_s() -> float:
    """CPU seconds (user + system) used so far by this process's children (Spark's JVM: the local
    engine's work, or the emulated warehouse's execution of every statement)."""
    from monitor.children import children

    ticks = 0
    for pid in children():
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        ticks += int(fields[11]) + int(fields[12])  # utime, stime
    return ticks / os.sysconf("SC_CLK_TCK")


def jvm_peak_mb() -> float:
    """Peak RSS (VmHWM) of this process's child processes (Spark's JVM), in MB."""
    from monitor.children import children

    peak = 0
    for pid in children():
        try:
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith("VmHWM:"):
                    peak += int(line.split()[1])
        except OSError:
            continue
    return round(peak / 1024, 1)


def jvm_live_mb() -> float | None:
    """The JVM's heap in use right after a full collection (``jcmd GC.run``, then ``GC.heap_info``), in
    MB: what the cycles keep alive, as against the peak RSS, which garbage not yet collected inflates."""
    import re
    import shutil

    from monitor.children import children

    jcmd = shutil.which("jcmd")
    for pid in children() if jcmd else ():
        try:
            subprocess.run([jcmd, str(pid), "GC.run"], capture_output=True, timeout=120, check=True)
            info = subprocess.run([jcmd, str(pid), "GC.heap_info"], capture_output=True, text=True,
                                  timeout=60, check=True).stdout
        except (OSError, subprocess.SubprocessError):
            continue
        match = re.search(r"heap\s+total \d+K, used (\d+)K", info)
        if match:
            return round(int(match.group(1)) / 1024, 1)
    return None


def run_cycle(app: Any, names: list[str]) -> dict[str, Any]:
    """One cycle the way the code under test does it: its fleet poller when it has one, else one poll at a time."""
    from monitor.messages import PollDue

    poll_all = getattr(app, "poll_all", None)
    if poll_all is not None:
        poll_all(names)
        fields = app.cycle.close() or {}
        return fields
    for name in names:
        started, raised = time.monotonic(), None
        try:
            app.bus.handle(PollDue(name))
        except Exception as exc:  # counted as a failure in the cycle line
            raised = str(exc)
        app.cycle.polled(name, time.monotonic() - started, raised)
    return app.cycle.close() or {}


def one_size(args: argparse.Namespace) -> dict[str, Any]:
    from config import load_settings
    from monitor.app import build_app
    from monitor.engines.local_spark import LocalSparkEngine
    from monitor.logs import configure_logging

    count = args.models
    work = Path(tempfile.mkdtemp(prefix=f"fleet-{count}-"))
    root = work / "lakehouse"
    now = datetime.now(UTC)
    first = hour_start(now) - timedelta(hours=args.history + 1)
    write_tables(root, count, args.history, first, 0, range(args.history))
    cfg = work / "fleet.yaml"
    cfg.write_text(config_text(work, root, count), encoding="utf-8")
    settings = load_settings(cfg)
    # The config names local Spark (the emulator's tables live there): with the warehouse, its defaults.
    from monitor.poll_pool import default_size

    kind = "local_spark" if args.engine == "local" else "sql_warehouse"
    settings = _with_pool(settings, args.pool or default_size(kind))
    settings = settings.model_copy(update={"service": settings.service.model_copy(
        update={"poll_batch_tables": args.batch or settings.service.poll_batch_tables})})
    configure_logging(level="warning", fmt="json")
    local = LocalSparkEngine(root, dict(args.spark_conf))
    local.spark  # noqa: B018 - start Spark before timing
    emulator = None
    if args.engine == "local":
        engine: Any = local
    else:
        from emu_server import Emulator

        from config.service import WorkspaceSettings
        from monitor.engines.sql_warehouse import SqlWarehouseEngine
        from retrain.databricks.client import workspace_client

        emulator = Emulator(root, lambda: local.spark)
        for warehouse in emulator.sql.warehouses.values():
            warehouse.latency_seconds = args.latency
        emulator.start()
        client = workspace_client(WorkspaceSettings.model_validate(
            {"kind": "databricks", "host": emulator.url, "token": "dapi-emulator-token", "retry_timeout": "30s",
             "http_timeout": "120s"}))
        engine = _warehouse_engine(SqlWarehouseEngine, client, settings)
    counter = Counting(engine)
    app = build_app(settings, engine=engine, worker_id="bench")
    names = [m.name for m in settings.models]
    result: dict[str, Any] = {"engine": args.engine, "models": count, "latency_s": args.latency,
                              "history": args.history, "load_before": load()}
    try:
        for phase in ("cold", "new", "steady"):
            if phase == "new":
                write_tables(root, count, args.history, first, 1, range(args.history, args.history + 1))
            started, cpu, jvm = time.monotonic(), time.process_time(), jvm_cpu_s()
            fields = run_cycle(app, names)
            wall = time.monotonic() - started
            statements, metadata = counter.take()
            result[phase] = {"wall_s": round(wall, 2), "cpu_s": round(time.process_time() - cpu, 2),
                             "jvm_cpu_s": round(jvm_cpu_s() - jvm, 2),
                             "statements": statements, "metadata_calls": metadata,
                             "windows": fields.get("windows"), "failures": len(fields.get("failures") or {}),
                             "per_model_s": round(wall / count, 3), "jvm_live_mb": jvm_live_mb()}
            if fields.get("failures"):
                result[phase]["first_failure"] = str(next(iter(fields["failures"].values())))[:300]
    finally:
        result["rss_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
        result["jvm_mb"] = jvm_peak_mb()
        result["load_after"] = load()
        app.close()
        if emulator is not None:
            emulator.stop()
    return result


def _with_pool(settings: Any, size: int) -> Any:
    service = settings.service
    if "poll_concurrency" not in type(service).model_fields:
        return settings
    return settings.model_copy(update={"service": service.model_copy(update={"poll_concurrency": size})})


def _warehouse_engine(kind: Any, client: Any, settings: Any) -> Any:
    import inspect

    params = inspect.signature(kind).parameters
    extra = {"max_concurrent": 16} if "max_concurrent" in params else {}
    return kind(client, "emu0warehouse1", wait_timeout=timedelta(seconds=5), query_timeout=timedelta(minutes=5),
                **extra)


def _conf_pair(text: str) -> tuple[str, str]:
    key, sep, value = text.partition("=")
    if not sep or not key.startswith("spark."):
        raise argparse.ArgumentTypeError(f"expected spark.KEY=VALUE, not {text!r}")
    return key, value


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--engine", choices=("local", "warehouse"), default="local")
    parser.add_argument("--sizes", default="10,100", help="comma-separated model counts, each in its own process")
    parser.add_argument("--models", type=int, help=argparse.SUPPRESS)  # one size, in this process
    parser.add_argument("--latency", type=float, default=0.3, help="warehouse: seconds added to every statement")
    parser.add_argument("--history", type=int, default=2, help="windows per model before the first cycle")
    parser.add_argument("--pool", type=int, default=0, help="poll pool size (0: the configured default)")
    parser.add_argument("--batch", type=int, default=0,
                        help="service.poll_batch_tables (0: the configured default)")
    parser.add_argument("--spark-conf", action="append", default=[], type=_conf_pair, metavar="KEY=VALUE",
                        help="a Spark setting of the local session (repeatable), e.g. spark.driver.memory=4g")
    parser.add_argument("--timeout", type=float, default=3600, help="seconds per size before it is stopped")
    args = parser.parse_args()
    os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
    os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    if args.models:
        print("RESULT " + json.dumps(one_size(args)), flush=True)
        return 0
    rows = []
    for size in [int(s) for s in args.sizes.split(",")]:
        command = [sys.executable, __file__, "--engine", args.engine, "--models", str(size), "--latency",
                   str(args.latency), "--history", str(args.history), "--pool", str(args.pool),
                   "--batch", str(args.batch)]
        command += [f"--spark-conf={key}={value}" for key, value in args.spark_conf]
        try:
            done = subprocess.run(command, capture_output=True, text=True, timeout=args.timeout, check=False)
        except subprocess.TimeoutExpired:
            print(f"{size} models: did not finish within {args.timeout:.0f} s (stopped)", flush=True)
            continue
        found = [line for line in done.stdout.splitlines() if line.startswith("RESULT ")]
        if not found:
            print(f"{size} models: failed (exit {done.returncode})\n{done.stderr[-3000:]}", flush=True)
            continue
        row = json.loads(found[-1].removeprefix("RESULT "))
        rows.append(row)
        print(json.dumps(row), flush=True)
    print_table(rows)
    return 0


def print_table(rows: list[dict[str, Any]]) -> None:
    print(f"\n{'engine':<10} {'models':>6} {'phase':<7} {'wall s':>8} {'s/model':>8} {'stmts':>7} {'st/model':>8} "
          f"{'meta':>6} {'windows':>7} {'fail':>4} {'py cpu':>7} {'jvm cpu':>7} {'rss MB':>7} {'jvm MB':>7} "
          f"{'live MB':>7}  load")
    for row in rows:
        for phase in ("cold", "new", "steady"):
            p = row.get(phase)
            if not p:
                continue
            print(f"{row['engine']:<10} {row['models']:>6} {phase:<7} {p['wall_s']:>8} {p['per_model_s']:>8} "
                  f"{p['statements']:>7} {p['statements'] / row['models']:>8.2f} {p['metadata_calls']:>6} "
                  f"{p['windows']!s:>7} {p['failures']:>4} {p['cpu_s']:>7} {p.get('jvm_cpu_s', '')!s:>7} "
                  f"{row['rss_mb']:>7} {row['jvm_mb']:>7} {p.get('jvm_live_mb')!s:>7}  "
                  f"{row['load_before']} -> {row['load_after']}")


if __name__ == "__main__":
    sys.exit(main())
