"""Emergency fallback: all traffic back to the previous champion at once, never back and forth."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from lw_support import T0, drive, make_version
from lw_world import ENDPOINT, MODEL, World, entity, job_outcome, settings

from retrain.guardrails import StartReason
from retrain.runs import RunState
from retrain.trigger import Trigger

pytestmark = pytest.mark.integration


def critical(hours: int = 0) -> Trigger:
    start = T0 + timedelta(hours=hours)
    return Trigger(MODEL, "emergency: risk 97 on prediction drift", "critical", start, start + timedelta(hours=1))


def promoted_before(world: World, *, endpoint: bool = True) -> tuple[str, str]:
    """Version 2 is champion and serves; version 1 is the previous champion (an earlier promotion)."""
    old, new = make_version(world.registry, MODEL), make_version(world.registry, MODEL)
    world.registry.set_alias(MODEL, "champion", new)
    world.registry.set_alias(MODEL, "previous_champion", old)
    if endpoint:
        world.serving.create(ENDPOINT, [entity(new)], {entity(new).name: 100})
    return old, new


def test_emergency_moves_all_traffic_and_the_champion_back(world: World) -> None:
    old, new = promoted_before(world)
    lifecycle = world.lifecycle()
    decision = lifecycle.emergency(critical())
    assert decision.reason is StartReason.STARTED, decision
    run = lifecycle.get(str(decision.run_id))
    assert run is not None
    assert run.state is RunState.ROLLED_BACK, run.decision
    assert f"all traffic of endpoint {ENDPOINT} moved to version {old} (previous champion)" in str(run.decision)
    assert world.served() == {entity(old).name: 100}
    assert world.endpoint().config_version == 2
    assert world.aliases() == {"champion": old}  # previous_champion removed: no way back to version 2
    assert world.tags(new)["lakewarden.rolled_back"] == "emergency: emergency: risk 97 on prediction drift"
    assert world.kinds(lifecycle, run.run_id) == ["decision", "rolled_back"]


def test_a_second_emergency_fails_loudly_instead_of_flipping_back(world: World) -> None:
    old, _ = promoted_before(world)
    lifecycle = world.lifecycle()
    assert lifecycle.emergency(critical(0)).started
    world.clock.advance(timedelta(minutes=5))  # the monitor still sees critical windows

    second = lifecycle.emergency(critical(1))
    assert second.reason is StartReason.STARTED  # no cooldown or budget for emergencies
    run = lifecycle.get(str(second.run_id))
    assert run is not None
    assert run.state is RunState.FAILED
    assert "EMERGENCY FALLBACK IMPOSSIBLE" in str(run.decision)
    assert "previous_champion of churn is not set" in str(run.decision)
    assert world.served() == {entity(old).name: 100}
    assert world.endpoint().config_version == 2  # untouched by the second emergency
    assert world.aliases() == {"champion": old}


def test_emergency_during_a_canary_cancels_the_run_and_rolls_it_back(world: World) -> None:
    old = world.champion()
    before = world.endpoint()
    lifecycle = world.lifecycle()
    run_id = world.start(lifecycle)
    new = world.stage(run_id)
    world.canary_live(lifecycle, run_id)
    assert world.aliases() == {"champion": new, "previous_champion": old}

    decision = lifecycle.emergency(critical(3))
    assert decision.reason is StartReason.ROLLING_BACK, decision
    assert decision.run_id == run_id
    run = lifecycle.get(run_id)
    assert run is not None
    assert run.state is RunState.CANCELLED
    assert "cancelled: emergency: emergency: risk 97" in str(run.decision)
    after = world.endpoint()
    assert (after.entities, dict(after.routes)) == (before.entities, dict(before.routes))
    assert world.aliases() == {"champion": old}
    assert world.tags(new)["lakewarden.rolled_back"].startswith("cancelled: emergency")
    assert world.kinds(lifecycle, run_id)[-3:] == ["cancel", "rollback", "cancelled"]
    assert [r.run_id for r in lifecycle.runs()] == [run_id]  # the run's rollback was the fallback


def test_emergency_after_a_full_rollout_goes_back_to_the_model_it_replaced(world: World) -> None:
    old = world.champion()
    lifecycle = world.lifecycle()
    run_id = world.start(lifecycle)
    new = world.stage(run_id)
    world.canary_live(lifecycle, run_id)
    world.windows("low", "low")
    assert drive(lifecycle, run_id).state is RunState.SUCCEEDED
    assert world.served() == {entity(new).name: 100}

    world.clock.advance(timedelta(days=2))  # later, the new model goes critical
    decision = lifecycle.emergency(critical(50))
    assert decision.reason is StartReason.STARTED, decision
    run = lifecycle.get(str(decision.run_id))
    assert run is not None and run.state is RunState.ROLLED_BACK, run
    assert world.served() == {entity(old).name: 100}
    assert world.aliases() == {"champion": old}
    assert world.tags(new)["lakewarden.rolled_back"].startswith("emergency:")


def test_emergency_during_a_retrain_cancels_the_job_then_falls_back(world: World, tmp_path: Path) -> None:
    old, _ = promoted_before(world)
    config = settings(retrain={"parameters": {"gate": str(tmp_path / "never")}})
    lifecycle = world.lifecycle(config)
    run_id = world.start(lifecycle)
    lifecycle.advance()
    assert lifecycle.backend.status(run_id).state.value == "running"

    decision = lifecycle.emergency(critical(3))
    assert decision.reason is StartReason.STARTED, decision
    cancelled = lifecycle.get(run_id)
    assert cancelled is not None and cancelled.state is RunState.CANCELLED
    assert job_outcome(lifecycle.backend, run_id).message == "cancelled"
    fallback = lifecycle.get(str(decision.run_id))
    assert fallback is not None and fallback.state is RunState.ROLLED_BACK, fallback
    assert world.served() == {entity(old).name: 100}
    assert world.aliases() == {"champion": old}


def test_emergency_disabled_changes_nothing(world: World) -> None:
    _, new = promoted_before(world)
    lifecycle = world.lifecycle(settings(emergency={"enabled": False}))
    decision = lifecycle.emergency(critical())
    assert decision.reason is StartReason.DISABLED
    assert "emergency fallback is not enabled for churn" in decision.message
    assert lifecycle.runs() == []
    assert world.served() == {entity(new).name: 100}
    assert world.endpoint().config_version == 1
    assert world.aliases()["champion"] == new


def test_emergency_without_an_endpoint_fails_and_moves_no_alias(world: World) -> None:
    old, new = promoted_before(world, endpoint=False)
    lifecycle = world.lifecycle()
    decision = lifecycle.emergency(critical())
    run = drive(lifecycle, str(decision.run_id))
    assert run.state is RunState.FAILED
    assert "EMERGENCY FALLBACK FAILED" in str(run.decision) and "does not exist" in str(run.decision)
    assert world.aliases() == {"champion": new, "previous_champion": old}


def test_while_paused_an_emergency_still_rolls_back_a_canary_but_starts_nothing(world: World) -> None:
    """The kill switch stops new runs, emergency ones too; cancelling and rolling back still work."""
    old = world.champion()
    lifecycle = world.lifecycle()
    run_id = world.start(lifecycle)
    world.stage(run_id)
    world.canary_live(lifecycle, run_id)
    lifecycle.pause("incident", by="oncall")

    decision = lifecycle.emergency(critical(3))
    assert decision.reason is StartReason.ROLLING_BACK, decision
    assert world.served() == {entity(old).name: 100}
    assert world.aliases() == {"champion": old}

    again = lifecycle.emergency(critical(4))
    assert again.reason is StartReason.PAUSED
    assert [r.run_id for r in lifecycle.runs()] == [run_id]
