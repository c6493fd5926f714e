"""Serving endpoints: ``GET /api/2.0/serving-endpoints/{name}`` and ``PUT .../config``.

An update is IN_PROGRESS for ``update_seconds`` on the emulator clock, then NOT_UPDATING with the new
config (``config_version`` + 1), or UPDATE_FAILED with the old config when scripted. Every accepted
update is kept in ``Endpoint.updates`` (its served entities and traffic config, in order). A second update
while one is in flight is refused (409); routes must be integers summing to 100 and name served
entities of the request; every entity must be an existing model version in the registry. Entities
keep every field they were sent with (environment variables, workload type, provisioned throughput
...), answered back with output-only ``state``, ``creator`` and ``creation_timestamp``, which an
update may not echo. Endpoints built with the legacy ``served_models`` (routes by
``served_model_name``) are updated in that form.
"""

from __future__ import annotations

import copy
import threading
from dataclasses import dataclass, field
from typing import Any

from emu_clock import EmuClock
from emu_http import ApiError, Request, Router, bad_request
from emu_registry import Registry

OUTPUT_ONLY = frozenset({"state", "creator", "creation_timestamp", "foundation_model"})


@dataclass
class Endpoint:
    name: str
    config: dict[str, Any]
    pending: dict[str, Any] | None = None
    update_started: float = 0.0
    fail_next: bool = False
    last_update: str = "NOT_UPDATING"
    updates: list[dict[str, Any]] = field(default_factory=list)


class Serving:
    def __init__(self, clock: EmuClock, registry: Registry) -> None:
        self.clock = clock
        self.registry = registry
        self.endpoints: dict[str, Endpoint] = {}
        self.update_seconds = 2.0
        self._lock = threading.Lock()

    def add(self, name: str, entity_name: str, entity_version: str, served_name: str | None = None, *,
            legacy: bool = False, **settings: Any) -> Endpoint:
        """An endpoint serving one version; ``settings`` are more ``ServedEntityInput`` fields (environment_vars,
        workload_type, min/max_provisioned_throughput, ...); ``legacy`` builds it with ``served_models``."""
        served = served_name or f"{entity_name.rsplit('.', 1)[-1]}-{entity_version}"
        fields = settings or {"workload_size": "Small", "scale_to_zero_enabled": True}
        if legacy:
            entity = {"name": served, "model_name": entity_name, "model_version": entity_version, **fields}
            config = {"config_version": 1, "served_models": [entity],
                      "traffic_config": {"routes": [{"served_model_name": served, "traffic_percentage": 100}]}}
        else:
            entity = {"name": served, "entity_name": entity_name, "entity_version": entity_version, **fields}
            config = {"config_version": 1, "served_entities": [entity],
                      "traffic_config": {"routes": [{"served_entity_name": served, "traffic_percentage": 100}]}}
        self.endpoints[name] = Endpoint(name, config)
        return self.endpoints[name]

    def register(self, router: Router) -> None:
        router.add("GET", "/api/2.0/serving-endpoints/{name}", lambda r: (200, self.view(self._find(r))))
        router.add("PUT", "/api/2.0/serving-endpoints/{name}/config", self._update)

    def _find(self, request: Request) -> Endpoint:
        endpoint = self.endpoints.get(request.params["name"])
        if endpoint is None:
            raise ApiError(404, "RESOURCE_DOES_NOT_EXIST",
                           f"Serving endpoint '{request.params['name']}' does not exist.")
        self._settle(endpoint)
        return endpoint

    def _settle(self, endpoint: Endpoint) -> None:
        with self._lock:
            if endpoint.pending is None or self.clock.now() < endpoint.update_started + self.update_seconds:
                return
            if endpoint.fail_next:
                endpoint.fail_next, endpoint.last_update = False, "UPDATE_FAILED"
            else:
                version = endpoint.config["config_version"] + 1
                endpoint.config = {**endpoint.pending, "config_version": version}
                endpoint.last_update = "NOT_UPDATING"
            endpoint.pending = None

    def view(self, endpoint: Endpoint) -> dict[str, Any]:
        config = copy.deepcopy(endpoint.config)
        for entity in config.get("served_entities") or config.get("served_models") or []:
            entity["state"] = {"deployment": "DEPLOYMENT_READY", "deployment_state_message": ""}
            entity["creator"], entity["creation_timestamp"] = "emulator@example.com", 1700000000000
        body: dict[str, Any] = {
            "name": endpoint.name, "id": f"ep-{endpoint.name}", "creator": "emulator@example.com",
            "state": {"ready": "READY", "config_update": "IN_PROGRESS" if endpoint.pending else endpoint.last_update},
            "config": config,
        }
        if endpoint.pending is not None:
            body["pending_config"] = {**copy.deepcopy(endpoint.pending),
                                      "config_version": endpoint.config["config_version"] + 1,
                                      "start_time": int(endpoint.update_started * 1000)}
        return body

    def _update(self, request: Request) -> tuple[int, Any]:
        endpoint = self._find(request)
        legacy = bool(request.body.get("served_models"))
        if legacy and request.body.get("served_entities"):
            raise bad_request("give served_entities or served_models, not both")
        entities = request.body.get("served_models" if legacy else "served_entities") or []
        routes = (request.body.get("traffic_config") or {}).get("routes") or []
        if not entities:
            raise bad_request("served_entities must not be empty")
        names = [e.get("name") for e in entities]
        if any(not n for n in names) or len(set(names)) != len(names):
            raise bad_request("every served entity needs a distinct name")
        entity_key, version_key = ("model_name", "model_version") if legacy else ("entity_name", "entity_version")
        for entity in entities:
            echoed = sorted(set(entity) & OUTPUT_ONLY)
            if echoed:
                raise bad_request(f"served entity {entity.get('name')!r}: {echoed} are output-only fields")
            if entity.get("external_model"):
                continue  # served from an external provider, not a registered model version
            if not self.registry.has_version(str(entity.get(entity_key)), entity.get(version_key)):
                raise ApiError(404, "RESOURCE_DOES_NOT_EXIST",
                               f"Model version {entity.get(entity_key)}/{entity.get(version_key)} "
                               "does not exist.")
        route_key = "served_model_name" if legacy else "served_entity_name"
        percentages = [r.get("traffic_percentage") for r in routes]
        integers = all(isinstance(p, int) and not isinstance(p, bool) and p >= 0 for p in percentages)
        if not integers or sum(percentages) != 100:
            raise bad_request(f"traffic percentages must be non-negative integers summing to 100, got {percentages}")
        for route in routes:
            if route.get(route_key) not in names:
                raise bad_request(f"route names served entity {route.get(route_key)!r}, "
                                  f"which is not among {names}")
        with self._lock:
            if endpoint.pending is not None:
                raise ApiError(409, "RESOURCE_CONFLICT", f"Endpoint '{endpoint.name}' is currently being updated; "
                               "wait until the update finishes.")
            routes = [{k: v for k, v in r.items() if k in (route_key, "traffic_percentage")} for r in routes]
            endpoint.pending = {"served_models" if legacy else "served_entities": copy.deepcopy(entities),
                                "traffic_config": {"routes": routes}}
            endpoint.updates.append(copy.deepcopy(endpoint.pending))
            endpoint.update_started = self.clock.now()
        return 200, self.view(endpoint)
