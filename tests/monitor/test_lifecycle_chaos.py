"""Chaos with real processes: three replicas on one PostgreSQL drive lifecycle runs while they are
SIGKILLed; each step's job is started once (``monitor.leases``, the job backends' idempotent start).

Six models each have a lifecycle run (retrain, validate with a job, promote, batch_score: three jobs
per run, real detached subprocesses of the local job backend). Each replica
(``lifecycle_worker.py``) moves the runs of the models it holds with the daemon's own handler. The
runs wait behind the kill switch until the models are spread (two per replica); then one replica
kills itself right after its first job start, before recording it, and the test SIGKILLs the replica
holding the most models twice more while jobs run, restarting each. At the end every run succeeded
as a kill-free run does (the staged version is champion, validation passed), and every job of every
run was started exactly once: one line per (run, job) in the jobs' own start logs, one claim file each.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from config import load_settings
from config.basics.clock import utc_now
from monitor.app import lifecycle_models, open_state
from monitor.leases import LeaseStore
from retrain import RUN_ID_TAG, VALIDATION_TAG, MlflowRegistry, RunBook, RunState, Trigger
from tests.monitor.lifecycle_support import mlflow_db
from tests.retrain.lw_support import JOBS, make_version

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
WORKER = Path(__file__).with_name("lifecycle_worker.py")
MODELS = tuple(f"m{i}" for i in range(1, 7))
REPLICAS = ("r1", "r2", "r3")
TTL_S = 2
KINDS = ("retrain", "validate", "batch")  # the three jobs of a run, by their start logs
GOOD = {"holdout_roc_auc": 0.9}


def wait_until(condition: Callable[[], bool], timeout: float, what: str) -> float:
    started = time.monotonic()
    while not condition():
        assert time.monotonic() - started < timeout, f"timed out after {timeout}s waiting for {what}"
        time.sleep(0.05)
    return time.monotonic() - started


def job(tmp: Path, kind: str, gate: str = "") -> str:
    return (f"{{module: lw_fake_job, parameters: {{register: 'no', sleep: '0.3', gate: '{gate}', "
            f"starts: '{tmp / f'{kind}-starts'}'}}}}")


def write_config(tmp: Path, url: str) -> Path:
    lifecycle = (f"{{enabled: true, steps: [retrain, validate, promote, batch_score], retrain: {job(tmp, 'retrain')}, "
                 f"validate: {{job: {job(tmp, 'validate')}}}, batch_score: {job(tmp, 'batch', str(tmp / 'open'))}")
    models = ", ".join(f"{{name: {m}, sources: {{lakehouse: {{table: main.ml.{m}}}}}, "
                       f"lifecycle: {lifecycle}, registered_model: {m}}}}}" for m in MODELS)
    config = tmp / "lakewarden.yaml"
    config.write_text(f"""
models: [{models}]
state: {{url: "{url}"}}
workspace: {{kind: local, mlflow_tracking_uri: "{mlflow_db(tmp)}", jobs_dir: "{tmp}/jobs"}}
route: {{receiver: log}}
receivers: [{{name: log, file_configs: [{{path: "{tmp}/alerts.jsonl"}}]}}]
service: {{lease_ttl: {TTL_S}s}}
""", encoding="utf-8")
    return config


class Replicas:
    def __init__(self, config: Path, leases: LeaseStore) -> None:
        self.config = config
        self.leases = leases
        self.processes: dict[str, subprocess.Popen[str]] = {}
        self.takeovers: list[float] = []
        self.kills = 0
        self.in_flight: list[int] = []  # at each kill: how many runs had not ended

    def start(self, replica: str, crash_after: int = 0) -> None:
        env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), str(JOBS)]), "MLFLOW_DISABLE_TELEMETRY": "true"}
        with (self.config.parent / f"{replica}.log").open("a", encoding="utf-8") as log:
            self.processes[replica] = subprocess.Popen(
                [sys.executable, str(WORKER), str(self.config), replica, str(crash_after)],
                cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=log, text=True)

    def ready(self) -> None:
        for replica, process in self.processes.items():
            if process.stdout is not None and not process.stdout.closed:
                line = process.stdout.readline().strip()
                assert line == "started", f"{replica}: {line!r}\n{self.log(replica)[-3000:]}"
                process.stdout.close()

    def holders(self) -> dict[str, str]:
        now = datetime.now(UTC)
        return {h.name.removeprefix("model:"): str(h.holder) for h in self.leases.holdings("model:")
                if h.holder is not None and h.expires_at > now}

    def takeover(self, victim: str, held: list[str], restart: bool = False) -> None:
        """Wait until other replicas hold every model ``victim`` held (it is dead); restart it if asked."""
        self.processes[victim].wait(timeout=10)
        self.kills += 1

        def moved() -> bool:
            now = self.holders()
            return all(now.get(m) not in (None, victim) for m in held)

        self.takeovers.append(wait_until(moved, TTL_S * 4, f"the models {held} of {victim} to move"))
        if restart:
            self.start(victim)

    def kill_busiest(self, book: RunBook) -> None:
        """SIGKILL the live replica holding the most models (not restarted: each start imports MLflow)."""
        holders = self.holders()
        victim = max(REPLICAS, key=lambda r: sum(h == r for h in holders.values()))
        held = [m for m, h in holders.items() if h == victim]
        assert held and self.processes[victim].poll() is None, holders
        self.in_flight.append(len(book.unfinished()))
        os.kill(self.processes[victim].pid, signal.SIGKILL)
        self.takeover(victim, held)

    def log(self, replica: str) -> str:
        return (self.config.parent / f"{replica}.log").read_text(encoding="utf-8")

    def stop(self) -> None:
        for process in self.processes.values():
            if process.poll() is None:
                process.kill()
                process.wait(timeout=10)


def starts(tmp: Path, kind: str) -> Counter[str]:
    """How many times each run's ``kind`` job started (the job appends a line per start)."""
    path = tmp / f"{kind}-starts"
    lines = path.read_text(encoding="utf-8").splitlines() if path.exists() else []
    return Counter(re.search(r"--lakewarden_run_id=(\S+)", line).group(1) for line in lines)  # type: ignore[union-attr]


def test_three_replicas_killed_while_driving_lifecycle_runs_start_each_job_once(tmp_path: Path, pg_url: str) -> None:
    config = write_config(tmp_path, pg_url)
    settings = load_settings(config)
    store = open_state(settings)
    book = RunBook(store.engine, lifecycle_models(settings), utc_now)
    end = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
    runs = {}
    for model in MODELS:
        decision = book.consider(Trigger(model, "drift: chaos", "high", end - timedelta(hours=1), end))
        assert decision.started and decision.run_id is not None, decision
        runs[model] = decision.run_id
    book.pause("the replicas spread the models first", by="test")  # runs recorded, none moves yet
    registry = MlflowRegistry(settings.workspace.mlflow_tracking_uri)
    staged = {m: make_version(registry, m, GOOD, {RUN_ID_TAG: runs[m]}) for m in MODELS}  # what each retrain registers

    replicas = Replicas(config, LeaseStore(store.engine))
    try:
        replicas.start("r1", crash_after=1)  # dies right after its first job start, before recording it
        for replica in REPLICAS[1:]:
            replicas.start(replica)
        replicas.ready()
        wait_until(lambda: sorted(replicas.holders().values()) == sorted(REPLICAS * 2), 30,
                   "two models per replica (the fair share)")
        held = [m for m, h in replicas.holders().items() if h == "r1"]
        replicas.in_flight.append(len(MODELS))
        book.resume("go", by="test")
        replicas.takeover("r1", held, restart=True)  # r1 killed itself after a job start, and comes back
        assert "crashing after the start of" in replicas.log("r1")
        wait_until(lambda: bool(starts(tmp_path, "validate")), 60, "a validation job to start")
        replicas.kill_busiest(book)
        replicas.ready()  # r1 is back: someone is left to take over the last kill's models
        # The batch jobs wait for the test's go: every run is at its last step, its job running.
        wait_until(lambda: len(starts(tmp_path, "batch")) == len(MODELS), 60, "every batch job to start")
        replicas.kill_busiest(book)
        (tmp_path / "open").touch()
        wait_until(lambda: all(run.state.final for run in book.runs()), 90, "every run to end")
    finally:
        replicas.stop()

    print(f"lifecycle chaos: {replicas.kills} kills, takeover in {[round(s, 2) for s in replicas.takeovers]} s "
          f"(lease TTL {TTL_S} s); runs in flight at each kill: {replicas.in_flight}")
    finals = {run.model: (run.state, run.decision) for run in book.runs()}
    assert all(state is RunState.SUCCEEDED for state, _ in finals.values()), finals
    assert len(book.runs()) == len(MODELS)  # no second run of any model
    for kind in KINDS:  # each job of each run started exactly once, whoever asked for it
        assert starts(tmp_path, kind) == Counter(runs.values()), kind
    claims = sorted(path.name for path in (tmp_path / "jobs").glob("*.claim"))
    assert claims == sorted(f"{run}{suffix}.claim" for run in runs.values() for suffix in ("", "-validate", "-batch"))
    for model in MODELS:  # as a kill-free run ends: the staged version champion, its validation passed
        assert registry.get_alias(model, "champion") == staged[model]
        assert registry.version_info(model, staged[model]).tags[VALIDATION_TAG] == "passed"
    assert replicas.kills == 3 and min(replicas.in_flight) > 0 and max(replicas.takeovers) < TTL_S * 2
    store.engine.dispose()
