"""Crash-resume: a daemon killed with SIGKILL right after a side effect, before recording it, then restarted.

``crash_driver.py`` is the daemon, a real subprocess on the real backends; it logs every side-effect
call and kills itself after the chosen one. A second driver on the same state database, MLflow and
job directory must finish the run without a second job per run id, a second alias move to the same
version, or a second endpoint update to the same config.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from lw_support import JOBS, REPO, make_version
from lw_world import BASE, ENDPOINT, MODEL, World, entity, merge

from config.lifecycle import LifecycleSettings
from retrain.lifecycle import RUN_ID_TAG
from retrain.runs import RunState

pytestmark = pytest.mark.integration

DRIVER = Path(__file__).with_name("crash_driver.py")
CANARY = {"churn-1": 90, "churn-2": 10}
FULL = {"churn-2": 100}
BEFORE = {"churn-1": 100}


def put(routes: dict[str, int]) -> str:
    return f"put:{json.dumps(routes, sort_keys=True)}"


# (crash label, bad canary, final state, the endpoint's updates in order); one crash point per step.
# Left out as the same mechanism as a case here: the batch job's start (start:run), the verdict
# tags (rewritten with the same value), the emergency's alias move (set_alias:champion=1).
PLAN_CASES: list[tuple[str, bool, RunState, list[str]]] = [
    ("start:run", False, RunState.SUCCEEDED, [put(CANARY), put(FULL)]),  # retrain
    ("start:validate", False, RunState.SUCCEEDED, [put(CANARY), put(FULL)]),  # validate
    ("set_alias:champion=2", False, RunState.SUCCEEDED, [put(CANARY), put(FULL)]),  # promote
    (put(CANARY), False, RunState.SUCCEEDED, [put(CANARY), put(FULL)]),  # rollout: canary
    (put(FULL), False, RunState.SUCCEEDED, [put(CANARY), put(FULL)]),  # rollout: all traffic
    ("refresh", False, RunState.SUCCEEDED, [put(CANARY), put(FULL)]),  # refresh_monitor
    (put(BEFORE), True, RunState.ROLLED_BACK, [put(CANARY), put(BEFORE)]),  # rollback: endpoint
    ("set_alias:champion=1", True, RunState.ROLLED_BACK, [put(CANARY), put(BEFORE)]),  # rollback: alias
]


class Driver:
    def __init__(self, world: World, mlflow_uri: str, job_env: dict[str, str], config: dict[str, Any]) -> None:
        self.world = world
        self.calls = world.tmp / "calls.jsonl"
        self.result = world.tmp / "result.json"
        settings = world.tmp / "settings.json"
        settings.write_text(json.dumps(config))
        self.env = {**os.environ, **job_env, "MLFLOW_DISABLE_TELEMETRY": "true",
                    "PYTHONPATH": os.pathsep.join([str(REPO), str(JOBS)])}
        state_url = world.engine.url.render_as_string(hide_password=False)
        self.argv = [sys.executable, str(DRIVER), f"--state-url={state_url}",
                     f"--jobs-dir={world.jobs_dir}", f"--calls={self.calls}", f"--settings={settings}",
                     f"--result={self.result}"]

    def run(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([*self.argv, *args], env=self.env, capture_output=True, text=True, timeout=150,
                              check=False)

    def crash_then_resume(self, crash: str, *args: str) -> dict[str, Any]:
        first = self.run(f"--crash={crash}", *args)
        assert first.returncode == -9, f"the driver did not crash at {crash}:\n{first.stdout[-3000:]}"
        labels = self.labels()
        assert labels[-2:] == [crash, "CRASH"]
        second = self.run(*args)
        assert second.returncode == 0, f"the restarted driver did not finish:\n{second.stdout[-3000:]}"
        assert "CRASH" not in self.labels()[len(labels):]
        pids = {json.loads(line)["pid"] for line in self.calls.read_text().splitlines()}
        assert len(pids) == 2  # side effects came from both processes
        result: dict[str, Any] = json.loads(self.result.read_text())
        return result

    def labels(self) -> list[str]:
        return [json.loads(line)["label"] for line in self.calls.read_text().splitlines()]


def config(tmp: Path, *, register: bool) -> dict[str, Any]:
    job = {"module": "lw_fake_job", "parameters": {"register": "no", "starts": str(tmp / "validate-starts")}}
    batch = {"module": "lw_fake_job", "parameters": {"register": "no", "starts": str(tmp / "batch-starts")}}
    retrain = {"register": "yes" if register else "no", "starts": str(tmp / "retrain-starts")}
    if register:
        retrain.update(holdout="0.9", champion_holdout="0.8")
    return merge(BASE, {"steps": ["retrain", "validate", "promote", "rollout", "refresh_monitor", "batch_score"],
                        "retrain": {"parameters": retrain}, "validate": {"job": job}, "batch_score": batch})


def invocations(path: Path) -> int:
    return len(path.read_text().splitlines()) if path.exists() else 0


@pytest.mark.parametrize(("crash", "bad", "final", "updates"), PLAN_CASES, ids=[case[0] for case in PLAN_CASES])
def test_a_killed_daemon_resumes_without_repeating_a_side_effect(
    world: World, mlflow_uri: str, job_env: dict[str, str], crash: str, bad: bool, final: RunState,
    updates: list[str],
) -> None:
    tmp = world.tmp
    world.champion()
    register = crash == "start:run"  # this case's job registers its own version (the job contract)
    settings = config(tmp, register=register)
    lifecycle = world.lifecycle(LifecycleSettings.model_validate(settings))
    run_id = world.start(lifecycle)
    if not register:
        world.stage(run_id)
    world.engine.dispose()

    driver = Driver(world, mlflow_uri, job_env, settings)
    result = driver.crash_then_resume(crash, f"--run-id={run_id}", *(["--bad-canary"] if bad else []))
    assert result["state"] == final.value, result

    labels = driver.labels()
    # One job per run id, whichever process asked for it.
    assert invocations(tmp / "retrain-starts") == 1
    assert invocations(tmp / "validate-starts") == 1
    assert invocations(tmp / "batch-starts") == (1 if final is RunState.SUCCEEDED else 0)
    claims = sorted(path.name for path in world.jobs_dir.glob("*.claim"))
    expected = [f"{run_id}.claim", f"{run_id}-validate.claim"]
    assert claims == sorted(expected + ([f"{run_id}-batch.claim"] if final is RunState.SUCCEEDED else []))
    # Each alias move and each endpoint config exactly once, across both processes.
    moves = Counter(label for label in labels if label.startswith("set_alias:"))
    assert moves["set_alias:champion=2"] == 1
    assert all(count == 1 for count in moves.values()), moves
    assert [label for label in labels if label.startswith("put:")] == updates
    assert labels.count("refresh") == (2 if crash == "refresh" else int(final is RunState.SUCCEEDED))

    if final is RunState.SUCCEEDED:
        assert world.served() == FULL
        assert world.aliases() == {"champion": "2", "previous_champion": "1"}
        assert world.tags("2")["lakewarden.validation"] == "passed"
    else:
        assert moves["set_alias:champion=1"] == 1
        assert world.served() == BEFORE
        assert world.aliases() == {"champion": "1"}
        assert "at or above rollback_on high" in world.tags("2")["lakewarden.rolled_back"]
    if register:
        assert world.registry.find_version_by_tag(MODEL, RUN_ID_TAG, run_id) == "2"


def test_a_killed_emergency_resumes_without_flipping_twice(
    world: World, mlflow_uri: str, job_env: dict[str, str]
) -> None:
    crash = put(BEFORE)
    old, new = make_version(world.registry, MODEL), make_version(world.registry, MODEL)
    world.registry.set_alias(MODEL, "champion", new)
    world.registry.set_alias(MODEL, "previous_champion", old)
    world.serving.create(ENDPOINT, [entity(new)], {entity(new).name: 100})
    world.engine.dispose()

    driver = Driver(world, mlflow_uri, job_env, config(world.tmp, register=False))
    result = driver.crash_then_resume(crash, "--emergency")
    assert result["state"] == RunState.ROLLED_BACK.value, result
    labels = driver.labels()
    assert labels.count(put(BEFORE)) == 1
    assert labels.count("set_alias:champion=1") == 1
    assert world.served() == BEFORE
    assert world.aliases() == {"champion": "1"}
    with world.engine.connect() as conn:
        runs = conn.execute(sa.text("select count(*) from retrain_runs")).scalar_one()
    assert runs == 1  # the restart found the emergency run in flight, it did not start another

