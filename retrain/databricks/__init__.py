"""Databricks workspace clients for the lifecycle, on databricks-sdk: jobs, serving endpoints, UC aliases.

``workspace_client(settings.workspace)`` builds the one SDK client (lakewarden's retry budget);
``DatabricksJobBackend`` is a ``JobBackend``; ``UnityCatalogRegistry`` a ``ModelRegistry``;
``ServingEndpoints`` reads and updates endpoints with a snapshot for rollback.
"""

from retrain.databricks.client import WorkspaceError, describe_error, is_not_found, workspace_client
from retrain.databricks.jobs import DatabricksJobBackend, idempotency_token
from retrain.databricks.registry import UnityCatalogRegistry
from retrain.databricks.serving import EndpointBusy, EndpointMissing, EndpointUpdateFailed, ServingEndpoints
from retrain.serving import EndpointSnapshot, EndpointState, ServedEntity

__all__ = [
    "DatabricksJobBackend",
    "EndpointBusy",
    "EndpointMissing",
    "EndpointSnapshot",
    "EndpointState",
    "EndpointUpdateFailed",
    "ServedEntity",
    "ServingEndpoints",
    "UnityCatalogRegistry",
    "WorkspaceError",
    "describe_error",
    "idempotency_token",
    "is_not_found",
    "workspace_client",
]
