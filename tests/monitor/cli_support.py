"""Shared set-up for the CLI and daemon tests: a lakehouse with metric tables, a config, a webhook.

``write_dataset`` writes, with the session's local Spark engine, a baseline, an inference table and
its Lakehouse-Monitoring-shaped profile and drift metric tables for every hourly window of a
``DemoScenario`` at once (like ``monitor.demo.runner._feed`` does one window at a time).
``write_config`` writes a YAML config that points ``engine.lakehouse_root`` at that same folder, so a
``lakewarden`` subprocess with its own Spark reads the same Parquet tables.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pyarrow as pa
import sqlalchemy as sa

from monitor.demo import data
from monitor.engines.local_spark import LocalSparkEngine
from monitor.profile import ProfileSpec, write_profile

MODEL = "churn"
# The demo windows are in 2025: the first poll must reach back that far.
LOOKBACK = "3650d"


@dataclass(frozen=True)
class Dataset:
    root: Path  # the lakehouse folder (the engine's root)
    table: str
    baseline_table: str
    scenario: data.DemoScenario


def write_dataset(engine: LocalSparkEngine, schema: str, scenario: data.DemoScenario) -> Dataset:
    """Baseline, inference table and metric tables of every window of ``scenario`` under ``main.<schema>``."""
    table, baseline = f"main.{schema}.churn_inference", f"main.{schema}.churn_baseline"
    engine.write(baseline, scenario.baseline(), mode="overwrite")
    frames = [scenario.frame(index) for index in range(scenario.windows)]
    engine.write(table, pa.concat_tables(frames), mode="overwrite")
    spec = ProfileSpec(table=table, baseline_table=baseline, timestamp_col="timestamp", granularity="1 hour",
                       feature_cols=data.FEATURES, prediction_col="prediction", label_col="label")
    result = write_profile(engine, spec, windows=[scenario.window(i) for i in range(scenario.windows)])
    assert len(result.windows_written) == scenario.windows
    return Dataset(engine.root, table, baseline, scenario)


def small_scenario(windows: int, drift_from: int, drift_until: int) -> data.DemoScenario:
    """Fewer rows than the demo's, enough for a clear drift signal; no drift when drift_from == drift_until."""
    return data.DemoScenario(windows=windows, drift_from=drift_from, drift_until=drift_until,
                             rows_per_window=400, baseline_rows=1200)


def write_config(
    workdir: Path, dataset: Dataset, *, table: str | None = None, receivers: str = "",
    route_receiver: str = "log", shutdown_deadline: str = "20s", spark_conf: Mapping[str, str] | None = None,
) -> Path:
    """A config for one model on ``dataset``; state, MLflow and jobs under ``workdir``; no lifecycle.

    ``receivers`` is YAML for extra entries of the ``receivers:`` list (indented by 2); the route
    sends everything to ``route_receiver`` (default: a file receiver ``log``).
    """
    workdir.mkdir(parents=True, exist_ok=True)
    conf = "".join(f'    "{key}": "{value}"\n' for key, value in (spark_conf or {}).items())
    text = f"""\
engine:
  kind: local_spark
  lakehouse_root: {dataset.root}
{"  spark_conf:" + chr(10) + conf if conf else ""}workspace:
  kind: local
  mlflow_tracking_uri: sqlite:///{workdir}/mlflow.db
  jobs_dir: {workdir}/jobs
state:
  url: sqlite:///{workdir}/state.db
service:
  http: {{host: 127.0.0.1, port: 0}}
  shutdown_deadline: {shutdown_deadline}
  delivery_interval: 0.5s
  lifecycle_interval: 1s
  log_format: json
models:
  - name: {MODEL}
    env: test
    team: ml-platform
    poll_interval: 1s
    sources:
      lakehouse:
        table: {table or dataset.table}
        granularity: 1 hour
        drift_type: BASELINE
        baseline_table: {dataset.baseline_table}
        prediction_column: prediction
        label_column: label
        lookback: {LOOKBACK}
    signals:
      prediction_drift:
        statistic: js_distance
        thresholds: {{low: 0.1, medium: 0.15, high: 0.2, critical: 0.4}}
      feature_drift:
        statistic: js_distance
        thresholds: {{low: 0.1, medium: 0.2, high: 0.3, critical: 0.5}}
        weight: 0.8
        exclude_columns: [model_id, probability]
    risk:
      alert_from: medium
route:
  receiver: {route_receiver}
  group_by: [model]
  group_wait: 0s        # notify as soon as an alert fires: tests do not wait the default 30 s
  group_interval: 1s
  repeat_interval: 24h  # no reminders while a test runs
receivers:
  - name: log
    file_configs:
      - path: {workdir}/alerts.jsonl
{receivers}"""
    path = workdir / "lakewarden.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def state_engine(workdir: Path) -> sa.Engine:
    return sa.create_engine(f"sqlite:///{workdir}/state.db")


def outbox_rows(engine: sa.Engine) -> list[dict[str, Any]]:
    """Every row of ``alerts_outbox`` (none if the daemon has not created the table yet)."""
    if not sa.inspect(engine).has_table("alerts_outbox"):
        return []
    with engine.connect() as conn:
        rows = conn.execute(sa.text("SELECT * FROM alerts_outbox ORDER BY id")).mappings().all()
    out = []
    for row in rows:
        values = dict(row)
        if isinstance(values["payload"], str):
            values["payload"] = json.loads(values["payload"])
        out.append(values)
    return out


def latest_severity(engine: sa.Engine, model: str = MODEL, stream: str = "lakehouse:1 hour") -> str:
    """The severity of the model's assessment of its latest data window, read straight from the state DB."""
    with engine.connect() as conn:
        table = sa.Table("monitor_assessments", sa.MetaData(), autoload_with=conn)
        row = conn.execute(sa.select(table.c.severity).where(table.c.model == model, table.c.stream == stream)
                           .order_by(table.c.window_end.desc()).limit(1)).first()
    assert row is not None, f"no assessment stored for {model}"
    return str(row[0])


def wait_for(done: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if done():
            return
        time.sleep(0.1)
    raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")


def subprocess_env() -> dict[str, str]:
    """The environment for a ``python -m monitor`` child: loopback Spark, no telemetry, no workspace."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("DATABRICKS_")}
    env.update(SPARK_LOCAL_IP="127.0.0.1", PYSPARK_PYTHON=sys.executable, PYSPARK_DRIVER_PYTHON=sys.executable,
               MLFLOW_DISABLE_TELEMETRY="true", DO_NOT_TRACK="1", PYTHONUNBUFFERED="1")
    repo = str(Path(__file__).resolve().parents[2])
    env["PYTHONPATH"] = os.pathsep.join(p for p in (repo, env.get("PYTHONPATH", "")) if p)
    return env


def log_events(text: str) -> list[dict[str, Any]]:
    """The JSON log lines of a daemon's output (other lines, such as the JVM's, are skipped)."""
    events = []
    for line in text.splitlines():
        if line.startswith("{"):
            try:
                events.append(json.loads(line))
            except ValueError:
                continue
    return events


class DaemonProcess:
    """``python -m monitor run --config FILE`` as a real child process, its output in ``log_path``."""

    def __init__(self, config: Path, log_path: Path, env: Mapping[str, str] | None = None) -> None:
        self.log_path = log_path
        self._log = log_path.open("w", encoding="utf-8")
        self.process = subprocess.Popen(  # the child's own Spark reads the same lakehouse folder
            [sys.executable, "-m", "monitor", "run", "--config", str(config)],
            env={**subprocess_env(), **(env or {})}, stdout=self._log, stderr=subprocess.STDOUT, cwd=config.parent,
            start_new_session=True,  # its own process group: what it starts can be found after it exits
        )

    def output(self) -> str:
        if not self._log.closed:
            self._log.flush()
        return self.log_path.read_text(encoding="utf-8", errors="replace")

    def events(self, name: str | None = None) -> list[dict[str, Any]]:
        return [e for e in log_events(self.output()) if name is None or e.get("event") == name]

    def http_port(self, timeout: float = 60) -> int:
        wait_for(lambda: bool(self.events("daemon_started")) or self.process.poll() is not None, timeout,
                 "the daemon_started log line")
        started = self.events("daemon_started")
        assert started, f"the daemon exited early with {self.process.returncode}:\n{self.output()[-3000:]}"
        return int(started[0]["http_port"])

    def readiness(self) -> dict[str, Any]:
        """The body of ``GET /readyz`` (200 or 503)."""
        url = f"http://127.0.0.1:{self.http_port()}/readyz"
        try:
            with urllib.request.urlopen(url, timeout=5) as response:
                body: dict[str, Any] = json.loads(response.read())
        except urllib.error.HTTPError as exc:
            with exc:
                body = json.loads(exc.read())
        return body

    def model_checked(self, model: str = MODEL) -> bool:
        """True once the first poll of ``model`` is over (its source was read or failed)."""
        return model in self.readiness().get("models", {})

    def signal_and_wait(self, signum: int, timeout: float) -> tuple[int, float]:
        """Send ``signum``; the exit code and the seconds it took to exit (fails after ``timeout``)."""
        return signal_and_wait(self.process, signum, timeout, lambda: f"the daemon:\n{self.output()[-3000:]}")

    def close(self) -> None:
        """Kill the child if a test failed before it exited; close the log."""
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=30)
        with contextlib.suppress(OSError):  # whatever it left behind, in its own process group
            os.killpg(self.process.pid, signal.SIGKILL)
        self._log.close()


def _living() -> Iterator[tuple[int, int, int]]:
    """(pid, parent pid, process group) of every living process (from /proc; zombies count as ended)."""
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text(encoding="utf-8").rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if fields[0] not in ("Z", "X"):
            yield int(entry.name), int(fields[1]), int(fields[2])


def process_group(pgid: int) -> list[int]:
    """The living processes of process group ``pgid``."""
    return [pid for pid, _parent, group in _living() if group == pgid]


def descendants(pid: int) -> list[int]:
    """The living descendants of ``pid`` (by parent pid)."""
    parents = {child: parent for child, parent, _group in _living()}
    found, frontier = [], [pid]
    while frontier:
        kids = [child for child, parent in parents.items() if parent in frontier]
        found += kids
        frontier = kids
    return found


def signal_and_wait(process: subprocess.Popen[Any], signum: int, timeout: float,
                    describe: Callable[[], str]) -> tuple[int, float]:
    """Send ``signum`` to ``process``; its exit code and the seconds it took to exit. After ``timeout``
    the test fails with ``describe()`` (what the process is and what it printed)."""
    began = time.monotonic()
    process.send_signal(signum)
    try:
        code = process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        raise AssertionError(f"no exit within {timeout:.0f} s of signal {signum}: {describe()}") from None
    return code, time.monotonic() - began


@contextmanager
def daemon_process(config: Path, log_path: Path, env: Mapping[str, str] | None = None) -> Iterator[DaemonProcess]:
    daemon = DaemonProcess(config, log_path, env)
    try:
        yield daemon
    finally:
        daemon.close()


@dataclass
class Received:
    path: str
    payload: dict[str, Any]
    headers: Mapping[str, str]
    status: int


@dataclass
class WebhookServer:
    """A loopback webhook whose answer can be switched: ``status`` after ``delay`` seconds."""

    status: int = 200
    delay: float = 0.0
    received: list[Received] = field(default_factory=list)
    in_progress: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)
    port: int = 0

    def set(self, status: int, delay: float = 0.0) -> None:
        with self.lock:
            self.status, self.delay = status, delay

    def serving(self) -> bool:
        with self.lock:
            return self.in_progress > 0

    def requests(self) -> list[Received]:
        with self.lock:
            return list(self.received)

    def url(self, path: str = "/hook") -> str:
        return f"http://127.0.0.1:{self.port}{path}"


@contextmanager
def webhook_server() -> Iterator[WebhookServer]:
    hook = WebhookServer()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            with hook.lock:
                hook.in_progress += 1
                status, delay = hook.status, hook.delay
            try:
                time.sleep(delay)
                with hook.lock:
                    hook.received.append(Received(self.path, json.loads(body), dict(self.headers), status))
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()
            finally:
                with hook.lock:
                    hook.in_progress -= 1

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    hook.port = int(server.server_address[1])
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield hook
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
