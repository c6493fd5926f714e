"""Rollout failures: no verdict in time, a missing endpoint, an endpoint someone else changed."""

from __future__ import annotations

from datetime import timedelta

import pytest
from lw_support import drive, make_version
from lw_world import ENDPOINT, MODEL, World, entity, messages, settings

from retrain.runs import RunState

pytestmark = pytest.mark.integration


def test_rollout_timeout_without_enough_windows_rolls_back_and_fails(world: World) -> None:
    old = world.champion()
    before = world.endpoint()
    lifecycle = world.lifecycle()
    run_id = world.start(lifecycle)
    new = world.stage(run_id)
    world.canary_live(lifecycle, run_id)
    world.windows("low")  # one of the two windows the canary needs
    world.clock.advance(timedelta(hours=5))
    assert lifecycle.advance() == []  # six hours since the rollout began: still allowed
    world.clock.advance(timedelta(minutes=1))
    events = lifecycle.advance()
    assert [event.kind for event in events] == ["rollback", "failed"], messages(events)
    run = lifecycle.get(run_id)
    assert run is not None
    assert run.state is RunState.FAILED
    assert f"rollout of version {new} did not finish within 6h" in str(run.decision)
    after = world.endpoint()
    assert (after.entities, dict(after.routes)) == (before.entities, dict(before.routes))
    assert world.aliases() == {"champion": old}
    assert "did not finish within 6h" in world.tags(new)["lakewarden.rolled_back"]


def test_a_missing_endpoint_fails_the_run_and_changes_nothing(world: World) -> None:
    old = world.champion(endpoint=False)
    lifecycle = world.lifecycle()
    run_id = world.start(lifecycle)
    new = world.stage(run_id)
    run = drive(lifecycle, run_id)
    assert run.state is RunState.FAILED
    assert f"local serving endpoint {ENDPOINT} does not exist" in str(run.decision)
    # The promotion before the rollout is put back: the model's champion is the one that served.
    assert world.aliases() == {"champion": old}
    assert world.kinds(lifecycle, run_id)[-2:] == ["rollback", "failed"]
    assert "does not exist" in world.tags(new)["lakewarden.rolled_back"]


def test_a_missing_endpoint_without_promotion_fails_before_any_change(world: World) -> None:
    old = world.champion(endpoint=False)
    lifecycle = world.lifecycle(settings(steps=["retrain", "validate", "rollout"]))
    run_id = world.start(lifecycle)
    new = world.stage(run_id)
    run = drive(lifecycle, run_id)
    assert run.state is RunState.FAILED
    assert "does not exist" in str(run.decision)
    assert world.aliases() == {"champion": old}
    assert world.kinds(lifecycle, run_id)[-1] == "failed"
    assert "rollback" not in world.kinds(lifecycle, run_id)
    assert "lakewarden.rolled_back" not in world.tags(new)


def test_an_endpoint_changed_by_someone_else_during_the_canary_is_not_overwritten(world: World) -> None:
    old = world.champion()
    lifecycle = world.lifecycle()
    run_id = world.start(lifecycle)
    new = world.stage(run_id)
    world.canary_live(lifecycle, run_id)
    theirs = make_version(world.registry, MODEL)
    world.serving.put(ENDPOINT, [entity(old), entity(theirs)], {entity(old).name: 50, entity(theirs).name: 50})
    changed = world.endpoint()

    world.windows("low", "low")
    run = drive(lifecycle, run_id)
    assert run.state is RunState.FAILED
    assert "someone else changed it" in str(run.decision)
    after = world.endpoint()
    assert after.config_version == changed.config_version  # no update since theirs
    assert dict(after.routes) == {entity(old).name: 50, entity(theirs).name: 50}
    assert world.aliases() == {"champion": old}
    assert entity(new).name not in after.routes

