"""Every transition of a full plan: retrain, validate, promote, canary, observe, full rollout, refresh, batch score."""

from __future__ import annotations

from pathlib import Path

import pytest
from lw_support import drive
from lw_world import ENDPOINT, World, entity, messages, settings

from retrain.ports import RefreshState
from retrain.runs import RunState, Step

pytestmark = pytest.mark.integration

FULL = ["retrain", "validate", "promote", "rollout", "refresh_monitor", "batch_score"]


def test_full_plan_ends_succeeded_with_only_the_new_version_serving(world: World, tmp_path: Path) -> None:
    old = world.champion()
    starts, batch_dump = tmp_path / "starts.txt", tmp_path / "batch.json"
    config = settings(
        steps=FULL,
        # The job registers its own version here (the contract end to end).
        retrain={"parameters": {"register": "yes", "holdout": "0.9", "champion_holdout": "0.8",
                                "starts": str(starts)}},
        batch_score={"module": "lw_fake_job", "parameters": {"register": "no", "dump": str(batch_dump)}},
    )
    lifecycle = world.lifecycle(config)
    run_id = world.start(lifecycle)
    world.refresher.state = RefreshState.RUNNING

    run = world.canary_live(lifecycle, run_id)
    assert (run.state, run.step) == (RunState.RUNNING, Step.ROLLOUT), run.decision
    new = str(run.model_version)
    assert new == "2"
    # Canary: 10% to the challenger, 90% to the champion; both aliases moved already.
    assert world.served() == {entity(old).name: 90, entity(new).name: 10}
    assert world.endpoint().config_version == 2
    assert world.aliases() == {"champion": new, "previous_champion": old}
    assert world.tags(new)["lakewarden.validation"] == "passed"

    world.windows("low")  # one of two windows observed: the canary keeps waiting
    assert lifecycle.advance() == []
    assert world.served() == {entity(old).name: 90, entity(new).name: 10}
    world.windows("medium")  # below rollback_on (high)
    events = lifecycle.advance()
    assert [event.kind for event in events] == ["step"], messages(events)
    assert "serves all traffic of endpoint churn-ep (was: churn v1 100%)" in events[0].message
    assert world.served() == {entity(new).name: 100}
    assert world.endpoint().config_version == 3  # one update for the canary, one for all traffic

    run = lifecycle.get(run_id)
    assert run is not None
    assert run.step is Step.REFRESH_MONITOR
    assert world.refresher.started == ["churn"]
    assert lifecycle.advance() == []  # the refresh is still running
    world.refresher.state = RefreshState.SUCCEEDED
    run = drive(lifecycle, run_id)
    assert run.state is RunState.SUCCEEDED, run.decision
    assert world.refresher.started == ["churn"]

    assert world.served() == {entity(new).name: 100}
    assert world.aliases() == {"champion": new, "previous_champion": old}  # no challenger alias left
    assert len(starts.read_text().splitlines()) == 1
    assert f"--model_version={new}" in batch_dump.read_text()
    history = lifecycle.history(run_id)
    assert [event.kind for event in history] == [
        "decision", "started", "step", "step", "step", "step", "step", "step", "succeeded"
    ], messages(history)
    steps = [event.message for event in history[2:8]]
    assert "local job" in steps[0] and f"version {new} of churn registered (champion: version {old})" in steps[0]
    assert "challenger is better or within tolerance" in steps[1]
    assert f"version {new} is now champion of churn; version {old} kept as previous_champion" in steps[2]
    assert f"canary: version {new} serves 10% of endpoint churn-ep (churn v1 90%, churn v2 10%)" in steps[3]
    assert "serves all traffic" in steps[4]
    assert "monitor refreshed (refresh-1)" in steps[5]
    assert "batch scoring: local job" in history[-1].message


def test_canary_keeps_the_proportions_of_two_served_entities(world: World) -> None:
    old = world.champion()
    other = world.stage("someone-else")  # a second version the endpoint already served
    world.serving.create(ENDPOINT, [entity(old), entity(other)], {entity(old).name: 70, entity(other).name: 30})
    lifecycle = world.lifecycle()
    run_id = world.start(lifecycle)
    new = world.stage(run_id)

    world.canary_live(lifecycle, run_id)
    # 90% left for the two served entities, in their proportions 70:30.
    assert world.served() == {entity(old).name: 63, entity(other).name: 27, entity(new).name: 10}
    world.windows("low", "low")
    run = drive(lifecycle, run_id)
    assert run.state is RunState.SUCCEEDED, run.decision
    assert world.served() == {entity(new).name: 100}
    assert [e.entity_version for e in world.endpoint().entities] == [new]


def test_rounding_gives_every_point_of_traffic_to_someone(world: World) -> None:
    old = world.champion()
    other = world.stage("someone-else")
    world.serving.create(ENDPOINT, [entity(old), entity(other)], {entity(old).name: 50, entity(other).name: 50})
    lifecycle = world.lifecycle(settings(rollout={"canary_percent": 15}))
    run_id = world.start(lifecycle)
    new = world.stage(run_id)
    world.canary_live(lifecycle, run_id)
    served = world.served()
    assert served[entity(new).name] == 15
    assert sorted([served[entity(old).name], served[entity(other).name]]) == [42, 43]
    assert sum(served.values()) == 100


def test_canary_percent_zero_moves_all_traffic_at_once(world: World) -> None:
    old = world.champion()
    lifecycle = world.lifecycle(settings(rollout={"canary_percent": 0}, steps=["retrain", "validate", "promote",
                                                                               "rollout"]))
    run_id = world.start(lifecycle)
    new = world.stage(run_id)
    run = drive(lifecycle, run_id)
    assert run.state is RunState.SUCCEEDED, run.decision
    assert world.served() == {entity(new).name: 100}
    assert world.endpoint().config_version == 2  # a single update, no canary
    assert world.aliases() == {"champion": new, "previous_champion": old}
    assert world.verdicts.windows == []


@pytest.mark.parametrize("failing", ["refresh_monitor", "batch_score"])
def test_a_failure_after_the_full_rollout_is_reported_not_undone(world: World, failing: str) -> None:
    old = world.champion()
    batch = {"module": "lw_fake_job", "parameters": {"register": "no"}}
    if failing == "batch_score":
        batch["parameters"] = {"fail": "scoring table locked"}
    else:
        world.refresher.state, world.refresher.message = RefreshState.FAILED, "table main.demo.churn_inference gone"
    lifecycle = world.lifecycle(settings(steps=FULL, batch_score=batch))
    run_id = world.start(lifecycle)
    new = world.stage(run_id)
    world.canary_live(lifecycle, run_id)
    world.windows("low", "low")
    run = drive(lifecycle, run_id)
    assert run.state is RunState.FAILED
    words = "monitor refresh refresh-1 failed" if failing == "refresh_monitor" else "batch scoring failed"
    assert words in str(run.decision)
    assert world.kinds(lifecycle, run_id)[-1] == "failed"
    assert "rollback" not in world.kinds(lifecycle, run_id)
    assert world.served() == {entity(new).name: 100}
    assert world.aliases() == {"champion": new, "previous_champion": old}
