"""The lifecycle end to end: real subprocess jobs, real MLflow on SQLite, a fake clock for timeouts."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from lw_support import T0, drive, make_version, run_demo_train

from config.basics.clock import SimulatedClock
from config.lifecycle import LifecycleSettings
from retrain.backends.base import JobState
from retrain.backends.local import LocalJobBackend
from retrain.guardrails import StartReason
from retrain.lifecycle import Lifecycle
from retrain.registry import MlflowRegistry
from retrain.runs import RunState, Step
from retrain.trigger import Trigger

pytestmark = pytest.mark.integration

TRIGGER = Trigger("churn", "drift: psi on payment_method 0.4", "high", T0, T0 + timedelta(days=1))
MakeLifecycle = Callable[..., Lifecycle]


@pytest.fixture
def registry(mlflow_uri: str) -> MlflowRegistry:
    return MlflowRegistry(mlflow_uri)


@pytest.fixture
def make_lifecycle(
    engine: sa.Engine, clock: SimulatedClock, tmp_path: Path, job_env: dict[str, str], mlflow_uri: str
) -> MakeLifecycle:
    """A new Lifecycle (and backend and registry) on the same state, as after a daemon restart."""

    def make(
        module: str = "lw_fake_job", timeout: str = "10m", enabled: bool = True, **parameters: str
    ) -> Lifecycle:
        settings = LifecycleSettings.model_validate(
            {
                "enabled": enabled,
                "registered_model": "churn",
                "retrain": {"module": module, "parameters": parameters, "timeout": timeout},
            }
        )
        backend = LocalJobBackend(workdir=tmp_path / "jobs", env=job_env)
        return Lifecycle(engine, {"churn": settings}, backend, MlflowRegistry(mlflow_uri), clock)

    return make


def aliases(registry: MlflowRegistry) -> dict[str, str]:
    return {str(k): str(v) for k, v in registry.client.get_registered_model("churn").aliases.items()}


def with_champion(registry: MlflowRegistry) -> str:
    version = make_version(registry, "churn")
    registry.set_alias("churn", "champion", version)
    return version


def start(lifecycle: Lifecycle) -> str:
    decision = lifecycle.consider(TRIGGER)
    assert decision.reason is StartReason.STARTED, decision
    assert decision.run_id is not None
    return decision.run_id


def test_demo_job_retrains_validates_and_promotes(
    make_lifecycle: MakeLifecycle,
    registry: MlflowRegistry,
    lakehouse: Path,
    job_env: dict[str, str],
    tmp_path: Path,
) -> None:
    artifacts = str(tmp_path / "artifacts")
    initial = run_demo_train(
        job_env, "--model_name=churn", f"--lakehouse_root={lakehouse}", f"--artifact_location={artifacts}"
    )
    assert initial.returncode == 0, initial.stderr
    assert json.loads(initial.stdout.splitlines()[-1])["version"] == "1"
    assert aliases(registry) == {"champion": "1"}

    lifecycle = make_lifecycle(
        "monitor.demo.train", lakehouse_root=str(lakehouse), artifact_location=artifacts
    )
    run_id = start(lifecycle)
    began = time.monotonic()
    run = drive(lifecycle, run_id)
    took = time.monotonic() - began

    assert run.state is RunState.SUCCEEDED, run.decision
    assert run.model_version == "2"
    assert aliases(registry) == {"champion": "2", "previous_champion": "1"}
    version = registry.client.get_model_version("churn", "2")
    assert version.tags["lakewarden.run_id"] == run_id
    assert version.tags["lakewarden.validation"] == "passed"
    metrics = registry.version_metrics("churn", "2")
    assert metrics["holdout_roc_auc"] > metrics["champion_holdout_roc_auc"]
    run_params = registry.client.get_run(str(version.run_id)).data.params
    assert run_params["holdout_source"] == "recent"  # the drifted, labelled rows of the window
    assert run_params["champion_version"] == "1"
    assert [event.kind for event in lifecycle.history(run_id)] == [
        "decision",
        "started",
        "step",
        "step",
        "succeeded",
    ]
    assert "version 1 kept as previous_champion" in str(run.decision)
    assert took < 30


def test_demo_job_reports_a_missing_table(job_env: dict[str, str], tmp_path: Path) -> None:
    result = run_demo_train(job_env, "--model_name=churn", f"--lakehouse_root={tmp_path / 'nowhere'}")
    assert result.returncode == 2
    assert "table main.demo.churn_training not found" in result.stderr


def test_worse_challenger_is_rejected_and_no_alias_moves(
    make_lifecycle: MakeLifecycle, registry: MlflowRegistry
) -> None:
    champion = with_champion(registry)
    lifecycle = make_lifecycle(holdout="0.61", champion_holdout="0.83")
    run = drive(lifecycle, start(lifecycle))
    assert run.state is RunState.REJECTED
    assert "not better enough" in str(run.decision)
    assert "0.6100" in str(run.decision)
    assert aliases(registry) == {"champion": champion}
    assert registry.client.get_model_version("churn", "2").tags["lakewarden.validation"] == "rejected"
    assert lifecycle.history(run.run_id)[-1].kind == "rejected"


def test_a_failing_job_fails_the_run_with_its_log_tail(make_lifecycle: MakeLifecycle) -> None:
    lifecycle = make_lifecycle(fail="no training data")
    run = drive(lifecycle, start(lifecycle))
    assert run.state is RunState.FAILED
    assert "exited with code 3" in str(run.decision)
    assert "fatal: no training data" in str(run.decision)


@pytest.mark.parametrize(
    ("parameters", "words"),
    [
        ({"register": "no"}, "registered no version of churn tagged lakewarden.run_id="),
        ({"holdout": "0.9"}, "no finite champion_holdout_roc_auc"),
    ],
)
def test_a_job_that_breaks_the_contract_fails_the_run(
    make_lifecycle: MakeLifecycle, registry: MlflowRegistry, parameters: dict[str, str], words: str
) -> None:
    champion = with_champion(registry)
    lifecycle = make_lifecycle(**parameters)
    run = drive(lifecycle, start(lifecycle))
    assert run.state is RunState.FAILED
    assert words in str(run.decision)
    assert aliases(registry) == {"champion": champion}


def test_a_job_past_its_timeout_is_cancelled_and_the_run_fails(
    make_lifecycle: MakeLifecycle, clock: SimulatedClock
) -> None:
    lifecycle = make_lifecycle(timeout="10m", sleep="120")
    run_id = start(lifecycle)
    lifecycle.advance()
    clock.advance(timedelta(minutes=10))
    assert [event.kind for event in lifecycle.advance()] == []  # at the limit, still allowed
    clock.advance(timedelta(seconds=1))
    events = lifecycle.advance()
    assert [event.kind for event in events] == ["failed"]
    run = lifecycle.get(run_id)
    assert run is not None
    assert run.state is RunState.FAILED
    assert "timed out after 10m; cancelled" in str(run.decision)
    deadline = time.monotonic() + 30
    while (status := lifecycle.backend.status(run_id)).state is JobState.RUNNING:
        assert time.monotonic() < deadline, "the cancelled job is still running"
        time.sleep(0.05)
    assert status.message == "cancelled"


def test_a_restarted_lifecycle_resumes_without_starting_the_job_again(
    make_lifecycle: MakeLifecycle, registry: MlflowRegistry, tmp_path: Path
) -> None:
    champion = with_champion(registry)
    gate, starts = tmp_path / "gate", tmp_path / "starts.txt"
    params = {"holdout": "0.9", "champion_holdout": "0.8", "gate": str(gate), "starts": str(starts)}
    first = make_lifecycle(**params)
    run_id = start(first)
    assert [event.kind for event in first.advance()] == ["started"]

    second = make_lifecycle(**params)  # the daemon restarted while the job runs
    assert second.advance() == []
    run = second.get(run_id)
    assert run is not None
    assert (run.state, run.step) == (RunState.RUNNING, Step.RETRAIN)
    gate.touch()
    run = drive(second, run_id)
    assert run.state is RunState.SUCCEEDED, run.decision
    assert aliases(registry) == {"champion": "2", "previous_champion": champion}
    assert len(starts.read_text().splitlines()) == 1


def test_a_job_started_before_a_crash_is_not_started_twice(
    make_lifecycle: MakeLifecycle, registry: MlflowRegistry, tmp_path: Path
) -> None:
    with_champion(registry)
    starts = tmp_path / "starts.txt"
    params = {"holdout": "0.9", "champion_holdout": "0.8", "starts": str(starts)}
    lifecycle = make_lifecycle(**params)
    run_id = start(lifecycle)
    # The daemon started the job, then died before recording it: the run row still says "retrain".
    lifecycle.backend.start(
        run_id, "lw_fake_job", {**params, "lakewarden_run_id": run_id, "model_name": "churn"}
    )
    run = drive(make_lifecycle(**params), run_id)
    assert run.state is RunState.SUCCEEDED, run.decision
    assert len(starts.read_text().splitlines()) == 1


def test_champion_moved_by_someone_else_fails_the_run_and_keeps_their_champion(
    make_lifecycle: MakeLifecycle, registry: MlflowRegistry, tmp_path: Path
) -> None:
    with_champion(registry)
    gate = tmp_path / "gate"
    lifecycle = make_lifecycle(holdout="0.9", champion_holdout="0.8", gate=str(gate))
    run_id = start(lifecycle)
    lifecycle.advance()
    theirs = make_version(registry, "churn")
    registry.set_alias("churn", "champion", theirs)  # someone promotes by hand meanwhile
    gate.touch()
    run = drive(lifecycle, run_id)
    assert run.state is RunState.FAILED
    assert f"moved from version 1 to version {theirs} while the job ran" in str(run.decision)
    assert aliases(registry) == {"champion": theirs}


def test_disabling_the_lifecycle_cancels_a_running_job(make_lifecycle: MakeLifecycle, tmp_path: Path) -> None:
    lifecycle = make_lifecycle(gate=str(tmp_path / "gate"))
    run_id = start(lifecycle)
    lifecycle.advance()
    restarted = make_lifecycle(enabled=False)
    assert [event.kind for event in restarted.advance()] == ["cancelled"]
    run = restarted.get(run_id)
    assert run is not None
    assert "disabled" in str(run.decision)
    deadline = time.monotonic() + 30
    while (status := restarted.backend.status(run_id)).state is JobState.RUNNING:
        assert time.monotonic() < deadline
        time.sleep(0.05)
    assert status.message == "cancelled"
