"""Unity Catalog registered models, versions, aliases and MLflow runs: one store, two APIs.

databricks-sdk reads and moves aliases through ``/api/2.1/unity-catalog/models/...`` (versions are
integers there); MLflow's ``databricks-uc`` client uses ``/api/2.0/mlflow/unity-catalog/...`` and its
``databricks`` tracking client ``/api/2.0/mlflow/runs/get`` (``emu_mlflow``; versions are strings
there). Both see the same models, so an alias moved through one is seen by the other.

Seeding, for tests (the lead's lifecycle tests use these)::

    run_id = emu.registry.add_run({"f1": 0.91, "roc_auc": 0.95}, params={"alpha": "0.1"})
    v = emu.registry.add_version("main.ml.churn", run_id, tags={"lakewarden.run_id": "lc-1"})
    v = emu.registry.add_version("main.ml.churn", run_metrics={"f1": 0.88})   # makes the run too
    emu.registry.set_alias("main.ml.churn", "champion", v)
    emu.registry.version("main.ml.churn", v)["tags"]    # what the clients wrote
    emu.registry.aliases("main.ml.churn")               # {"champion": 1}
    emu.registry.runs[run_id].metrics                   # {"f1": 0.91, ...}
    emu.registry.alias_moves                            # [("main.ml.churn", "champion", 2), ...] by the APIs
"""

from __future__ import annotations

import itertools
import threading
import uuid
from dataclasses import dataclass, field
from typing import Any

from emu_clock import EmuClock
from emu_http import ApiError, Request, Router, bad_request


@dataclass
class Run:
    """An MLflow run as ``runs/get`` shows it: metrics (latest value per key), params and tags."""

    run_id: str
    experiment_id: str
    start_time: int
    metrics: dict[str, float] = field(default_factory=dict)
    params: dict[str, str] = field(default_factory=dict)
    tags: dict[str, str] = field(default_factory=dict)
    status: str = "FINISHED"


@dataclass
class Model:
    full_name: str
    created_at: int = 0
    versions: dict[int, dict[str, Any]] = field(default_factory=dict)
    aliases: dict[str, int] = field(default_factory=dict)


class Registry:
    def __init__(self, clock: EmuClock) -> None:
        self.clock = clock
        self.models: dict[str, Model] = {}
        self.runs: dict[str, Run] = {}
        self.alias_moves: list[tuple[str, str, int]] = []  # (model, alias, version) per set through an API
        self._experiments = itertools.count(1934061582364217)
        self._lock = threading.Lock()

    # -- seeding --------------------------------------------------------------------------------

    def add_run(self, metrics: dict[str, float] | None = None, *, params: dict[str, str] | None = None,
                tags: dict[str, str] | None = None, run_id: str | None = None) -> str:
        """A finished MLflow run with these metrics; returns its id (a fresh 32-hex id unless given)."""
        with self._lock:
            run = Run(run_id or uuid.uuid4().hex, str(next(self._experiments)), self.clock.now_ms(),
                      {k: float(v) for k, v in (metrics or {}).items()}, dict(params or {}), dict(tags or {}))
            self.runs[run.run_id] = run
        return run.run_id

    def add_version(self, full_name: str, run_id: str = "", *, tags: dict[str, str] | None = None,
                    run_metrics: dict[str, float] | None = None, description: str = "") -> int:
        """Register the next version of ``full_name`` (the model is created if needed); returns its number.

        ``run_metrics``: also make the run (with ``run_id`` if given, else a fresh one) with these metrics.
        """
        if run_metrics is not None:
            run_id = self.add_run(run_metrics, run_id=run_id or None)
        if full_name.count(".") != 2:
            raise ValueError(f"a three-part model name catalog.schema.model, not {full_name!r}")
        with self._lock:
            now = self.clock.now_ms()
            model = self.models.setdefault(full_name, Model(full_name, now))
            version = max(model.versions, default=0) + 1
            model.versions[version] = {"run_id": run_id, "created_at": now, "updated_at": now,
                                       "tags": dict(tags or {}), "description": description,
                                       "source": f"dbfs:/databricks/mlflow-registry/{full_name}/{version}"}
        return version

    def set_alias(self, full_name: str, alias: str, version: int) -> None:
        model = self.model(full_name)
        if version not in model.versions:
            raise ValueError(f"{full_name} has no version {version}")
        with self._lock:
            model.aliases[alias] = version

    def aliases(self, full_name: str) -> dict[str, int]:
        return dict(self.model(full_name).aliases)

    def version(self, full_name: str, version: int | str) -> dict[str, Any]:
        """The stored version (``run_id``, ``tags``, ``description``, ...): what the clients wrote."""
        return self.model(full_name).versions[int(version)]

    def has_version(self, full_name: str, version: Any) -> bool:
        model = self.models.get(full_name)
        try:
            return model is not None and int(version) in model.versions
        except (TypeError, ValueError):
            return False

    # -- shared by both APIs --------------------------------------------------------------------

    def model(self, name: str) -> Model:
        model = self.models.get(name)
        if model is None:
            raise ApiError(404, "RESOURCE_DOES_NOT_EXIST", f"Registered model '{name}' does not exist.")
        return model

    def stored_version(self, model: Model, version: Any) -> tuple[int, dict[str, Any]]:
        try:
            number = int(version)
        except (TypeError, ValueError):
            raise bad_request(f"version must be a version number, not {version!r}") from None
        if number not in model.versions:
            raise ApiError(404, "RESOURCE_DOES_NOT_EXIST", f"Model version {model.full_name}/{version} does not exist.")
        return number, model.versions[number]

    def move_alias(self, model: Model, alias: str, version: Any) -> int:
        number, _ = self.stored_version(model, version)
        with self._lock:
            model.aliases[alias] = number
            self.alias_moves.append((model.full_name, alias, number))
        return number

    def drop_alias(self, model: Model, alias: str) -> None:
        with self._lock:
            if model.aliases.pop(alias, None) is None:
                raise ApiError(404, "RESOURCE_DOES_NOT_EXIST", f"Alias '{alias}' does not exist.")

    def alias_target(self, model: Model, alias: str) -> int:
        if alias not in model.aliases:
            raise ApiError(404, "RESOURCE_DOES_NOT_EXIST",
                           f"Alias '{alias}' of model '{model.full_name}' does not exist.")
        return model.aliases[alias]

    # -- the Unity Catalog API of databricks-sdk ------------------------------------------------

    def register(self, router: Router) -> None:
        base = "/api/2.1/unity-catalog/models/{name}"
        router.add("GET", base, self._get_model)
        router.add("GET", base + "/versions/{version}", self._get_version)
        router.add("GET", base + "/aliases/{alias}", self._get_alias)
        router.add("PUT", base + "/aliases/{alias}", self._set_alias)
        router.add("DELETE", base + "/aliases/{alias}", self._delete_alias)

    def _version_info(self, model: Model, version: int) -> dict[str, Any]:
        catalog, schema, name = model.full_name.split(".")
        data = model.versions[version]
        return {"model_name": name, "catalog_name": catalog, "schema_name": schema, "version": version,
                "status": "READY", "run_id": data["run_id"], "created_at": data["created_at"],
                "comment": data["description"] or None,
                "aliases": [{"alias_name": a, "version_num": v}
                            for a, v in sorted(model.aliases.items()) if v == version]}

    def _get_model(self, request: Request) -> tuple[int, Any]:
        model = self.model(request.params["name"])
        catalog, schema, name = model.full_name.split(".")
        return 200, {"full_name": model.full_name, "name": name, "catalog_name": catalog, "schema_name": schema,
                     "aliases": [{"alias_name": a, "version_num": v} for a, v in sorted(model.aliases.items())]}

    def _get_version(self, request: Request) -> tuple[int, Any]:
        model = self.model(request.params["name"])
        number, _ = self.stored_version(model, request.params["version"])
        return 200, self._version_info(model, number)

    def _get_alias(self, request: Request) -> tuple[int, Any]:
        model = self.model(request.params["name"])
        return 200, self._version_info(model, self.alias_target(model, request.params["alias"]))

    def _set_alias(self, request: Request) -> tuple[int, Any]:
        model = self.model(request.params["name"])
        version = request.body.get("version_num")
        if not isinstance(version, int) or isinstance(version, bool):
            raise bad_request(f"version_num must be an integer, not {version!r}")
        self.move_alias(model, request.params["alias"], version)
        return 200, {"alias_name": request.params["alias"], "version_num": version}

    def _delete_alias(self, request: Request) -> tuple[int, Any]:
        self.drop_alias(self.model(request.params["name"]), request.params["alias"])
        return 200, {}
