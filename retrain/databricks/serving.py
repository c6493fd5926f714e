"""Serving endpoints for rollout and rollback: read, update with a snapshot, wait for NOT_UPDATING.

Every field of the served entities is kept (``served_config``): an update changes versions and
traffic only, on ``served_entities`` and legacy ``served_models`` endpoints alike. Databricks has no
rollback call: :meth:`ServingEndpoints.update` snapshots the current config before it changes
anything, and :meth:`rollback` re-issues that snapshot. Only one update may be in flight, so an
update first checks ``config_update`` and refuses with :class:`EndpointBusy`; routes are checked
locally (integers summing to 100, naming served entities of the same update) before the workspace
sees them. Waiting polls with an injected clock and sleep.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from datetime import timedelta
from typing import TYPE_CHECKING
from urllib.parse import quote

import structlog

from config.basics.clock import Clock
from retrain import serving
from retrain.databricks.client import WorkspaceError, describe_error, is_not_found
from retrain.databricks.served_config import read_entities, update_body
from retrain.serving import EndpointSnapshot, EndpointState, ServedEntity, check_routes

if TYPE_CHECKING:
    from databricks.sdk import WorkspaceClient

log = structlog.get_logger(__name__)


class EndpointBusy(WorkspaceError, serving.EndpointBusy):
    """An update of the endpoint is already in progress; try again after it ends."""


class EndpointMissing(WorkspaceError, serving.EndpointMissing):
    """The serving endpoint does not exist in the workspace."""


class EndpointUpdateFailed(WorkspaceError):
    """The workspace reported UPDATE_FAILED or UPDATE_CANCELED for the endpoint's last update."""


class ServingEndpoints:
    def __init__(self, client: WorkspaceClient, clock: Clock,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        self._client = client
        self._clock = clock
        self._sleep = sleep

    @property
    def host(self) -> str:
        return str(self._client.config.host)

    def read(self, name: str) -> EndpointState:
        try:
            # Raw JSON, not the SDK's dataclasses: every field of the served entities, for update_body.
            detail = self._client.api_client.do("GET", f"/api/2.0/serving-endpoints/{quote(name, safe='')}")
        except Exception as exc:
            if is_not_found(exc):
                raise EndpointMissing(f"serving endpoint {name} does not exist at {self.host}") from exc
            raise WorkspaceError(describe_error(exc, f"reading serving endpoint {name}", self.host)) from exc
        detail = detail if isinstance(detail, dict) else {}
        config = detail.get("config") or {}
        entities, routes, legacy = read_entities(name, config)
        state = detail.get("state") or {}
        return EndpointState(name, str(state.get("ready") or "NOT_READY"),
                             str(state.get("config_update") or "NOT_UPDATING"),
                             config.get("config_version"), entities, routes, legacy)

    def snapshot(self, name: str) -> EndpointSnapshot:
        return self.read(name).snapshot()

    def put(self, name: str, entities: Sequence[ServedEntity], routes: Mapping[str, int]) -> None:
        """Start an update to exactly this config (``ServingBackend.put``); refuses while one is in flight."""
        check_routes(entities, routes)
        current = self.read(name)
        if current.updating:
            raise EndpointBusy(f"serving endpoint {name} is being updated already (config_update IN_PROGRESS); "
                               "lakewarden waits for it to finish before changing it")
        self._put(name, entities, routes, current.legacy)
        log.info("serving_endpoint_update", endpoint=name, routes=dict(routes), from_version=current.config_version)

    def update(self, name: str, entities: Sequence[ServedEntity], routes: Mapping[str, int]) -> EndpointSnapshot:
        """Start an update; returns the snapshot of the config it replaces (for :meth:`rollback`)."""
        snapshot = self.snapshot(name)
        self.put(name, entities, routes)
        return snapshot

    def rollback(self, snapshot: EndpointSnapshot) -> None:
        """Re-issue the snapshot's config (there is no rollback call in the API)."""
        current = self.read(snapshot.endpoint)
        if current.updating:
            raise EndpointBusy(f"serving endpoint {snapshot.endpoint} is being updated; roll back after it ends")
        self._put(snapshot.endpoint, snapshot.entities, snapshot.routes, snapshot.legacy or current.legacy)
        log.info("serving_endpoint_rollback", endpoint=snapshot.endpoint, to_version=snapshot.config_version)

    def _put(self, name: str, entities: Sequence[ServedEntity], routes: Mapping[str, int], legacy: bool) -> None:
        try:
            self._client.api_client.do("PUT", f"/api/2.0/serving-endpoints/{quote(name, safe='')}/config",
                                       body=update_body(entities, routes, legacy))
        except Exception as exc:
            from databricks.sdk import errors  # noqa: PLC0415

            if isinstance(exc, errors.ResourceConflict):
                raise EndpointBusy(describe_error(exc, f"updating serving endpoint {name}", self.host)) from exc
            raise WorkspaceError(describe_error(exc, f"updating serving endpoint {name}", self.host)) from exc

    def wait_until_updated(self, name: str, timeout: timedelta,
                           poll: timedelta = timedelta(seconds=10)) -> EndpointState:
        """Poll until ``config_update`` leaves IN_PROGRESS; raise on UPDATE_FAILED/CANCELED or at the timeout."""
        deadline = self._clock() + timeout
        state = self.read(name)
        while state.updating:
            if self._clock() >= deadline:
                raise WorkspaceError(f"serving endpoint {name} was still updating after {timeout}")
            self._sleep(poll.total_seconds())
            state = self.read(name)
        if state.config_update in ("UPDATE_FAILED", "UPDATE_CANCELED"):
            raise EndpointUpdateFailed(f"serving endpoint {name}: the update ended {state.config_update}; "
                                       f"it still serves config version {state.config_version}")
        return state
