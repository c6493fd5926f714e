"""Rollback: a canary window at or above ``rollback_on`` puts the endpoint and the aliases back as they were."""

from __future__ import annotations

from datetime import timedelta

import pytest
from lw_support import drive, make_version
from lw_world import ENDPOINT, MODEL, World, entity, messages, settings

from config.basics.severity import severity_rank
from retrain.runs import RunState, Step
from retrain.schema import retrain_local_endpoints

pytestmark = pytest.mark.integration


@pytest.mark.parametrize("bad", ["high", "critical"])
def test_a_bad_canary_window_rolls_back_endpoint_and_aliases(world: World, bad: str) -> None:
    old = world.champion()
    before = world.endpoint()
    lifecycle = world.lifecycle()
    run_id = world.start(lifecycle)
    new = world.stage(run_id)
    world.canary_live(lifecycle, run_id)
    assert world.aliases() == {"champion": new, "previous_champion": old}

    world.windows("low", bad)
    events = lifecycle.advance()
    assert [event.kind for event in events] == ["rollback", "rolled_back"], messages(events)
    run = lifecycle.get(run_id)
    assert run is not None
    assert run.state is RunState.ROLLED_BACK
    assert f"had quality at {bad}" in str(run.decision) and "at or above rollback_on high" in str(run.decision)
    assert "endpoint churn-ep serves churn v1 100% again" in str(run.decision)

    after = world.endpoint()
    assert (after.entities, dict(after.routes)) == (before.entities, dict(before.routes))
    assert after.config_version == 3  # canary, then the snapshot again
    assert world.aliases() == {"champion": old}  # previous_champion was not set before the run
    assert "at or above rollback_on high" in world.tags(new)["lakewarden.rolled_back"]
    assert world.kinds(lifecycle, run_id) == ["decision", "started", "step", "step", "step", "step",
                                              "rollback", "rolled_back"]


@pytest.mark.parametrize(
    ("watch", "signals", "rolled_back"),
    [
        (None, {"feature_drift": "critical"}, False),  # input drift persists whichever model serves
        (None, {"operational": "high"}, True),
        (["any"], {"feature_drift": "critical"}, True),  # the window's overall severity
        (["feature_drift"], {"feature_drift": "high"}, True),
    ],
)
def test_the_canary_watches_only_its_signals(world: World, watch: list[str] | None, signals: dict[str, str],
                                             rolled_back: bool) -> None:
    old = world.champion()
    lifecycle = world.lifecycle(settings(rollout={"watch": watch}) if watch else settings())
    run_id = world.start(lifecycle)
    new = world.stage(run_id)
    world.canary_live(lifecycle, run_id)
    worst = max(signals.values(), key=severity_rank)
    world.verdicts.add(world.clock(), worst, 90.0, signals)
    world.windows("low")
    run = drive(lifecycle, run_id)
    assert run.state is (RunState.ROLLED_BACK if rolled_back else RunState.SUCCEEDED), run.decision
    assert world.served() == ({entity(old).name: 100} if rolled_back else {entity(new).name: 100})


def test_a_window_below_rollback_on_does_not_roll_back(world: World) -> None:
    world.champion()
    lifecycle = world.lifecycle()
    run_id = world.start(lifecycle)
    new = world.stage(run_id)
    world.canary_live(lifecycle, run_id)
    world.windows("medium", "medium")
    run = drive(lifecycle, run_id)
    assert run.state is RunState.SUCCEEDED, run.decision
    assert world.served() == {entity(new).name: 100}
    assert "lakewarden.rolled_back" not in world.tags(new)


def test_only_windows_after_the_canary_count(world: World) -> None:
    world.champion()
    lifecycle = world.lifecycle()
    run_id = world.start(lifecycle)
    world.stage(run_id)
    run = world.canary_live(lifecycle, run_id)
    live = world.clock()
    assert run.external["canary_live_at"] == live.isoformat()
    world.windows("critical", start=live - timedelta(hours=1))  # the champion's traffic, before the canary
    assert lifecycle.advance() == []
    run = lifecycle.get(run_id)
    assert run is not None
    assert (run.state, run.step) == (RunState.RUNNING, Step.ROLLOUT)


def test_rollback_restores_two_entities_and_the_previous_alias(world: World) -> None:
    old = world.champion()
    older = make_version(world.registry, MODEL)
    world.registry.set_alias(MODEL, "previous_champion", older)  # from an earlier promotion
    world.serving.create(ENDPOINT, [entity(old), entity(older)], {entity(old).name: 80, entity(older).name: 20})
    before = world.endpoint()
    lifecycle = world.lifecycle()
    run_id = world.start(lifecycle)
    new = world.stage(run_id)
    world.canary_live(lifecycle, run_id)
    assert world.served() == {entity(old).name: 72, entity(older).name: 18, entity(new).name: 10}
    assert world.aliases() == {"champion": new, "previous_champion": old}

    world.windows("high")
    run = drive(lifecycle, run_id)
    assert run.state is RunState.ROLLED_BACK, run.decision
    after = world.endpoint()
    assert set(after.entities) == set(before.entities)
    assert dict(after.routes) == {entity(old).name: 80, entity(older).name: 20}
    assert world.aliases() == {"champion": old, "previous_champion": older}


def test_a_bad_window_after_the_full_rollout_changes_nothing(world: World) -> None:
    """The canary decides; later windows are the monitor's business (a new run or an emergency)."""
    world.champion()
    lifecycle = world.lifecycle()
    run_id = world.start(lifecycle)
    new = world.stage(run_id)
    world.canary_live(lifecycle, run_id)
    world.windows("low", "low", "critical")  # the third window is past observe_windows (2)
    run = drive(lifecycle, run_id)
    assert run.state is RunState.SUCCEEDED, run.decision
    assert world.served() == {entity(new).name: 100}


def test_an_endpoint_deleted_during_the_canary_still_gets_the_aliases_back(world: World) -> None:
    old = world.champion()
    lifecycle = world.lifecycle()
    run_id = world.start(lifecycle)
    new = world.stage(run_id)
    world.canary_live(lifecycle, run_id)
    with world.engine.begin() as conn:  # someone deletes the endpoint
        conn.execute(retrain_local_endpoints.delete().where(retrain_local_endpoints.c.name == ENDPOINT))
    world.windows("high")
    run = drive(lifecycle, run_id)
    assert run.state is RunState.ROLLED_BACK, run.decision
    assert f"endpoint {ENDPOINT} no longer exists" in str(run.decision)
    assert world.aliases() == {"champion": old}
    assert "lakewarden.rolled_back" in world.tags(new)


@pytest.mark.parametrize("first_rollback", ["remove_champion", "keep_and_page"])
def test_a_first_run_rollback_removes_or_keeps_the_champion_as_configured(world: World, first_rollback: str) -> None:
    """The model's first promotion: no champion to move back to; ``promote.first_rollback`` decides."""
    served = make_version(world.registry, MODEL)  # served before lakewarden managed the model: no alias
    world.serving.create(ENDPOINT, [entity(served)], {entity(served).name: 100})
    lifecycle = world.lifecycle(settings(promote={"first_rollback": first_rollback}))
    run_id = world.start(lifecycle)
    new = world.stage(run_id)
    world.canary_live(lifecycle, run_id)
    assert world.aliases() == {"champion": new}

    world.windows("high")
    events = lifecycle.advance()
    assert [event.kind for event in events] == ["rollback", "rolled_back"], messages(events)
    run = lifecycle.get(run_id)
    assert run is not None and run.state is RunState.ROLLED_BACK
    assert world.served() == {entity(served).name: 100}
    if first_rollback == "remove_champion":
        assert world.aliases() == {}  # as before the run: loading @champion fails loudly, as it did
        assert "champion removed: there was no champion before" in str(run.decision)
        assert "CHAMPION KEPT" not in str(run.decision)
    else:
        assert world.aliases() == {"champion": new}
        assert f"CHAMPION KEPT ON ROLLED-BACK VERSION: champion kept at version {new}" in str(run.decision)
    assert "at or above rollback_on high" in world.tags(new)["lakewarden.rolled_back"]
