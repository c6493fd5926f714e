"""Step ``validate`` on real MLflow versions: each gate decides the run, the verdict becomes version tags."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from lw_support import drive
from lw_world import World, job_outcome, settings

from retrain.runs import RunState

pytestmark = pytest.mark.integration

PLAN = ["retrain", "validate", "promote"]
AUC = {"holdout_roc_auc": 0.80, "champion_holdout_roc_auc": 0.80}
LOSS = {"business_metrics": [{"metric": "expected_loss", "greater_is_better": False}]}


def auc(challenger: float, champion: float = 0.80, **more: float) -> dict[str, float]:
    return {"holdout_roc_auc": challenger, "champion_holdout_roc_auc": champion, **more}


CASES: list[tuple[str, dict[str, Any], dict[str, Any], RunState, str]] = [
    # (name, validate settings, version (metrics, description, tags), outcome, words in the decision)
    ("worse within tolerance", {"tolerance": 0.01}, {"metrics": auc(0.795)}, RunState.SUCCEEDED,
     "improvement -0.0050, required -0.0100"),
    ("worse beyond tolerance", {"tolerance": 0.001}, {"metrics": auc(0.795)}, RunState.REJECTED,
     "not better enough"),
    ("short of min_improvement", {"min_improvement": 0.02}, {"metrics": auc(0.81)}, RunState.REJECTED,
     "improvement +0.0100, required +0.0200"),
    ("meets min_improvement", {"min_improvement": 0.02}, {"metrics": auc(0.83)}, RunState.SUCCEEDED,
     "improvement +0.0300"),
    ("business metric lower is better, higher loss", LOSS,
     {"metrics": auc(0.85, holdout_expected_loss=12.0, champion_holdout_expected_loss=10.0)},
     RunState.REJECTED, "holdout_expected_loss 12.0000 (version 2) vs 10.0000"),
    ("business metric lower is better, lower loss", LOSS,
     {"metrics": auc(0.85, holdout_expected_loss=9.0, champion_holdout_expected_loss=10.0)},
     RunState.SUCCEEDED, "holdout_expected_loss 9.0000 (version 2) vs 10.0000 (champion version 1), "
                         "improvement +1.0000"),
    ("business metric missing", LOSS, {"metrics": auc(0.85)}, RunState.FAILED,
     "no finite holdout_expected_loss"),
    ("below a floor", {"floors": {"roc_auc": {"min": 0.9}}}, {"metrics": auc(0.85)}, RunState.REJECTED,
     "holdout_roc_auc 0.8500 of version 2 is below its floor 0.9"),
    ("above a limit", {"floors": {"log_loss": {"max": 0.5}}}, {"metrics": auc(0.85, holdout_log_loss=0.7)},
     RunState.REJECTED, "holdout_log_loss 0.7000 of version 2 is above its limit 0.5"),
    ("floor metric missing", {"floors": {"log_loss": {"max": 0.5}}}, {"metrics": auc(0.85)}, RunState.FAILED,
     "no finite holdout_log_loss metric for its floor"),
    ("no description", {"require_description": True}, {"metrics": auc(0.85)}, RunState.REJECTED,
     "version 2 has no description"),
    ("a description", {"require_description": True}, {"metrics": auc(0.85), "description": "gbm on 30 days"},
     RunState.SUCCEEDED, "better"),
    ("a required tag missing", {"required_tags": ["owner", "data_window"]},
     {"metrics": auc(0.85), "tags": {"owner": "ml-team"}}, RunState.REJECTED, "lacks required tag(s) data_window"),
    ("required tags present", {"required_tags": ["owner"]}, {"metrics": auc(0.85), "tags": {"owner": "ml"}},
     RunState.SUCCEEDED, "better"),
    ("challenger metric missing", {}, {"metrics": {"champion_holdout_roc_auc": 0.8}}, RunState.FAILED,
     "no finite holdout_roc_auc metric"),
    ("champion metric missing", {}, {"metrics": {"holdout_roc_auc": 0.9}}, RunState.FAILED,
     "no finite champion_holdout_roc_auc metric although version 1 is champion"),
]


@pytest.mark.parametrize(("validate", "version", "outcome", "words"), [case[1:] for case in CASES],
                         ids=[case[0] for case in CASES])
def test_gate(world: World, validate: dict[str, Any], version: dict[str, Any], outcome: RunState,
              words: str) -> None:
    old = world.champion(endpoint=False)
    lifecycle = world.lifecycle(settings(steps=PLAN, validate=validate))
    run_id = world.start(lifecycle)
    new = world.stage(run_id, version["metrics"], description=version.get("description", ""),
                      tags=version.get("tags"))
    run = drive(lifecycle, run_id)
    assert run.state is outcome, run.decision
    tags = world.tags(new)
    # A passed run's decision is the promotion; the verdict is on the version and in the trail.
    verdict = tags.get("lakewarden.validation_reason") if outcome is RunState.SUCCEEDED else run.decision
    assert words in str(verdict)
    if outcome is RunState.SUCCEEDED:
        assert world.aliases() == {"champion": new, "previous_champion": old}
        assert tags["lakewarden.validation"] == "passed"
        assert tags["lakewarden.validation_reason"] in lifecycle.history(run_id)[3].message
    elif outcome is RunState.REJECTED:
        assert world.aliases() == {"champion": old}
        assert tags["lakewarden.validation"] == "rejected"
        assert tags["lakewarden.validation_reason"] == run.decision
    else:  # the job broke its contract: nothing judged, nothing tagged, nothing moved
        assert world.aliases() == {"champion": old}
        assert "lakewarden.validation" not in tags
    assert world.kinds(lifecycle, run_id)[-1] == outcome.value


def test_no_champion_yet_passes_on_the_challenger_alone(world: World) -> None:
    lifecycle = world.lifecycle(settings(steps=PLAN))
    run_id = world.start(lifecycle)
    new = world.stage(run_id, {"holdout_roc_auc": 0.7})
    run = drive(lifecycle, run_id)
    assert run.state is RunState.SUCCEEDED, run.decision
    assert world.aliases() == {"champion": new}
    assert "no champion yet" in world.tags(new)["lakewarden.validation_reason"]


def job(tmp_path: Path, **parameters: str) -> dict[str, Any]:
    return {"module": "lw_fake_job", "timeout": "10m",
            "parameters": {"register": "no", "starts": str(tmp_path / "validate-starts.txt"), **parameters}}


def test_the_validation_job_runs_with_both_versions_before_the_gates(world: World, tmp_path: Path) -> None:
    old = world.champion(endpoint=False)
    dump = tmp_path / "validate.json"
    lifecycle = world.lifecycle(settings(steps=PLAN, validate={"job": job(tmp_path, dump=str(dump))}))
    run_id = world.start(lifecycle)
    new = world.stage(run_id)
    run = drive(lifecycle, run_id)
    assert run.state is RunState.SUCCEEDED, run.decision
    argv = json.loads(dump.read_text())["argv"]
    assert f"--model_version={new}" in argv
    assert f"--champion_version={old}" in argv
    assert f"--lakewarden_run_id={run_id}" in argv
    assert run.external["validate_job_external_id"] == f"{run_id}-validate"
    assert len((tmp_path / "validate-starts.txt").read_text().splitlines()) == 1


def test_a_failing_validation_job_fails_the_run_and_moves_nothing(world: World, tmp_path: Path) -> None:
    old = world.champion(endpoint=False)
    lifecycle = world.lifecycle(settings(steps=PLAN, validate={"job": job(tmp_path, fail="holdout drifted")}))
    run_id = world.start(lifecycle)
    new = world.stage(run_id)
    run = drive(lifecycle, run_id)
    assert run.state is RunState.FAILED
    assert "validation job: local job" in str(run.decision)
    assert "fatal: holdout drifted" in str(run.decision)
    assert world.aliases() == {"champion": old}
    assert "lakewarden.validation" not in world.tags(new)


def test_a_validation_past_its_timeout_cancels_its_job(world: World, tmp_path: Path) -> None:
    world.champion(endpoint=False)
    lifecycle = world.lifecycle(settings(steps=PLAN, validate={"timeout": "20m",
                                                               "job": job(tmp_path, sleep="120")}))
    run_id = world.start(lifecycle)
    world.stage(run_id)
    run = drive(lifecycle, run_id, until=lambda r: "validate_job_external_id" in r.external)
    world.clock.advance(timedelta(minutes=21))
    run = drive(lifecycle, run_id)
    assert run.state is RunState.FAILED
    assert "validation did not finish within 20m" in str(run.decision)
    assert job_outcome(lifecycle.backend, f"{run_id}-validate").message == "cancelled"
