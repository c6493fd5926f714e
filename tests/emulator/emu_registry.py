"""Unity Catalog registered models, versions and aliases (``/api/2.1/unity-catalog/models/...``),
the paths databricks-sdk uses for aliases. Versions are integers here, as in the SDK."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Any

from emu_clock import EmuClock
from emu_http import ApiError, Request, Router, bad_request


@dataclass
class Model:
    full_name: str
    versions: dict[int, dict[str, Any]] = field(default_factory=dict)
    aliases: dict[str, int] = field(default_factory=dict)


class Registry:
    def __init__(self, clock: EmuClock) -> None:
        self.clock = clock
        self.models: dict[str, Model] = {}
        self._lock = threading.Lock()

    def add_version(self, full_name: str, run_id: str = "") -> int:
        with self._lock:
            model = self.models.setdefault(full_name, Model(full_name))
            version = max(model.versions, default=0) + 1
            model.versions[version] = {"run_id": run_id, "created_at": self.clock.now_ms()}
        return version

    def has_version(self, full_name: str, version: Any) -> bool:
        model = self.models.get(full_name)
        try:
            return model is not None and int(version) in model.versions
        except (TypeError, ValueError):
            return False

    def register(self, router: Router) -> None:
        base = "/api/2.1/unity-catalog/models/{name}"
        router.add("GET", base, self._get_model)
        router.add("GET", base + "/versions/{version}", self._get_version)
        router.add("GET", base + "/aliases/{alias}", self._get_alias)
        router.add("PUT", base + "/aliases/{alias}", self._set_alias)
        router.add("DELETE", base + "/aliases/{alias}", self._delete_alias)

    def _model(self, name: str) -> Model:
        model = self.models.get(name)
        if model is None:
            raise ApiError(404, "RESOURCE_DOES_NOT_EXIST", f"Registered model '{name}' does not exist.")
        return model

    def _version_info(self, model: Model, version: int) -> dict[str, Any]:
        catalog, schema, name = model.full_name.split(".")
        data = model.versions[version]
        return {"model_name": name, "catalog_name": catalog, "schema_name": schema, "version": version,
                "status": "READY", "run_id": data["run_id"], "created_at": data["created_at"],
                "aliases": [{"alias_name": a, "version_num": v}
                            for a, v in sorted(model.aliases.items()) if v == version]}

    def _get_model(self, request: Request) -> tuple[int, Any]:
        model = self._model(request.params["name"])
        catalog, schema, name = model.full_name.split(".")
        return 200, {"full_name": model.full_name, "name": name, "catalog_name": catalog, "schema_name": schema,
                     "aliases": [{"alias_name": a, "version_num": v} for a, v in sorted(model.aliases.items())]}

    def _get_version(self, request: Request) -> tuple[int, Any]:
        model = self._model(request.params["name"])
        version = int(request.params["version"])
        if version not in model.versions:
            raise ApiError(404, "RESOURCE_DOES_NOT_EXIST", f"Model version {model.full_name}/{version} does not exist.")
        return 200, self._version_info(model, version)

    def _get_alias(self, request: Request) -> tuple[int, Any]:
        model = self._model(request.params["name"])
        alias = request.params["alias"]
        if alias not in model.aliases:
            raise ApiError(404, "RESOURCE_DOES_NOT_EXIST",
                           f"Alias '{alias}' of model '{model.full_name}' does not exist.")
        return 200, self._version_info(model, model.aliases[alias])

    def _set_alias(self, request: Request) -> tuple[int, Any]:
        model = self._model(request.params["name"])
        version = request.body.get("version_num")
        if not isinstance(version, int) or isinstance(version, bool):
            raise bad_request(f"version_num must be an integer, not {version!r}")
        if version not in model.versions:
            raise ApiError(404, "RESOURCE_DOES_NOT_EXIST", f"Model version {model.full_name}/{version} does not exist.")
        with self._lock:
            model.aliases[request.params["alias"]] = version
        return 200, {"alias_name": request.params["alias"], "version_num": version}

    def _delete_alias(self, request: Request) -> tuple[int, Any]:
        model = self._model(request.params["name"])
        with self._lock:
            if model.aliases.pop(request.params["alias"], None) is None:
                raise ApiError(404, "RESOURCE_DOES_NOT_EXIST", f"Alias '{request.params['alias']}' does not exist.")
        return 200, {}
