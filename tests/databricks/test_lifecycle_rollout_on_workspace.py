"""The lifecycle's endpoint side on the real Databricks backends against the emulator: rollout, rollback, emergency.

Endpoints update IN_PROGRESS, then NOT_UPDATING or UPDATE_FAILED, on the emulator's clock; while an
update is in flight the endpoint still reports its old config. See ``test_lifecycle_on_workspace.py``
for how the lifecycle is built (``dbx_lifecycle.Case``).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import TYPE_CHECKING

import pytest

from retrain import RunState, Step, Trigger
from tests.databricks.dbx_lifecycle import (  # the fixtures too: they replace the conftest's
    BEFORE,
    CANARY,
    ENDPOINT,
    FULL,
    MODEL,
    TABLE,
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


@pytest.mark.parametrize("step", [60.0, 600.0])
def test_a_monitor_refresh_that_never_ends_never_rolls_back_the_new_model(case: Callable[..., Case],
                                                                          emulator: Emulator, step: float) -> None:
    """A refresh someone else runs (the workspace refuses a second: 409) is followed, not asked for again;
    when it outlasts the step's timeout after the full rollout, that ends the run, it does not take the
    validated, fully rolled-out model off the endpoint (driven in ticks of 60 s and of 600 s)."""
    from emu_monitors import Refresh

    seed(emulator)
    emulator.monitors.refresh_running = 10**7
    emulator.monitors.monitors[TABLE].refreshes.append(Refresh(1, emulator.clock.now()))  # theirs, long
    world = case()
    run_id = world.start()
    world.drive(run_id, until=lambda r: r.step is Step.REFRESH_MONITOR or r.state.final)
    run = world.drive(run_id, step=step)
    assert run.state is RunState.FAILED, world.history(run_id)
    assert str(run.decision) == "monitor refresh 1 did not finish within 30m; the new model keeps serving", \
        run.decision
    assert len(emulator.monitors.monitors[TABLE].refreshes) == 1  # theirs, followed: none asked for
    assert served(emulator) == FULL and updates(emulator) == [CANARY, FULL]
    assert aliases(emulator) == {"champion": 2, "previous_champion": 1} and world.moves("champion") == [2]
    assert "rollback" not in [event.kind for event in world.lifecycle.history(run_id)]


def test_an_emergency_moves_all_traffic_and_the_champion_back_through_the_workspace(
        case: Callable[..., Case], emulator: Emulator) -> None:
    seed(emulator, endpoint=False)
    emulator.registry.add_version(MODEL, run_metrics={"holdout_roc_auc": 0.9})
    emulator.registry.set_alias(MODEL, "champion", 2)
    emulator.registry.set_alias(MODEL, "previous_champion", 1)
    emulator.serving.add(ENDPOINT, MODEL, "2")
    world = case(emergency={"enabled": True})
    now = world.clock()
    decision = world.lifecycle.emergency(Trigger("churn", "emergency: risk 97", "critical",
                                                 now - timedelta(hours=1), now))
    assert decision.started and decision.run_id is not None, decision
    run = world.drive(decision.run_id, step=5)
    assert run.state is RunState.ROLLED_BACK, world.history(decision.run_id)
    assert updates(emulator) == [BEFORE] and served(emulator) == BEFORE
    assert aliases(emulator) == {"champion": 1}  # no previous champion left to flip back to
    assert world.moves("champion") == [1]
    assert emulator.registry.version(MODEL, 2)["tags"]["lakewarden.rolled_back"] == "emergency: emergency: risk 97"
