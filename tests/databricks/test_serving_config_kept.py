"""Rollout and rollback keep every served-entity setting: only versions and traffic change.

Through the real databricks-sdk against the emulator, which keeps every ``ServedEntityInput`` field
it is sent: environment variables (secret references), GPU workload types, provisioned
throughput/concurrency, an external-model entity beside the model, and endpoints built with the
legacy ``served_models``.
"""

from __future__ import annotations

import copy
from datetime import timedelta
from typing import Any

import pytest
import structlog

from retrain.databricks import ServingEndpoints
from retrain.steps.endpoint import canary, only

pytestmark = pytest.mark.integration

MODEL = "main.ml.churn"
ENV = {"OPENAI_API_KEY": "{{secrets/ml/openai}}", "FEATURE_FLAG": "on"}
GPU = {"workload_size": "Small", "workload_type": "GPU_MEDIUM", "scale_to_zero_enabled": False,
       "environment_vars": ENV, "instance_profile_arn": "arn:aws:iam::123:instance-profile/ml",
       "min_provisioned_concurrency": 4, "max_provisioned_concurrency": 12, "burst_scaling_enabled": True}
THROUGHPUT = {"min_provisioned_throughput": 0, "max_provisioned_throughput": 9500, "scale_to_zero_enabled": True,
              "environment_vars": ENV}
EXTERNAL = {"name": "gpt", "external_model": {"provider": "openai", "name": "gpt-4o", "task": "llm/v1/chat",
                                              "openai_config": {"openai_api_key": "{{secrets/ml/openai}}"}}}
_OUTPUT_ONLY = ("state", "creator", "creation_timestamp")


def _entities(emulator, name: str, legacy: bool) -> dict[str, dict[str, Any]]:  # type: ignore[no-untyped-def]
    config = emulator.serving.endpoints[name].config
    return {e["name"]: {k: v for k, v in e.items() if k not in _OUTPUT_ONLY}
            for e in config["served_models" if legacy else "served_entities"]}


def _land(endpoints: ServingEndpoints, name: str) -> None:
    endpoints.wait_until_updated(name, timeout=timedelta(minutes=5), poll=timedelta(seconds=1))


@pytest.mark.parametrize(("settings", "legacy", "external"), [
    (GPU, False, True), (THROUGHPUT, False, False), (GPU, True, False)],
    ids=["gpu-env-concurrency-external", "provisioned-throughput", "legacy-served-models"])
def test_rollout_and_rollback_change_only_versions_and_traffic(workspace, emulator, settings: dict[str, Any],  # type: ignore[no-untyped-def]
                                                               legacy: bool, external: bool) -> None:
    for _ in range(2):
        emulator.registry.add_version(MODEL)
    endpoint = emulator.serving.add("churn", MODEL, "1", legacy=legacy, **copy.deepcopy(settings))
    if external:
        endpoint.config["served_entities"].append(copy.deepcopy(EXTERNAL))
        endpoint.config["traffic_config"]["routes"] = [{"served_entity_name": "churn-1", "traffic_percentage": 80},
                                                       {"served_entity_name": "gpt", "traffic_percentage": 20}]
    original = _entities(emulator, "churn", legacy)
    endpoints = ServingEndpoints(workspace, clock=emulator.clock.utc, sleep=emulator.clock.advance)

    with structlog.testing.capture_logs() as logs:
        before = endpoints.read("churn").snapshot()
        assert before.legacy is legacy
        entities, routes = canary(before, MODEL, "2", 10)
        endpoints.update("churn", entities, routes)
        _land(endpoints, "churn")
    kept = _entities(emulator, "churn", legacy)
    assert kept["churn-1"] == original["churn-1"]  # the champion: every field as it was
    version_key = "model_version" if legacy else "entity_version"
    assert kept["churn-2"] == {**original["churn-1"], "name": "churn-2", version_key: "2"}  # served the same way
    if external:
        assert kept["gpt"] == original["gpt"]
    assert "{{secrets" not in repr(before) and not any("secrets/" in repr(line) for line in logs)

    endpoints.update("churn", *only(MODEL, "2", endpoints.read("churn").entities))
    _land(endpoints, "churn")
    assert _entities(emulator, "churn", legacy) == {"churn-2": {**original["churn-1"], "name": "churn-2",
                                                                version_key: "2"}}

    endpoints.rollback(before)
    _land(endpoints, "churn")
    assert _entities(emulator, "churn", legacy) == original
    routes_key = "served_model_name" if legacy else "served_entity_name"
    assert {r[routes_key] for r in emulator.serving.endpoints["churn"].config["traffic_config"]["routes"]} == set(
        original)
