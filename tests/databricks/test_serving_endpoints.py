"""Serving endpoints through the real databricks-sdk: read, update with a snapshot, wait, roll back."""

from __future__ import annotations

from datetime import timedelta

import pytest

from retrain.databricks import (
    EndpointBusy,
    EndpointUpdateFailed,
    ServedEntity,
    ServingEndpoints,
    WorkspaceError,
)

pytestmark = pytest.mark.integration

MODEL = "main.ml.churn"


@pytest.fixture
def endpoints(workspace, emulator) -> ServingEndpoints:  # type: ignore[no-untyped-def]
    for _ in range(3):
        emulator.registry.add_version(MODEL)
    emulator.serving.add("churn", MODEL, "1", served_name="champion")
    return ServingEndpoints(workspace, clock=emulator.clock.utc,
                            sleep=emulator.clock.advance)


CANARY = [ServedEntity("champion", MODEL, "1"), ServedEntity("challenger", MODEL, "2")]


def test_read_gives_entities_routes_and_state(endpoints: ServingEndpoints) -> None:
    state = endpoints.read("churn")
    assert (state.ready, state.config_update, state.config_version) == ("READY", "NOT_UPDATING", 1)
    assert state.entities == (ServedEntity("champion", MODEL, "1"),)
    assert state.routes == {"champion": 100}


def test_an_update_is_in_progress_then_applied_and_can_be_rolled_back(endpoints: ServingEndpoints) -> None:
    snapshot = endpoints.update("churn", CANARY, {"champion": 90, "challenger": 10})
    assert snapshot.routes == {"champion": 100} and snapshot.config_version == 1
    assert endpoints.read("churn").updating
    with pytest.raises(EndpointBusy, match="being updated already"):
        endpoints.update("churn", CANARY, {"champion": 50, "challenger": 50})
    state = endpoints.wait_until_updated("churn", timeout=timedelta(minutes=5), poll=timedelta(seconds=1))
    assert state.routes == {"champion": 90, "challenger": 10} and state.config_version == 2

    endpoints.rollback(snapshot)
    state = endpoints.wait_until_updated("churn", timeout=timedelta(minutes=5))
    assert state.routes == {"champion": 100} and state.entities == snapshot.entities and state.config_version == 3


def test_the_workspace_refuses_a_second_update_in_flight(endpoints: ServingEndpoints, emulator) -> None:  # type: ignore[no-untyped-def]
    endpoints.update("churn", CANARY, {"champion": 90, "challenger": 10})
    # another client's check raced ours: the PUT itself is refused with 409
    with pytest.raises(EndpointBusy, match="RESOURCE_CONFLICT"):
        endpoints._put("churn", CANARY, {"champion": 50, "challenger": 50}, legacy=False)


@pytest.mark.parametrize(("routes", "says"), [({"champion": 90, "challenger": 5}, "sum to 100, got 95"),
                                              ({"champion": 90, "other": 10}, "not served entities"),
                                              ({"champion": 90.5, "challenger": 9.5}, "integers")])
def test_bad_routes_are_refused_before_the_workspace_sees_them(endpoints: ServingEndpoints, emulator,  # type: ignore[no-untyped-def]
                                                               routes: dict[str, int], says: str) -> None:
    with pytest.raises(ValueError, match=says):
        endpoints.update("churn", CANARY, routes)
    assert emulator.router.requests("PUT") == []


def test_an_entity_that_does_not_exist_is_refused_by_the_workspace(endpoints: ServingEndpoints) -> None:
    with pytest.raises(WorkspaceError, match=r"Model version main\.ml\.churn/9 does not exist"):
        endpoints.update("churn", [ServedEntity("champion", MODEL, "9")], {"champion": 100})


def test_a_failed_update_raises_and_the_old_config_stays(endpoints: ServingEndpoints, emulator) -> None:  # type: ignore[no-untyped-def]
    emulator.serving.endpoints["churn"].fail_next = True
    endpoints.update("churn", CANARY, {"champion": 90, "challenger": 10})
    with pytest.raises(EndpointUpdateFailed, match="UPDATE_FAILED; it still serves config version 1"):
        endpoints.wait_until_updated("churn", timeout=timedelta(minutes=5))
    assert endpoints.read("churn").routes == {"champion": 100}


def test_waiting_has_a_deadline(endpoints: ServingEndpoints, emulator) -> None:  # type: ignore[no-untyped-def]
    emulator.serving.update_seconds = 3600
    endpoints.update("churn", CANARY, {"champion": 90, "challenger": 10})
    with pytest.raises(WorkspaceError, match="still updating after 0:01:00"):
        endpoints.wait_until_updated("churn", timeout=timedelta(minutes=1))


def test_a_missing_endpoint_is_named(endpoints: ServingEndpoints) -> None:
    with pytest.raises(WorkspaceError, match="serving endpoint nope does not exist"):
        endpoints.read("nope")
