"""The kill-point harness on the local backends: a daemon SIGKILLed right before or right after each side effect.

``crash_driver.py`` is the daemon (real MLflow, the local job backend, local serving records), run
as a fork server (``tests/killpoints.py``): one process per module pays the imports, each life of
the daemon is a forked child that really dies of SIGKILL at its kill point (``--crash=LABEL``:
after the call returned, before the lifecycle recorded it; ``--crash=before:LABEL``: right before
it). A case is a chain: one run, killed at each point in turn, each restart resuming what the one
before left, and a last life without a kill. Each case ends in the state a run without kills
reaches, with every side effect done once: job starts (the job's ``--starts`` file and its claim),
model versions, alias moves, endpoint updates.
"""

from __future__ import annotations

import json
import os
from collections import Counter
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from lw_support import JOBS, REPO, make_version
from lw_world import BASE, ENDPOINT, MODEL, World, entity, job_outcome, merge

from config.basics.clock import utc_now
from config.lifecycle import LifecycleSettings
from retrain.backends.local import LocalJobBackend
from retrain.lifecycle import RUN_ID_TAG
from retrain.runs import RunState
from tests.killpoints import ForkServer

pytestmark = pytest.mark.integration

DRIVER = Path(__file__).with_name("crash_driver.py")
CANARY = {"churn-1": 90, "churn-2": 10}
FULL = {"churn-2": 100}
BEFORE = {"churn-1": 100}


def put(routes: dict[str, int]) -> str:
    return f"put:{json.dumps(routes, sort_keys=True)}"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, mlflow_template: Path) -> Iterator[ForkServer]:
    env = {**os.environ, "MLFLOW_DISABLE_TELEMETRY": "true", "PYTHONPATH": os.pathsep.join([str(REPO), str(JOBS)]),
           "LW_MLFLOW_TEMPLATE": str(mlflow_template)}
    forks = ForkServer(DRIVER, env, tmp_path_factory.mktemp("killpoints") / "server.log")
    yield forks
    forks.close()


class Chain:
    """One run of the driver's daemon, killed at each point in turn, then finished by a life without a kill."""

    def __init__(self, server: ForkServer, world: World, mlflow_uri: str, config: dict[str, Any]) -> None:
        self.server = server
        self.world = world
        self.calls = world.tmp / "calls.jsonl"
        self.result = world.tmp / "result.json"
        settings = world.tmp / "settings.json"
        settings.write_text(json.dumps(config))
        state_url = world.engine.url.render_as_string(hide_password=False)
        self.argv = [f"--state-url={state_url}", f"--jobs-dir={world.jobs_dir}",
                     f"--calls={self.calls}", f"--settings={settings}", f"--result={self.result}",
                     f"--mlflow-uri={mlflow_uri}"]

    def kill_at(self, points: list[str], *args: str) -> None:
        for point in points:
            code = self.server.life([*self.argv, f"--crash={point}", *args])
            assert code == -9, f"no kill at {point} (exit {code}):\n{self.server.log.read_text()[-3000:]}"
            assert self.labels()[-1] == "CRASH", point

    def finish(self, *args: str) -> dict[str, Any]:
        code = self.server.life([*self.argv, *args])
        assert code == 0, f"the last life did not finish (exit {code}):\n{self.server.log.read_text()[-3000:]}"
        result: dict[str, Any] = json.loads(self.result.read_text())
        return result

    def labels(self) -> list[str]:
        return [json.loads(line)["label"] for line in self.calls.read_text().splitlines()]


def config(tmp: Path, **changes: Any) -> dict[str, Any]:
    """Every step; the jobs log each start and register nothing (the tests stage the version a retrain registers)."""
    job = {"module": "lw_fake_job", "parameters": {"register": "no", "starts": str(tmp / "validate-starts")}}
    batch = {"module": "lw_fake_job", "parameters": {"register": "no", "starts": str(tmp / "batch-starts")}}
    retrain = {"register": "no", "starts": str(tmp / "retrain-starts")}
    base = merge(BASE, {"steps": ["retrain", "validate", "promote", "rollout", "refresh_monitor", "batch_score"],
                        "retrain": {"parameters": retrain}, "validate": {"job": job}, "batch_score": batch})
    return merge(base, changes)


def starts(path: Path) -> int:
    return len(path.read_text().splitlines()) if path.exists() else 0


def versions(world: World) -> list[str]:
    return sorted(str(v.version) for v in world.registry.client.search_model_versions(f"name='{MODEL}'"))


def once(labels: list[str], prefix: str) -> None:
    moves = Counter(label for label in labels if label.startswith(prefix))
    assert moves and set(moves.values()) == {1}, moves


def new_run(world: World, settings: dict[str, Any], *, stage: bool) -> str:
    lifecycle = world.lifecycle(LifecycleSettings.model_validate(settings))
    run_id = world.start(lifecycle)
    if stage:
        world.stage(run_id)
    world.engine.dispose()
    return run_id


def test_every_step_killed_before_and_after_its_side_effect_succeeds_once(
    server: ForkServer, world: World, mlflow_uri: str
) -> None:
    """Retrain (before the start, runner spawned but unconfirmed, after), validate, promote, rollout, refresh, batch."""
    world.champion()
    settings = config(world.tmp)
    run_id = new_run(world, settings, stage=True)
    chain = Chain(server, world, mlflow_uri, settings)
    chain.kill_at(["before:start:run", "launched:run", "start:run", "start:validate", "set_alias:challenger=2",
                   "before:set_alias:champion=2", "set_alias:champion=2", f"before:{put(CANARY)}", put(CANARY),
                   put(FULL), "refresh", "start:batch"],
                  f"--run-id={run_id}")
    result = chain.finish(f"--run-id={run_id}")
    assert result["state"] == RunState.SUCCEEDED.value, result

    labels = chain.labels()
    # One job per run id, whichever life asked for it: the job's own start log and one claim each.
    assert [starts(world.tmp / f"{name}-starts") for name in ("retrain", "validate", "batch")] == [1, 1, 1]
    assert sorted(p.name for p in world.jobs_dir.glob("*.claim")) == sorted(
        [f"{run_id}.claim", f"{run_id}-validate.claim", f"{run_id}-batch.claim"])
    assert versions(world) == ["1", "2"]  # the staged version, found by its run id tag after every restart
    assert world.registry.find_version_by_tag(MODEL, RUN_ID_TAG, run_id) == "2"
    once(labels, "set_alias:")
    assert [label for label in labels if label.startswith("put:")] == [put(CANARY), put(FULL)]
    # A refresh killed after it was asked is asked again (a monitor refresh recomputes, harmless).
    assert labels.count("refresh") == 2
    assert world.served() == FULL
    assert world.aliases() == {"champion": "2", "previous_champion": "1"}
    assert world.tags("2")["lakewarden.validation"] == "passed"


def test_a_rollback_killed_half_way_finishes_once(server: ForkServer, world: World, mlflow_uri: str) -> None:
    """A bad canary: killed after the canary, before and after the endpoint restore (half-way), the alias and tag."""
    world.champion()
    settings = config(world.tmp)
    run_id = new_run(world, settings, stage=True)
    chain = Chain(server, world, mlflow_uri, settings)
    chain.kill_at([put(CANARY), put(BEFORE), "set_alias:champion=1", "tag:lakewarden.rolled_back"],
                  f"--run-id={run_id}", "--bad-canary")
    result = chain.finish(f"--run-id={run_id}", "--bad-canary")
    assert result["state"] == RunState.ROLLED_BACK.value, result
    labels = chain.labels()
    assert [label for label in labels if label.startswith("put:")] == [put(CANARY), put(BEFORE)]
    assert labels.count("set_alias:champion=1") == 1 and labels.count("set_alias:champion=2") == 1
    assert world.served() == BEFORE
    assert world.aliases() == {"champion": "1"}
    assert "at or above rollback_on high" in world.tags("2")["lakewarden.rolled_back"]
    assert starts(world.tmp / "batch-starts") == 0


def test_a_cancel_killed_around_the_job_cancel_cancels_once(server: ForkServer, world: World, mlflow_uri: str) -> None:
    """Cancel asked while the job runs: killed before and after the job's cancel; the job is stopped once."""
    world.champion()
    gate = world.tmp / "never"
    settings = config(world.tmp, retrain={"parameters": {"gate": str(gate)}})
    run_id = new_run(world, settings, stage=False)
    chain = Chain(server, world, mlflow_uri, settings)
    chain.kill_at(["before:cancel:run", "cancel:run"], f"--run-id={run_id}", "--cancel=wrong model")
    result = chain.finish(f"--run-id={run_id}")
    assert result["state"] == RunState.CANCELLED.value, result
    labels = chain.labels()
    assert labels.count("cancel:run") == 1  # the restart read the job as stopped: no second cancel
    assert starts(world.tmp / "retrain-starts") == 1
    assert json.loads((world.jobs_dir / f"{run_id}.exit").read_text())["signal"] == "SIGTERM"
    assert versions(world) == ["1"] and world.served() == BEFORE and world.aliases() == {"champion": "1"}


def test_a_cancel_asked_after_a_kill_between_the_jobs_start_and_its_record_stops_that_job(
    server: ForkServer, world: World, mlflow_uri: str
) -> None:
    """The job runs, the run does not know it (killed before the record); the operator cancels meanwhile."""
    world.champion()
    settings = config(world.tmp, retrain={"parameters": {"gate": str(world.tmp / "never")}})
    run_id = new_run(world, settings, stage=False)
    chain = Chain(server, world, mlflow_uri, settings)
    chain.kill_at(["start:run"], f"--run-id={run_id}")
    world.lifecycle(LifecycleSettings.model_validate(settings)).cancel(run_id, "wrong data", by="alice")  # the CLI
    world.engine.dispose()
    result = chain.finish(f"--run-id={run_id}")
    assert result["state"] == RunState.CANCELLED.value, result
    assert chain.labels().count("cancel:run") == 1
    assert starts(world.tmp / "retrain-starts") == 1
    # The job the killed daemon started, never recorded, is stopped (it would wait on its gate for minutes).
    assert job_outcome(LocalJobBackend(workdir=world.jobs_dir, env=world.job_env), run_id).message == "cancelled"
    assert json.loads((world.jobs_dir / f"{run_id}.exit").read_text())["signal"] == "SIGTERM"


def test_an_emergency_killed_at_each_move_flips_once(server: ForkServer, world: World, mlflow_uri: str) -> None:
    old, new = make_version(world.registry, MODEL), make_version(world.registry, MODEL)
    world.registry.set_alias(MODEL, "champion", new)
    world.registry.set_alias(MODEL, "previous_champion", old)
    world.serving.create(ENDPOINT, [entity(new)], {entity(new).name: 100})
    world.engine.dispose()
    chain = Chain(server, world, mlflow_uri, config(world.tmp))
    chain.kill_at([f"before:{put(BEFORE)}", put(BEFORE), "set_alias:champion=1", "delete_alias:previous_champion"],
                  "--emergency")
    result = chain.finish("--emergency")
    assert result["state"] == RunState.ROLLED_BACK.value, result
    labels = chain.labels()
    assert labels.count(put(BEFORE)) == 1 and labels.count("set_alias:champion=1") == 1
    assert world.served() == BEFORE
    assert world.aliases() == {"champion": "1"}
    with world.engine.connect() as conn:
        assert conn.execute(sa.text("select count(*) from retrain_runs")).scalar_one() == 1


def test_max_runs_per_day_counts_a_run_whose_daemon_was_killed_once(
    server: ForkServer, world: World, mlflow_uri: str
) -> None:
    """Killed before and after the trigger created its run: one run, and the budget still holds afterwards."""
    world.champion()
    settings = merge(config(world.tmp), {"steps": ["retrain", "validate", "promote"],
                                                         "trigger": {"max_runs_per_day": 1, "cooldown": "1s"}})
    chain = Chain(server, world, mlflow_uri, settings)
    chain.kill_at(["before:consider", "consider:started", "start:run"], "--consider")
    result = chain.finish("--consider")
    # The staged-free job registered nothing: the run fails; what matters is that it is the only one.
    assert result["state"] == RunState.FAILED.value, result
    assert chain.labels().count("consider:started") == 1
    assert starts(world.tmp / "retrain-starts") == 1
    lifecycle = world.lifecycle(LifecycleSettings.model_validate(settings))
    with world.engine.connect() as conn:
        assert conn.execute(sa.text("select count(*) from retrain_runs")).scalar_one() == 1
    world.clock.set(utc_now() + timedelta(minutes=1))
    from lw_world import TRIGGER

    later = TRIGGER.__class__(MODEL, "drift again", "high", utc_now(), utc_now() + timedelta(hours=1))
    decision = lifecycle.consider(later)
    assert decision.reason.value == "daily_budget", decision
