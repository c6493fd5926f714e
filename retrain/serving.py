"""Serving endpoints as the lifecycle sees them: served entities, routes, and the two backends' protocol.

A rollout snapshots an endpoint before it changes anything and re-issues the snapshot to roll back
(Databricks has no rollback call). Versions are text everywhere. Entity names are chosen by
lakewarden (``entity_name_for``) so routes can name them and a restart can tell whether an update it
asked for is already in place (``EndpointState.serves``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol


class ServingError(Exception):
    """A serving endpoint could not be read or changed; the message says which and why."""


class EndpointMissing(ServingError):
    """The endpoint does not exist."""


class EndpointBusy(ServingError):
    """An update of the endpoint is already in progress; try again after it ends."""


@dataclass(frozen=True)
class ServedEntity:
    """One served entity. ``settings`` is everything else the workspace reported for it that an update
    can send back (environment variables, workload type, provisioned throughput/concurrency, instance
    profile, ...): a rollout changes only versions and traffic, so it re-sends them untouched. They may
    hold secrets (environment variables), so they are never in a repr, a log line or a message."""

    name: str                 # the served entity's name, which routes refer to
    entity_name: str          # the registered model, e.g. main.ml.churn
    entity_version: str       # always text (the UC registry's form)
    workload_size: str = "Small"
    scale_to_zero_enabled: bool = True
    settings: Mapping[str, Any] = field(default_factory=dict, compare=False, repr=False)

    def to_json(self) -> dict[str, Any]:
        data = {"name": self.name, "entity_name": self.entity_name, "entity_version": self.entity_version,
                "workload_size": self.workload_size, "scale_to_zero_enabled": self.scale_to_zero_enabled}
        return {**data, "settings": dict(self.settings)} if self.settings else data

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> ServedEntity:
        return cls(str(data["name"]), str(data["entity_name"]), str(data["entity_version"]),
                   str(data.get("workload_size", "Small")), bool(data.get("scale_to_zero_enabled", True)),
                   dict(data.get("settings") or {}))

    def like(self, name: str, entity_name: str, entity_version: str) -> ServedEntity:
        """Another version served the way this one is (its settings, but not an external model's)."""
        settings = {k: v for k, v in self.settings.items() if k != "external_model"}
        return ServedEntity(name, entity_name, entity_version, self.workload_size, self.scale_to_zero_enabled,
                            settings)


@dataclass(frozen=True)
class EndpointState:
    name: str
    ready: str                           # READY | NOT_READY
    config_update: str                   # NOT_UPDATING | IN_PROGRESS | UPDATE_FAILED | UPDATE_CANCELED
    config_version: int | None
    entities: tuple[ServedEntity, ...]
    routes: Mapping[str, int]            # served entity name -> traffic percentage
    legacy: bool = False                 # built with ``served_models``: updates keep that form

    @property
    def updating(self) -> bool:
        return self.config_update == "IN_PROGRESS"

    @property
    def update_failed(self) -> bool:
        return self.config_update in ("UPDATE_FAILED", "UPDATE_CANCELED")

    def serves(self, entities: Sequence[ServedEntity], routes: Mapping[str, int]) -> bool:
        """Whether the endpoint's config is exactly these entities (by name, model, version) and routes."""
        def key(items: Sequence[ServedEntity]) -> set[tuple[str, str, str]]:
            return {(e.name, e.entity_name, e.entity_version) for e in items}
        mine = {name: share for name, share in self.routes.items() if share}
        wanted = {name: share for name, share in routes.items() if share}
        return key(self.entities) == key(entities) and mine == wanted

    def snapshot(self) -> EndpointSnapshot:
        return EndpointSnapshot(self.name, self.config_version, self.entities, dict(self.routes), self.legacy)


@dataclass(frozen=True)
class EndpointSnapshot:
    """An endpoint's config before a change: what a rollback puts back."""

    endpoint: str
    config_version: int | None
    entities: tuple[ServedEntity, ...]
    routes: Mapping[str, int]
    legacy: bool = False

    def to_json(self) -> dict[str, Any]:
        return {"endpoint": self.endpoint, "config_version": self.config_version,
                "entities": [e.to_json() for e in self.entities], "routes": dict(self.routes),
                "legacy": self.legacy}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> EndpointSnapshot:
        return cls(str(data["endpoint"]), data.get("config_version"),
                   tuple(ServedEntity.from_json(e) for e in data["entities"]),
                   {str(k): int(v) for k, v in data["routes"].items()}, bool(data.get("legacy", False)))


def check_routes(entities: Sequence[ServedEntity], routes: Mapping[str, int]) -> None:
    names = [e.name for e in entities]
    if not entities or len(set(names)) != len(names):
        raise ValueError(f"served entities need distinct names, got {names}")
    unknown = sorted(set(routes) - set(names))
    if unknown:
        raise ValueError(f"routes name {unknown}, which are not served entities of the update ({names})")
    if any(not isinstance(p, int) or isinstance(p, bool) or p < 0 for p in routes.values()):
        raise ValueError(f"traffic percentages must be non-negative integers, got {dict(routes)}")
    if sum(routes.values()) != 100:
        raise ValueError(f"traffic percentages must sum to 100, got {sum(routes.values())}: {dict(routes)}")


def entity_name_for(model: str, version: str) -> str:
    """The served entity name lakewarden gives a version: ``churn-3`` for ``main.ml.churn`` version 3."""
    return f"{model.rsplit('.', 1)[-1]}-{version}"[:63]


class ServingBackend(Protocol):
    """Reads and changes serving endpoints: Databricks (``ServingEndpoints``) or local records."""

    def read(self, name: str) -> EndpointState:
        """The endpoint now; :class:`EndpointMissing` when it does not exist."""
        ...

    def put(self, name: str, entities: Sequence[ServedEntity], routes: Mapping[str, int]) -> None:
        """Start an update to exactly this config; :class:`EndpointBusy` while another one runs."""
        ...
