"""Cancelling a run in each step, and the kill switch: no start, no step, but rollbacks finish."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from pathlib import Path

import pytest
from lw_support import drive
from lw_world import TRIGGER, World, entity, job_outcome, messages, settings

from retrain.guardrails import StartReason
from retrain.ports import RefreshState
from retrain.runs import RunState, Step

pytestmark = pytest.mark.integration


def test_cancel_during_retrain_cancels_the_job(world: World, tmp_path: Path) -> None:
    old = world.champion()
    lifecycle = world.lifecycle(settings(retrain={"parameters": {"gate": str(tmp_path / "never")}}))
    run_id = world.start(lifecycle)
    assert [event.kind for event in lifecycle.advance()] == ["started"]
    lifecycle.cancel(run_id, "wrong window", by="alice")
    events = lifecycle.advance()
    assert [event.kind for event in events] == ["cancelled"], messages(events)
    run = lifecycle.get(run_id)
    assert run is not None
    assert run.decision == "cancelled: wrong window (by alice)"
    assert job_outcome(lifecycle.backend, run_id).message == "cancelled"
    assert world.aliases() == {"champion": old}
    assert world.served() == {entity(old).name: 100}
    assert world.kinds(lifecycle, run_id) == ["decision", "started", "cancel", "cancelled"]


def test_cancel_during_validation_cancels_the_validation_job(world: World, tmp_path: Path) -> None:
    old = world.champion()
    job = {"module": "lw_fake_job", "parameters": {"register": "no", "gate": str(tmp_path / "never")}}
    lifecycle = world.lifecycle(settings(validate={"job": job}))
    run_id = world.start(lifecycle)
    world.stage(run_id)
    drive(lifecycle, run_id, until=lambda run: "validate_job_external_id" in run.external)
    lifecycle.cancel(run_id, "not now", by="bob")
    run = drive(lifecycle, run_id)
    assert run.state is RunState.CANCELLED
    assert job_outcome(lifecycle.backend, f"{run_id}-validate").message == "cancelled"
    assert world.aliases() == {"champion": old}


def test_cancel_during_the_canary_rolls_back(world: World) -> None:
    old = world.champion()
    before = world.endpoint()
    lifecycle = world.lifecycle()
    run_id = world.start(lifecycle)
    new = world.stage(run_id)
    world.canary_live(lifecycle, run_id)
    lifecycle.cancel(run_id, "saw bad numbers", by="carol")
    events = lifecycle.advance()
    assert [event.kind for event in events] == ["rollback", "cancelled"], messages(events)
    run = lifecycle.get(run_id)
    assert run is not None
    assert run.state is RunState.CANCELLED
    after = world.endpoint()
    assert (after.entities, dict(after.routes)) == (before.entities, dict(before.routes))
    assert world.aliases() == {"champion": old}
    assert world.tags(new)["lakewarden.rolled_back"] == "cancelled: saw bad numbers (by carol)"


def test_cancel_after_the_full_rollout_does_not_roll_back(world: World) -> None:
    world.champion()
    world.refresher.state = RefreshState.RUNNING
    lifecycle = world.lifecycle()
    run_id = world.start(lifecycle)
    new = world.stage(run_id)
    world.canary_live(lifecycle, run_id)
    world.windows("low", "low")
    drive(lifecycle, run_id, until=lambda r: r.step is Step.REFRESH_MONITOR)
    assert world.refresher.started == ["churn"]
    lifecycle.cancel(run_id, "refresh takes too long", by="dave")
    events = lifecycle.advance()
    assert [event.kind for event in events] == ["cancelled"], messages(events)
    assert world.served() == {entity(new).name: 100}  # the new model serves and passed its canary
    assert world.aliases()["champion"] == new
    assert "lakewarden.rolled_back" not in world.tags(new)


def test_a_finished_run_cannot_be_cancelled(world: World) -> None:
    world.champion()
    lifecycle = world.lifecycle(settings(steps=["retrain", "validate"]))
    run_id = world.start(lifecycle)
    world.stage(run_id)
    assert drive(lifecycle, run_id).state is RunState.SUCCEEDED
    with pytest.raises(ValueError, match="already ended succeeded"):
        lifecycle.cancel(run_id, "late", by="erin")
    with pytest.raises(KeyError):
        lifecycle.cancel("0" * 32, "unknown", by="erin")


def test_paused_no_run_starts_and_no_step_is_taken_until_resumed(world: World, tmp_path: Path) -> None:
    old = world.champion()
    gate = tmp_path / "gate"
    lifecycle = world.lifecycle(settings(retrain={"parameters": {"gate": str(gate)}}))
    run_id = world.start(lifecycle)
    new = world.stage(run_id)
    assert [event.kind for event in lifecycle.advance()] == ["started"]
    lifecycle.pause("incident 42", by="oncall")
    gate.touch()
    assert job_outcome(lifecycle.backend, run_id).state.value == "succeeded"

    assert lifecycle.switch().paused
    other = lifecycle.consider(replace(TRIGGER, reason="schedule: weekly"))
    assert other.reason is StartReason.PAUSED
    assert "paused by oncall: incident 42" in other.message
    for _ in range(3):
        world.clock.advance(timedelta(minutes=1))
        assert lifecycle.advance() == []
    run = lifecycle.get(run_id)
    assert run is not None
    assert (run.state, run.step) == (RunState.RUNNING, Step.RETRAIN)  # its job ended; the run waits
    assert "lakewarden.validation" not in world.tags(new)
    assert world.aliases() == {"champion": old}

    # A restarted daemon is still paused: the switch lives in the state database.
    restarted = world.lifecycle(settings(retrain={"parameters": {"gate": str(gate)}}))
    assert restarted.switch().paused
    assert restarted.advance() == []
    restarted.resume("incident over", by="oncall")
    run = world.canary_live(restarted, run_id)
    assert run.step is Step.ROLLOUT
    world.windows("low", "low")
    assert drive(restarted, run_id).state is RunState.SUCCEEDED
    assert world.served() == {entity(new).name: 100}


def test_paused_a_cancelled_canary_still_rolls_back(world: World) -> None:
    old = world.champion()
    lifecycle = world.lifecycle()
    run_id = world.start(lifecycle)
    world.stage(run_id)
    world.canary_live(lifecycle, run_id)
    lifecycle.pause("freeze", by="oncall")
    world.windows("low", "low")  # a passed canary takes no step while paused
    assert lifecycle.advance() == []
    assert world.served() != {entity(old).name: 100}

    lifecycle.cancel(run_id, "freeze", by="oncall")
    events = lifecycle.advance()
    assert [event.kind for event in events] == ["rollback", "cancelled"], messages(events)
    assert world.served() == {entity(old).name: 100}
    assert world.aliases() == {"champion": old}
