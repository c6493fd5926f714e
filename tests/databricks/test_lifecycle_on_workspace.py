"""The lifecycle on the real Databricks backends (databricks-sdk, MLflow's UC clients) against the emulator.

Each test builds ``retrain.Lifecycle`` as the daemon does for ``workspace.kind: databricks``
(``dbx_lifecycle.lifecycle_for``) and moves a run on the emulator's clock: the jobs run there, the
retraining job registers its version in the emulated Unity Catalog, aliases move through the SDK,
the endpoint updates IN_PROGRESS then NOT_UPDATING, the monitor refreshes. What the workspace saw is
read from the emulator (its runs and idempotency tokens, alias moves, endpoint updates, requests).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from emu_http import Fault

from config.settings import Settings
from retrain import RunRecord, RunState, Step, Trigger
from retrain.databricks import idempotency_token
from tests.databricks.dbx_lifecycle import (
    BATCH_JOB,
    ENDPOINT,
    ENV_NAMES,
    FULL_PLAN,
    MODEL,
    RETRAIN_JOB,
    TABLE,
    VALIDATE_JOB,
    CalmWindows,
    aliases,
    config,
    emu_now,
    lifecycle_for,
    running_emulator,
    seed,
    served,
    updates,
)

if TYPE_CHECKING:
    from emu_server import Emulator

pytestmark = pytest.mark.integration

CANARY = {"churn-1": 90, "churn-2": 10}
FULL = {"churn-2": 100}


@pytest.fixture
def emulator(tmp_path: Path) -> Iterator[Emulator]:
    """This module's workspace needs no SQL: no Spark session behind it."""
    yield from running_emulator(tmp_path / "lakehouse")


@pytest.fixture(autouse=True)
def environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """No workspace credentials from outside; what the daemon exports for MLflow is undone afterwards."""
    for name in ENV_NAMES:
        monkeypatch.setenv(name, "")
        monkeypatch.delenv(name)


class Case:
    """One model's lifecycle on the emulated workspace, with the emulator's clock as the lifecycle's."""

    def __init__(self, emulator: Emulator, work: Path, **lifecycle: Any) -> None:
        self.emu = emulator
        self.clock = emu_now(emulator)
        self.verdicts = CalmWindows(self.clock)
        self.settings = Settings.model_validate(config(emulator.url, work, **lifecycle))
        self.lifecycle, self.remote = lifecycle_for(self.settings, self.clock, self.verdicts)

    def start(self) -> str:
        now = self.clock()
        decision = self.lifecycle.consider(Trigger("churn", "drift: psi on payment_method 0.41", "high",
                                                   now - timedelta(hours=1), now))
        assert decision.started and decision.run_id is not None, decision
        return decision.run_id

    def drive(self, run_id: str, until: Callable[[RunRecord], bool] | None = None,
              step: float = 600.0) -> RunRecord:
        """``advance``, then move the workspace's clock ``step`` seconds, until the run ends (or ``until``)."""
        for _ in range(60):
            self.lifecycle.advance()
            run = self.lifecycle.get(run_id)
            assert run is not None
            if until(run) if until else run.state.final:
                return run
            self.emu.clock.advance(step)
        raise AssertionError(f"run {run_id} stuck at {run.state.value} / {run.step.value}: {run.external}")

    def history(self, run_id: str) -> str:
        return "\n".join(f"{e.kind}: {e.message}" for e in self.lifecycle.history(run_id))

    def moves(self, alias: str) -> list[int]:
        """Versions ``alias`` was pointed at through the workspace APIs, in order."""
        return [version for model, name, version in self.emu.registry.alias_moves if (model, name) == (MODEL, alias)]

    def run_now(self) -> list[Any]:
        return self.emu.router.requests("POST", "/api/2.2/jobs/run-now$")


@pytest.fixture
def case(emulator: Emulator, tmp_path: Path) -> Callable[..., Case]:
    def make(**lifecycle: Any) -> Case:
        return Case(emulator, tmp_path, **lifecycle)
    return make


def test_a_full_run_retrains_validates_promotes_rolls_out_refreshes_and_scores(case: Callable[..., Case],
                                                                               emulator: Emulator) -> None:
    seed(emulator)
    world = case(**FULL_PLAN)
    run_id = world.start()
    run = world.drive(run_id)
    assert run.state is RunState.SUCCEEDED, world.history(run_id)
    assert run.model_version == "2"

    # The jobs: one Databricks run per idempotency token, the token from the lifecycle run and the job.
    tokens = emulator.jobs.tokens
    assert set(tokens) == {idempotency_token(run_id, str(RETRAIN_JOB)),
                           idempotency_token(f"{run_id}-validate", str(VALIDATE_JOB)),
                           idempotency_token(f"{run_id}-batch", str(BATCH_JOB))}
    assert len(emulator.jobs.runs) == len(set(tokens.values())) == len(world.run_now()) == 3
    retrain_run = emulator.jobs.runs[tokens[idempotency_token(run_id, str(RETRAIN_JOB))]]
    assert retrain_run.parameters["lakewarden_run_id"] == run_id
    assert retrain_run.parameters["model_name"] == MODEL and retrain_run.parameters["catalog"] == "main"
    batch_run = emulator.jobs.runs[tokens[idempotency_token(f"{run_id}-batch", str(BATCH_JOB))]]
    assert batch_run.parameters["model_version"] == "2"

    # Validation read the metrics through MLflow's UC and tracking clients and tagged the version.
    tags = emulator.registry.version(MODEL, 2)["tags"]
    assert tags["lakewarden.run_id"] == run_id and tags["lakewarden.validation"] == "passed"
    assert emulator.router.requests("GET", "/api/2.0/mlflow/runs/get$")
    # Promotion through the SDK: each alias once, champion moved to 2 exactly once, challenger gone.
    assert aliases(emulator) == {"champion": 2, "previous_champion": 1}
    assert world.moves("champion") == [2] and world.moves("challenger") == [2]
    assert world.moves("previous_champion") == [1]
    # Rollout: the canary, then all traffic; the endpoint's config went 1 -> 2 -> 3.
    assert updates(emulator) == [CANARY, FULL]
    assert served(emulator) == FULL
    assert emulator.serving.endpoints[ENDPOINT].config["config_version"] == 3
    # The monitor refreshed once, through the legacy monitor API, and succeeded.
    (refresh,) = emulator.monitors.monitors[TABLE].refreshes
    assert emulator.monitors.refresh_state(refresh)[0] == "SUCCESS"
    assert f"monitor refreshed ({refresh.refresh_id})" in world.history(run_id)
    kinds = [event.kind for event in world.lifecycle.history(run_id)]
    assert kinds[:2] == ["decision", "started"] and kinds[-1] == "succeeded"
    assert run.external["canary_passed"].startswith("2 windows below high")
    assert any("canary: version 2 serves 10%" in event.message for event in world.lifecycle.history(run_id))


@pytest.mark.parametrize(("outcome", "says"), [("FAILED", "ended RUN_EXECUTION_ERROR: Task train failed"),
                                               ("TIMEDOUT", "ended RUN_EXECUTION_ERROR: Run timed out after 7200")])
def test_a_failed_or_timed_out_job_fails_the_run_and_changes_nothing(case: Callable[..., Case], emulator: Emulator,
                                                                     outcome: str, says: str) -> None:
    seed(emulator)
    emulator.jobs.jobs[RETRAIN_JOB].outcome = outcome
    world = case()
    run_id = world.start()
    run = world.drive(run_id)
    assert run.state is RunState.FAILED and says in str(run.decision), run.decision
    assert "databricks job" in str(run.decision) and "/run/" in str(run.decision)  # the run's page
    assert str(run.decision).count(says.rsplit(": ", 1)[-1]) == 1  # the workspace's reason, said once
    assert emulator.registry.alias_moves == [] and updates(emulator) == []
    assert aliases(emulator) == {"champion": 1} and sorted(emulator.registry.models[MODEL].versions) == [1]
    assert [event.kind for event in world.lifecycle.history(run_id)][-1] == "failed"


def test_a_job_past_the_step_timeout_is_cancelled_in_the_workspace(case: Callable[..., Case],
                                                                  emulator: Emulator) -> None:
    seed(emulator, job_seconds=7200)
    world = case()
    run_id = world.start()
    run = world.drive(run_id)
    assert run.state is RunState.FAILED
    assert "timed out after 30m; cancelled" in str(run.decision), run.decision
    (job_run,) = emulator.jobs.runs.values()
    assert job_run.canceled_at is not None
    (cancel,) = emulator.router.requests("POST", "/api/2.2/jobs/runs/cancel$")
    assert cancel.body == {"run_id": job_run.run_id}
    assert emulator.jobs.state(job_run)[1] == "CANCELED"
    assert emulator.registry.alias_moves == [] and updates(emulator) == []


def test_a_challenger_without_its_metrics_fails_validation(case: Callable[..., Case], emulator: Emulator) -> None:
    seed(emulator, metrics={"f1": 0.9})
    world = case()
    run_id = world.start()
    run = world.drive(run_id)
    assert run.state is RunState.FAILED
    assert "version 2 has no finite" in str(run.decision) and "roc_auc" in str(run.decision), run.decision
    assert "lakewarden.validation" not in emulator.registry.version(MODEL, 2)["tags"]
    assert emulator.registry.alias_moves == [] and updates(emulator) == []


def test_a_champion_moved_by_someone_else_during_the_job_voids_the_comparison(case: Callable[..., Case],
                                                                              emulator: Emulator) -> None:
    seed(emulator)
    emulator.registry.add_version(MODEL, run_metrics={"holdout_roc_auc": 0.95})  # version 2, by hand
    world = case()
    run_id = world.start()
    world.drive(run_id, until=lambda r: r.external.get("job_external_id") is not None)
    # Someone promotes version 2 by hand while the job runs (through the SDK, as the UI would).
    world.remote.registry.set_alias(MODEL, "champion", "2")
    run = world.drive(run_id)
    assert run.state is RunState.FAILED and run.model_version == "3"
    assert "alias champion of main.ml.churn moved from version 1 to version 2" in str(run.decision)
    assert aliases(emulator) == {"champion": 2}  # left where that someone put it
    assert world.moves("champion") == [2] and world.moves("challenger") == [] and updates(emulator) == []


def test_an_endpoint_already_updating_at_rollout_start_is_waited_for(case: Callable[..., Case],
                                                                    emulator: Emulator) -> None:
    seed(emulator)
    world = case()
    run_id = world.start()
    world.drive(run_id, until=lambda r: r.external.get("job_external_id") is not None)
    # Someone else resizes the endpoint (same model and routes) with a slow update.
    from databricks.sdk.service.serving import Route, ServedEntityInput, TrafficConfig

    client = world.remote.serving._client  # the daemon's own SDK client: another caller, same API
    emulator.serving.update_seconds = 3600
    client.serving_endpoints.update_config(
        ENDPOINT, served_entities=[ServedEntityInput(name="churn-1", entity_name=MODEL, entity_version="1",
                                                     workload_size="Medium", scale_to_zero_enabled=False)],
        traffic_config=TrafficConfig(routes=[Route(served_entity_name="churn-1", traffic_percentage=100)]))
    run = world.drive(run_id, until=lambda r: r.step is Step.ROLLOUT, step=60)
    for _ in range(3):
        world.lifecycle.advance()
        emulator.clock.advance(60)
    run = world.lifecycle.get(run_id)
    assert run is not None and run.state is RunState.RUNNING and run.step is Step.ROLLOUT
    assert "rollout_snapshot" not in run.external and len(updates(emulator)) == 1  # only theirs
    assert aliases(emulator) == {"champion": 2, "previous_champion": 1}

    emulator.clock.advance(3600)  # their update ends
    emulator.serving.update_seconds = 2.0
    run = world.drive(run_id)
    assert run.state is RunState.SUCCEEDED, world.history(run_id)
    assert run.external["rollout_snapshot"]["config_version"] == 2  # the rollout started from their config
    assert updates(emulator)[1:] == [CANARY, FULL]
    new = emulator.serving.endpoints[ENDPOINT].config["served_entities"]
    assert [(e["name"], e["workload_size"]) for e in new] == [("churn-2", "Medium")]


def test_a_missing_endpoint_fails_the_rollout_and_puts_the_aliases_back(case: Callable[..., Case],
                                                                       emulator: Emulator) -> None:
    seed(emulator, endpoint=False)
    world = case()
    run_id = world.start()
    run = world.drive(run_id)
    assert run.state is RunState.FAILED, world.history(run_id)
    assert "Serving endpoint 'churn' does not exist" in str(run.decision) or "does not exist" in str(run.decision)
    assert aliases(emulator) == {"champion": 1}
    assert world.moves("champion") == [2, 1]  # promoted, then put back once
    assert "lakewarden.rolled_back" in emulator.registry.version(MODEL, 2)["tags"]
    assert "rollback" in [event.kind for event in world.lifecycle.history(run_id)]


def test_a_failed_canary_update_rolls_back_and_leaves_the_endpoint_as_it_was(case: Callable[..., Case],
                                                                            emulator: Emulator) -> None:
    seed(emulator)
    emulator.serving.endpoints[ENDPOINT].fail_next = True
    world = case()
    run_id = world.start()
    run = world.drive(run_id)
    assert run.state is RunState.FAILED, world.history(run_id)
    assert "canary: endpoint churn: the update ended UPDATE_FAILED" in str(run.decision), run.decision
    endpoint = emulator.serving.endpoints[ENDPOINT]
    assert updates(emulator) == [CANARY]  # the failed one; nothing to restore
    assert served(emulator) == {"churn-1": 100} and endpoint.config["config_version"] == 1
    assert aliases(emulator) == {"champion": 1} and world.moves("champion") == [2, 1]
    assert "UPDATE_FAILED" in emulator.registry.version(MODEL, 2)["tags"]["lakewarden.rolled_back"]


def test_throttling_and_unavailability_within_the_retry_budget_do_not_fail_a_step(case: Callable[..., Case],
                                                                                  emulator: Emulator) -> None:
    seed(emulator)
    throttled = emulator.faults.inject(Fault(path="/api/2.2/jobs/run-now$", status=429,
                                             error_code="REQUEST_LIMIT_EXCEEDED", retry_after=1))
    unavailable = emulator.faults.inject(Fault(path=f"/serving-endpoints/{ENDPOINT}/config$", method="PUT",
                                               status=503, retry_after=1))
    world = case()
    run_id = world.start()
    run = world.drive(run_id)
    assert run.state is RunState.SUCCEEDED, world.history(run_id)
    assert throttled.hits == 1 and unavailable.hits == 1
    assert len(world.run_now()) == 2 and len(emulator.jobs.runs) == 1  # the SDK's retry: same token, same run
    assert len(emulator.router.requests("PUT", f"/serving-endpoints/{ENDPOINT}/config$")) == 3
    assert updates(emulator) == [CANARY, FULL]
    assert "failed (" not in world.history(run_id)


def test_a_server_error_counts_an_attempt_and_a_later_advance_finishes_the_run(case: Callable[..., Case],
                                                                              emulator: Emulator) -> None:
    seed(emulator)
    fault = emulator.faults.inject(Fault(path="/aliases/champion$", method="PUT", status=500,
                                         error_code="INTERNAL_ERROR", message="injected internal error"))
    world = case()
    run_id = world.start()
    run = world.drive(run_id, until=lambda r: r.attempts > 0)
    assert fault.hits == 1  # not retried by the SDK
    assert run.state is RunState.RUNNING and run.step is Step.PROMOTE and run.attempts == 1
    assert aliases(emulator) == {"champion": 1, "challenger": 2, "previous_champion": 1}
    run = world.drive(run_id)
    assert run.state is RunState.SUCCEEDED, world.history(run_id)
    assert world.moves("champion") == [2] and world.moves("challenger") == [2]
    assert aliases(emulator) == {"champion": 2, "previous_champion": 1}
    assert updates(emulator) == [CANARY, FULL]


def test_a_bad_canary_window_restores_the_endpoint_snapshot_and_the_aliases(case: Callable[..., Case],
                                                                           emulator: Emulator) -> None:
    seed(emulator)
    world = case()
    world.verdicts.severity = "high"
    run_id = world.start()
    run = world.drive(run_id)
    assert run.state is RunState.ROLLED_BACK, world.history(run_id)
    assert "had quality at high" in str(run.decision) and "at or above rollback_on high" in str(run.decision)
    assert updates(emulator) == [CANARY, {"churn-1": 100}]  # the canary, then the snapshot re-issued once
    assert served(emulator) == {"churn-1": 100}
    assert emulator.serving.endpoints[ENDPOINT].config["config_version"] == 3
    assert aliases(emulator) == {"champion": 1} and world.moves("champion") == [2, 1]
    assert emulator.monitors.monitors[TABLE].refreshes == []


def test_a_failed_monitor_refresh_fails_the_run_and_the_new_model_keeps_serving(case: Callable[..., Case],
                                                                               emulator: Emulator) -> None:
    seed(emulator)
    emulator.monitors.refresh_outcomes.append(("FAILED", "Table main.ml.churn_inference is missing column ts"))
    world = case()
    run_id = world.start()
    run = world.drive(run_id)
    assert run.state is RunState.FAILED, world.history(run_id)
    assert "refresh ended failed: Table main.ml.churn_inference is missing column ts" in str(run.decision)
    assert "the new model keeps serving" in str(run.decision)
    assert served(emulator) == FULL and aliases(emulator) == {"champion": 2, "previous_champion": 1}
    assert "rollback" not in [event.kind for event in world.lifecycle.history(run_id)]


BEFORE = {"churn-1": 100}


@pytest.mark.parametrize("how", ["update_timeout", "cancel"])
def test_a_rollback_waits_for_the_canary_update_in_flight_then_restores_the_snapshot(
        case: Callable[..., Case], emulator: Emulator, how: str) -> None:
    """While an update is IN_PROGRESS the endpoint's config is the old one: that is not a finished rollback."""
    seed(emulator, update_seconds=3600 if how == "update_timeout" else 300)
    world = case()
    run_id = world.start()
    world.drive(run_id, until=lambda r: "rollout_put" in r.external, step=60)
    if how == "cancel":
        world.lifecycle.cancel(run_id, "on-call stops the rollout", by="test")
    else:  # past update_timeout the run rolls back while the canary still updates; it lands 5 minutes later
        run = world.drive(run_id, until=lambda r: r.step is Step.ROLLBACK or r.state.final, step=60)
        assert run.step is Step.ROLLBACK and world.remote.serving.read(ENDPOINT).updating, world.history(run_id)
        emulator.serving.update_seconds = 300
    run = world.drive(run_id, step=60)
    assert run.state is (RunState.FAILED if how == "update_timeout" else RunState.CANCELLED), world.history(run_id)
    assert "rolled back: endpoint churn serves main.ml.churn v1 100% again" in str(run.decision)
    assert updates(emulator) == [CANARY, BEFORE]  # the canary landed first, then the snapshot went back
    emulator.clock.advance(3600)
    assert world.remote.serving.read(ENDPOINT).config_update == "NOT_UPDATING"
    assert served(emulator) == BEFORE and aliases(emulator) == {"champion": 1}


def test_a_rollback_behind_an_update_that_never_ends_is_incomplete(case: Callable[..., Case],
                                                                  emulator: Emulator) -> None:
    seed(emulator, update_seconds=10**6)
    world = case()
    run_id = world.start()
    run = world.drive(run_id, step=60)
    assert run.state is RunState.FAILED
    assert str(run.decision).startswith("ROLLBACK INCOMPLETE: endpoint churn still updating after 10m"), run.decision
    assert updates(emulator) == [CANARY] and world.remote.serving.read(ENDPOINT).updating


@pytest.mark.parametrize(("step", "says"), [
    (60.0, "step refresh_monitor failed (5/5): DiscoveryError: starting a refresh of the monitor on "
           "main.ml.churn_inference"),
    (600.0, "the monitor refresh (it could not start) did not finish within 30m; the new model keeps serving")])
def test_a_monitor_refresh_that_cannot_start_never_rolls_back_the_new_model(case: Callable[..., Case],
                                                                           emulator: Emulator, step: float,
                                                                           says: str) -> None:
    """A refresh someone else runs (409 on every try) exhausts the attempts, or the step's timeout, after the
    full rollout: that ends the run, it does not take the validated, fully rolled-out model off the endpoint."""
    from emu_monitors import Refresh

    seed(emulator)
    emulator.monitors.refresh_running = 10**7
    emulator.monitors.monitors[TABLE].refreshes.append(Refresh(1, emulator.clock.now()))  # theirs, long
    world = case()
    run_id = world.start()
    world.drive(run_id, until=lambda r: r.step is Step.REFRESH_MONITOR or r.state.final)
    run = world.drive(run_id, step=step)  # 60 s: five tries within the step's 30m; 600 s: three
    assert run.state is RunState.FAILED, world.history(run_id)
    assert str(run.decision).startswith(says), run.decision
    assert served(emulator) == FULL and updates(emulator) == [CANARY, FULL]
    assert aliases(emulator) == {"champion": 2, "previous_champion": 1} and world.moves("champion") == [2]
    assert "rollback" not in [event.kind for event in world.lifecycle.history(run_id)]
