"""The kill-point harness on the Databricks backends: a daemon SIGKILLed right before or after each workspace call.

``dbx_lifecycle_driver.py`` is the daemon on the real databricks-sdk and MLflow clients, run as a
fork server (``tests/killpoints.py``: one process per module pays the imports; each life is a
forked child that really dies of SIGKILL), talking to the emulator that runs in this process on
127.0.0.1. A case is a chain: one run, killed at each point in turn (``before:LABEL``: right before
the call; ``LABEL``: right after it answered, before the lifecycle recorded it), each restart
resuming what the one before left, then a life without a kill. The emulator is the witness: one
Databricks run per idempotency token, one move of each alias to each version, one endpoint update
per target config, a cancelled run really cancelled.
"""

from __future__ import annotations

import json
import os
from collections import Counter
from collections.abc import Iterator
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
    BEFORE,
    CANARY,
    ENDPOINT,
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
from tests.killpoints import ForkServer

if TYPE_CHECKING:
    from emu_server import Emulator

pytestmark = pytest.mark.integration
__all__ = ["emulator"]  # the fixture imported from dbx_lifecycle is used

REPO = Path(__file__).resolve().parents[2]
DRIVER = Path(__file__).with_name("dbx_lifecycle_driver.py")
RUN_NOW = "/api/2.2/jobs/run-now$"
REFRESHES = "/refreshes$"  # asking for a monitor refresh, on either monitor API


def put(routes: dict[str, int]) -> str:
    return f"put:{json.dumps(routes, sort_keys=True)}"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ForkServer]:
    env = {k: v for k, v in os.environ.items() if k not in ENV_NAMES}
    env.update(PYTHONPATH=str(REPO), MLFLOW_DISABLE_TELEMETRY="true")
    forks = ForkServer(DRIVER, env, tmp_path_factory.mktemp("dbx-killpoints") / "server.log")
    yield forks
    forks.close()


class Chain:
    """One run of the driver's daemon on ``config``, killed at each point in turn, then finished."""

    def __init__(self, server: ForkServer, emulator: Emulator, tmp: Path, **lifecycle: Any) -> None:
        self.server = server
        self.config = tmp / "lakewarden.yaml"
        self.config.write_text(json.dumps(config(emulator.url, tmp, **lifecycle), indent=1))
        self.calls = tmp / "calls.jsonl"
        self.result = tmp / "result.json"
        self.run_id = ""

    def book(self) -> tuple[RunBook, Any]:
        store = open_state(load_settings(self.config, {}))
        return RunBook(store.engine, {}, utc_now), store.engine

    def start_run(self) -> str:
        """Ask for a run on the state database, as ``lakewarden lifecycle start`` does (no backends)."""
        settings = load_settings(self.config, {})
        store = open_state(settings)
        book = RunBook(store.engine, {m.name: m.lifecycle for m in settings.models}, utc_now)
        now = datetime.now(UTC)
        decision = book.consider(Trigger("churn", "drift: psi 0.4", "high", now - timedelta(hours=1), now))
        store.engine.dispose()
        assert decision.started and decision.run_id is not None, decision
        self.run_id = decision.run_id
        return decision.run_id

    def cancel(self, reason: str) -> None:
        """``lakewarden lifecycle cancel``: the request recorded for the daemon."""
        book, engine = self.book()
        book.cancel(self.run_id, reason, by="alice")
        engine.dispose()

    def argv(self, *args: str) -> list[str]:
        run = [f"--run-id={self.run_id}"] if self.run_id else []
        return [f"--config={self.config}", f"--calls={self.calls}", f"--result={self.result}", *run, *args]

    def kill_at(self, points: list[str], *args: str) -> None:
        for point in points:
            code = self.server.life(self.argv(f"--crash={point}", *args))
            assert code == -9, f"no kill at {point} (exit {code}):\n{self.server.log.read_text()[-3000:]}"
            assert self.labels()[-1] == "CRASH", point

    def finish(self, *args: str) -> dict[str, Any]:
        code = self.server.life(self.argv(*args))
        assert code == 0, f"the last life did not finish (exit {code}):\n{self.server.log.read_text()[-3000:]}"
        result: dict[str, Any] = json.loads(self.result.read_text())
        return result

    def labels(self) -> list[str]:
        return [json.loads(line)["label"] for line in self.calls.read_text().splitlines()]


def test_every_workspace_call_killed_before_and_after_finishes_the_run_once(server: ForkServer, emulator: Emulator,
                                                                           tmp_path: Path) -> None:
    """Around run-now (retrain, validate, batch), the champion move, each endpoint update and the refresh."""
    seed(emulator, job_seconds=0.3, update_seconds=0.3)
    emulator.monitors.refresh_pending = 0.1
    chain = Chain(server, emulator, tmp_path, **FULL_PLAN)
    run_id = chain.start_run()
    chain.kill_at([f"before:start:{RETRAIN_JOB}", f"start:{RETRAIN_JOB}", f"start:{VALIDATE_JOB}",
                   "before:set_alias:champion=2", "set_alias:champion=2", f"before:{put(CANARY)}", put(CANARY),
                   f"before:{put(FULL)}", put(FULL), "before:refresh", "refresh", f"start:{BATCH_JOB}"])
    result = chain.finish()
    assert result["state"] == RunState.SUCCEEDED.value, result

    # One Databricks run per idempotency token, however often a restarted process asked.
    tokens = emulator.jobs.tokens
    retrain_token = idempotency_token(run_id, str(RETRAIN_JOB))
    assert set(tokens) == {retrain_token, idempotency_token(f"{run_id}-validate", str(VALIDATE_JOB)),
                           idempotency_token(f"{run_id}-batch", str(BATCH_JOB))}
    assert len(emulator.jobs.runs) == len(set(tokens.values())) == 3
    asked = Counter(r.body["idempotency_token"] for r in emulator.router.requests("POST", RUN_NOW))
    # Killed after run-now: asked again by the restart, the same Databricks run answers.
    assert asked == {retrain_token: 2, idempotency_token(f"{run_id}-validate", str(VALIDATE_JOB)): 2,
                     idempotency_token(f"{run_id}-batch", str(BATCH_JOB)): 2}
    moves = Counter(emulator.registry.alias_moves)
    assert moves[(MODEL, "champion", 2)] == 1
    assert set(moves.values()) == {1}, moves
    assert aliases(emulator) == {"champion": 2, "previous_champion": 1}
    # Exactly one endpoint update per target config, in order, whether killed before or after it.
    assert updates(emulator) == [CANARY, FULL]
    assert served(emulator) == FULL
    assert emulator.registry.version(MODEL, 2)["tags"]["lakewarden.validation"] == "passed"
    # A refresh killed after it was asked is found running by the restart and followed: exactly one.
    (refresh,) = emulator.monitors.monitors[TABLE].refreshes
    assert emulator.monitors.refresh_state(refresh)[0] == "SUCCESS"
    # Asked once (the life killed right after asking); the restart listed the refreshes and followed it.
    assert len(emulator.router.requests("POST", REFRESHES)) == 1


def test_a_rollback_killed_around_each_endpoint_update_restores_once(server: ForkServer, emulator: Emulator,
                                                                     tmp_path: Path) -> None:
    """A bad canary: killed around the canary's update, the endpoint's restore and the champion's move back."""
    seed(emulator, job_seconds=0.3, update_seconds=0.3)
    chain = Chain(server, emulator, tmp_path)
    chain.start_run()
    chain.kill_at([put(CANARY), f"before:{put(BEFORE)}", put(BEFORE), "before:set_alias:champion=1",
                   "set_alias:champion=1"], "--bad-canary")
    result = chain.finish("--bad-canary")
    assert result["state"] == RunState.ROLLED_BACK.value, result
    assert updates(emulator) == [CANARY, BEFORE]
    assert served(emulator) == BEFORE
    assert aliases(emulator) == {"champion": 1}
    moves = Counter(emulator.registry.alias_moves)
    assert moves[(MODEL, "champion", 2)] == moves[(MODEL, "champion", 1)] == 1  # promoted, then put back once
    assert "at or above rollback_on high" in emulator.registry.version(MODEL, 2)["tags"]["lakewarden.rolled_back"]


def test_a_cancel_after_a_kill_between_run_now_and_its_record_cancels_that_run(server: ForkServer,
                                                                              emulator: Emulator,
                                                                              tmp_path: Path) -> None:
    """The Databricks run exists, the lifecycle never recorded it; the operator cancels; kills around the cancel."""
    seed(emulator, job_seconds=600)
    chain = Chain(server, emulator, tmp_path)
    run_id = chain.start_run()
    chain.kill_at([f"start:{RETRAIN_JOB}"])
    chain.cancel("wrong training data")
    chain.kill_at(["before:cancel", "cancel"])
    result = chain.finish()
    assert result["state"] == RunState.CANCELLED.value, result
    assert chain.labels().count("cancel") == 1  # the restart found the run cancelled: no second cancel
    (run,) = emulator.jobs.runs.values()
    assert emulator.jobs.tokens == {idempotency_token(run_id, str(RETRAIN_JOB)): run.run_id}
    assert emulator.jobs.state(run)[:2] == ("TERMINATED", "CANCELED")
    assert aliases(emulator) == {"champion": 1} and served(emulator) == BEFORE


def test_an_emergency_killed_around_each_workspace_call_flips_once(server: ForkServer, emulator: Emulator,
                                                                   tmp_path: Path) -> None:
    """Killed around the endpoint's move to the previous champion, the champion's move back, the alias removal."""
    seed(emulator, endpoint=False, update_seconds=0.3)
    emulator.registry.add_version(MODEL, run_metrics={"holdout_roc_auc": 0.9})
    emulator.registry.set_alias(MODEL, "champion", 2)
    emulator.registry.set_alias(MODEL, "previous_champion", 1)
    emulator.serving.add(ENDPOINT, MODEL, "2")
    chain = Chain(server, emulator, tmp_path, emergency={"enabled": True})
    chain.kill_at([f"before:{put(BEFORE)}", put(BEFORE), "before:set_alias:champion=1", "set_alias:champion=1",
                   "delete_alias:previous_champion"], "--emergency")
    result = chain.finish("--emergency")
    assert result["state"] == RunState.ROLLED_BACK.value, result
    assert updates(emulator) == [BEFORE] and served(emulator) == BEFORE
    assert aliases(emulator) == {"champion": 1}
    assert Counter(emulator.registry.alias_moves)[(MODEL, "champion", 1)] == 1
    book, engine = chain.book()
    assert len(book.runs("churn")) == 1  # every restart's emergency found the run in flight
    engine.dispose()
