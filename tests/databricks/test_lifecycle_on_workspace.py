"""The lifecycle on the real Databricks backends (databricks-sdk, MLflow's UC clients) against the emulator.

Each test builds ``retrain.Lifecycle`` as the daemon does for ``workspace.kind: databricks``
(``dbx_lifecycle.Case``, ``lifecycle_for``) and moves a run on the emulator's clock: the jobs run
there, the retraining job registers its version in the emulated Unity Catalog, aliases move through
the SDK, the endpoint updates IN_PROGRESS then NOT_UPDATING, the monitor refreshes. What the
workspace saw is read from the emulator (runs and idempotency tokens, alias moves, endpoint updates,
requests). Here: the full run, the jobs, validation, promotion and the workspace's faults; endpoint,
rollback, refresh and emergency cases are in ``test_lifecycle_rollout_on_workspace.py``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import pytest
from emu_http import Fault

from retrain import RunState, Step
from retrain.databricks import idempotency_token
from tests.databricks.dbx_lifecycle import (  # the fixtures too: they replace the conftest's
    BATCH_JOB,
    CANARY,
    ENDPOINT,
    FULL,
    FULL_PLAN,
    MODEL,
    RETRAIN_JOB,
    TABLE,
    VALIDATE_JOB,
    Case,
    aliases,
    case,
    emulator,
    environment,
    seed,
    served,
    updates,
)

if TYPE_CHECKING:
    from emu_server import Emulator

pytestmark = pytest.mark.integration
__all__ = ["case", "emulator", "environment"]  # the fixtures imported from dbx_lifecycle are used


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


def test_a_cancel_during_the_job_cancels_the_databricks_run(case: Callable[..., Case], emulator: Emulator) -> None:
    seed(emulator, job_seconds=3600)
    world = case()
    run_id = world.start()
    world.drive(run_id, until=lambda r: r.external.get("job_external_id") is not None)
    world.lifecycle.cancel(run_id, "wrong window", by="on-call")
    run = world.drive(run_id)
    assert run.state is RunState.CANCELLED and "wrong window (by on-call)" in str(run.decision)
    (job_run,) = emulator.jobs.runs.values()
    assert emulator.jobs.state(job_run)[1] == "CANCELED"
    assert emulator.registry.alias_moves == [] and updates(emulator) == []
