"""The REST paths MLflow's Databricks clients call, over the emulator's registry (``emu_registry``).

Read from the installed MLflow (3.x): the ``databricks-uc`` registry store
(``mlflow/store/_unity_catalog/registry/rest_store.py``, ``UcModelRegistryService`` in
``databricks_uc_registry_service.proto``) and the ``databricks`` tracking store's ``GetRun``:

    GET    /api/2.0/mlflow/unity-catalog/model-versions/search     filter, max_results, page_token
    GET    /api/2.0/mlflow/unity-catalog/model-versions/get        name, version
    POST   /api/2.0/mlflow/unity-catalog/model-versions/set-tag    {name, version, key, value}
    GET    /api/2.0/mlflow/unity-catalog/registered-models/get     name
    POST   /api/2.0/mlflow/unity-catalog/registered-models/alias   {name, alias, version}
    DELETE /api/2.0/mlflow/unity-catalog/registered-models/alias   {name, alias}
    GET    /api/2.0/mlflow/unity-catalog/registered-models/alias   name, alias
    GET    /api/2.0/mlflow/runs/get                                run_id (and run_uuid)

GET arguments come as query parameters, bodies as protobuf JSON; versions are strings. As on a
workspace, version search takes one condition, ``name = '...'`` or ``run_id = '...'``: a filter on
tags is refused with INVALID_PARAMETER_VALUE (the real message may differ), and search results
carry no tags or aliases (MLflow's ``ModelVersionSearch`` raises when they are read).
"""

from __future__ import annotations

import re
from typing import Any

from emu_http import ApiError, Request, Router, bad_request
from emu_registry import Model, Registry

UC = "/api/2.0/mlflow/unity-catalog"
_CONDITION = re.compile(r"^\s*(name|run_id)\s*=\s*'([^']*)'\s*$")
_PAGE = 100


class MlflowPaths:
    def __init__(self, registry: Registry) -> None:
        self.registry = registry

    def register(self, router: Router) -> None:
        router.add("GET", UC + "/model-versions/search", self._search)
        router.add("GET", UC + "/model-versions/get", self._get_version)
        router.add("POST", UC + "/model-versions/set-tag", self._set_tag)
        router.add("GET", UC + "/registered-models/get", self._get_model)
        router.add("POST", UC + "/registered-models/alias", self._set_alias)
        router.add("DELETE", UC + "/registered-models/alias", self._delete_alias)
        router.add("GET", UC + "/registered-models/alias", self._get_by_alias)
        router.add("GET", "/api/2.0/mlflow/runs/get", self._get_run)

    # -- protobuf JSON shapes -------------------------------------------------------------------

    def _version(self, model: Model, number: int, *, search: bool = False) -> dict[str, Any]:
        data = model.versions[number]
        out: dict[str, Any] = {
            "name": model.full_name, "version": str(number), "creation_timestamp": data["created_at"],
            "last_updated_timestamp": data["updated_at"], "user_id": "emulator@example.com",
            "description": data["description"], "source": data["source"], "run_id": data["run_id"],
            "status": "READY", "storage_location": data["source"],
        }
        if not search:
            out["tags"] = [{"key": k, "value": v} for k, v in sorted(data["tags"].items())]
            out["aliases"] = [{"alias": a, "version": str(v)} for a, v in sorted(model.aliases.items()) if v == number]
        return out

    @staticmethod
    def _required(request: Request, *names: str) -> list[str]:
        values = []
        for name in names:
            value = request.arg(name)
            if value in (None, ""):
                raise bad_request(f"Missing value for required parameter '{name}'.")
            values.append(str(value))
        return values

    # -- handlers -------------------------------------------------------------------------------

    def _search(self, request: Request) -> tuple[int, Any]:
        text = str(request.arg("filter") or "")
        match = _CONDITION.match(text)
        if match is None:
            raise bad_request(f"Unsupported filter query: {text!r}. Unity Catalog model version search "
                              "supports a single condition: name = '<model>' or run_id = '<run id>'.")
        field, value = match.groups()
        found: list[tuple[Model, int]] = []
        for model in self.registry.models.values():
            for number, data in model.versions.items():
                if (field == "name" and model.full_name == value) or (field == "run_id" and data["run_id"] == value):
                    found.append((model, number))
        found.sort(key=lambda mv: (mv[0].full_name, -mv[1]))
        limit = min(int(request.arg("max_results") or _PAGE), _PAGE)
        start = int(request.arg("page_token") or 0)
        page = found[start:start + limit]
        body: dict[str, Any] = {"model_versions": [self._version(m, n, search=True) for m, n in page]}
        if start + limit < len(found):
            body["next_page_token"] = str(start + limit)
        return 200, body

    def _get_version(self, request: Request) -> tuple[int, Any]:
        name, version = self._required(request, "name", "version")
        model = self.registry.model(name)
        number, _ = self.registry.stored_version(model, version)
        return 200, {"model_version": self._version(model, number)}

    def _set_tag(self, request: Request) -> tuple[int, Any]:
        name, version, key = self._required(request, "name", "version", "key")
        model = self.registry.model(name)
        _, data = self.registry.stored_version(model, version)
        data["tags"][key] = str(request.arg("value") or "")
        data["updated_at"] = self.registry.clock.now_ms()
        return 200, {}

    def _get_model(self, request: Request) -> tuple[int, Any]:
        (name,) = self._required(request, "name")
        model = self.registry.model(name)
        return 200, {"registered_model": {
            "name": model.full_name, "creation_timestamp": model.created_at,
            "last_updated_timestamp": max((v["updated_at"] for v in model.versions.values()), default=model.created_at),
            "user_id": "emulator@example.com",
            "aliases": [{"alias": a, "version": str(v)} for a, v in sorted(model.aliases.items())]}}

    def _set_alias(self, request: Request) -> tuple[int, Any]:
        name, alias, version = self._required(request, "name", "alias", "version")
        self.registry.move_alias(self.registry.model(name), alias, version)
        return 200, {}

    def _delete_alias(self, request: Request) -> tuple[int, Any]:
        name, alias = self._required(request, "name", "alias")
        self.registry.drop_alias(self.registry.model(name), alias)
        return 200, {}

    def _get_by_alias(self, request: Request) -> tuple[int, Any]:
        name, alias = self._required(request, "name", "alias")
        model = self.registry.model(name)
        return 200, {"model_version": self._version(model, self.registry.alias_target(model, alias))}

    def _get_run(self, request: Request) -> tuple[int, Any]:
        run_id = str(request.arg("run_id") or request.arg("run_uuid") or "")
        run = self.registry.runs.get(run_id)
        if run is None:
            raise ApiError(404, "RESOURCE_DOES_NOT_EXIST", f"Run '{run_id}' not found.")
        at = run.start_time
        return 200, {"run": {
            "info": {"run_id": run.run_id, "run_uuid": run.run_id, "experiment_id": run.experiment_id,
                     "run_name": f"run-{run.run_id[:8]}", "user_id": "emulator@example.com", "status": run.status,
                     "start_time": at, "end_time": at + 1000, "lifecycle_stage": "active",
                     "artifact_uri": f"dbfs:/databricks/mlflow-tracking/{run.experiment_id}/{run.run_id}/artifacts"},
            "data": {"metrics": [{"key": k, "value": v, "timestamp": at, "step": 0} for k, v in run.metrics.items()],
                     "params": [{"key": k, "value": v} for k, v in run.params.items()],
                     "tags": [{"key": k, "value": v} for k, v in run.tags.items()]},
            "inputs": {}}}
