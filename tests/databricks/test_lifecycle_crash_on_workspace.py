"""Crash-resume on the Databricks backends: a daemon SIGKILLed right after a workspace side effect, then restarted.

``dbx_lifecycle_driver.py`` is the daemon, a real subprocess on the real databricks-sdk and MLflow
clients, talking to the emulator that runs in this process on 127.0.0.1. It kills itself after the
chosen call returned and before the lifecycle recorded it; a second driver on the same config and
state database finishes the run. The emulator is the witness: one Databricks run per idempotency
token, one move of each alias to each version, one endpoint update per target config.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from config.basics.clock import utc_now
from config.loader import load_settings
from monitor.app import open_state
from retrain import RunBook, RunState, Trigger
from retrain.databricks import idempotency_token
from tests.databricks.dbx_lifecycle import (
    BATCH_JOB,
    CANARY,
    ENV_NAMES,
    FULL,
    FULL_PLAN,
    MODEL,
    RETRAIN_JOB,
    TABLE,
    VALIDATE_JOB,
    aliases,
    config,
    emulator,
    seed,
    served,
    updates,
)

if TYPE_CHECKING:
    from emu_server import Emulator

pytestmark = pytest.mark.integration
__all__ = ["emulator"]  # the fixture imported from dbx_lifecycle is used

REPO = Path(__file__).resolve().parents[2]
DRIVER = Path(__file__).with_name("dbx_lifecycle_driver.py")


def put(routes: dict[str, int]) -> str:
    return f"put:{json.dumps(routes, sort_keys=True)}"


class Daemon:
    """The driver as a daemon process on ``config``; ``calls`` is the side-effect log of every process."""

    def __init__(self, emulator: Emulator, tmp: Path) -> None:
        self.config = tmp / "lakewarden.yaml"
        self.config.write_text(json.dumps(config(emulator.url, tmp, **FULL_PLAN), indent=1))
        self.calls = tmp / "calls.jsonl"
        self.result = tmp / "result.json"
        env = {k: v for k, v in os.environ.items() if k not in ENV_NAMES}
        self.env = {**env, "PYTHONPATH": str(REPO), "MLFLOW_DISABLE_TELEMETRY": "true"}

    def start_run(self) -> str:
        """Ask for a run on the state database, as ``lakewarden lifecycle start`` does (no backends)."""
        settings = load_settings(self.config, {})
        store = open_state(settings)
        book = RunBook(store.engine, {m.name: m.lifecycle for m in settings.models}, utc_now)
        now = datetime.now(UTC)
        decision = book.consider(Trigger("churn", "drift: psi 0.4", "high", now - timedelta(hours=1), now))
        store.engine.dispose()
        assert decision.started and decision.run_id is not None, decision
        return decision.run_id

    def run(self, run_id: str, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, str(DRIVER), f"--config={self.config}", f"--calls={self.calls}",
                               f"--result={self.result}", f"--run-id={run_id}", *args],
                              env=self.env, capture_output=True, text=True, timeout=120, check=False)

    def labels(self) -> list[str]:
        return [json.loads(line)["label"] for line in self.calls.read_text().splitlines()]

    def pids(self) -> set[int]:
        return {json.loads(line)["pid"] for line in self.calls.read_text().splitlines()}


def recorded(daemon: Daemon, run_id: str) -> dict[str, Any]:
    """What the run row says now (the killed process's last record)."""
    store = open_state(load_settings(daemon.config, {}))
    try:
        run = RunBook(store.engine, {}, utc_now).get(run_id)
    finally:
        store.engine.dispose()
    assert run is not None
    return {"step": run.step.value, **run.external}


# Each crash label, and how the run row shows that the call went out but was never recorded.
CRASHES: list[tuple[str, Any]] = [
    (f"start:{RETRAIN_JOB}", lambda row: row["step"] == "retrain" and "job_external_id" not in row),
    ("set_alias:champion=2", lambda row: row["step"] == "promote" and not row["promotion"].get("champion_moved")),
    (put(CANARY), lambda row: row["step"] == "rollout" and "canary_live_at" not in row),
    (put(FULL), lambda row: row["step"] == "rollout" and "canary_passed" in row),
]


def test_a_daemon_killed_after_each_side_effect_in_turn_finishes_the_run_once(emulator: Emulator,
                                                                              tmp_path: Path) -> None:
    """Killed after run-now, after the champion move, after each endpoint update; five processes in all."""
    seed(emulator, job_seconds=0.5, update_seconds=0.5)
    emulator.monitors.refresh_pending = 0.1
    daemon = Daemon(emulator, tmp_path)
    run_id = daemon.start_run()

    for crash, unrecorded in CRASHES:
        killed = daemon.run(run_id, f"--crash={crash}")
        assert killed.returncode == -9, f"no crash at {crash}:\n{killed.stdout[-3000:]}{killed.stderr[-3000:]}"
        assert daemon.labels()[-2:] == [crash, "CRASH"]
        assert unrecorded(recorded(daemon, run_id)), (crash, recorded(daemon, run_id))
    calls = len(daemon.labels())
    last = daemon.run(run_id)
    assert last.returncode == 0, f"the last driver did not finish:\n{last.stdout[-3000:]}{last.stderr[-3000:]}"
    assert len(daemon.pids()) == len(CRASHES) + 1 and "CRASH" not in daemon.labels()[calls:]
    result: dict[str, Any] = json.loads(daemon.result.read_text())
    assert result["state"] == RunState.SUCCEEDED.value, result

    # One Databricks run per idempotency token, however often a restarted process asked.
    tokens = emulator.jobs.tokens
    retrain_token = idempotency_token(run_id, str(RETRAIN_JOB))
    assert set(tokens) == {retrain_token, idempotency_token(f"{run_id}-validate", str(VALIDATE_JOB)),
                           idempotency_token(f"{run_id}-batch", str(BATCH_JOB))}
    assert len(emulator.jobs.runs) == len(set(tokens.values())) == 3
    asked = Counter(r.body["idempotency_token"] for r in emulator.router.requests("POST", "/api/2.2/jobs/run-now$"))
    assert asked[retrain_token] == 2  # asked again after the first crash: the same Databricks run
    assert all(count == 1 for token, count in asked.items() if token != retrain_token)
    # Exactly one champion move, and no alias moved twice to the same version.
    moves = Counter(emulator.registry.alias_moves)
    assert moves[(MODEL, "champion", 2)] == 1
    assert set(moves.values()) == {1}, moves
    assert aliases(emulator) == {"champion": 2, "previous_champion": 1}
    # Exactly one endpoint update per target config, in order; the new model serves.
    assert updates(emulator) == [CANARY, FULL]
    assert served(emulator) == FULL
    assert [label for label in daemon.labels() if label.startswith("put:")] == [put(CANARY), put(FULL)]
    # Validated once (its verdict tag) and the monitor refreshed once.
    assert emulator.registry.version(MODEL, 2)["tags"]["lakewarden.validation"] == "passed"
    assert len(emulator.monitors.monitors[TABLE].refreshes) == 1
