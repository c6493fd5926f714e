"""The Databricks half of the composition root: remote engines and the workspace's lifecycle backends.

``monitor.app`` calls these for ``engine.kind`` ``sql_warehouse``/``spark_connect`` and for
``workspace.kind: databricks``; the embedded default never imports databricks-sdk.
"""

from __future__ import annotations

import os
from collections.abc import MutableMapping
from dataclasses import dataclass

from config.basics.clock import Clock
from config.secrets import reveal
from config.service import SparkConnectSettings, SqlWarehouseSettings, WorkspaceSettings
from config.settings import Settings
from monitor.discovery import MonitorDiscovery
from monitor.engines.base import Engine, EngineError
from monitor.sources import StatusReader, TableResolver
from retrain import JobBackend, MlflowRegistry, ModelRegistry
from retrain.databricks import (
    DatabricksJobBackend,
    ServingEndpoints,
    UnityCatalogRegistry,
    WorkspaceError,
    workspace_client,
)
from retrain.databricks.client import oidc_discovery_url


def remote_engine(settings: Settings) -> Engine:
    """The SQL warehouse or Spark Connect engine the settings name."""
    engine = settings.engine
    if isinstance(engine, SqlWarehouseSettings):
        from monitor.engines.sql_warehouse import SqlWarehouseEngine  # noqa: PLC0415 - the SDK is slow to import

        try:
            client = workspace_client(settings.workspace)
        except WorkspaceError as exc:
            raise EngineError(str(exc)) from exc
        return SqlWarehouseEngine(client, engine.warehouse_id, wait_timeout=engine.wait_timeout,
                                  query_timeout=engine.query_timeout, results=engine.results,
                                  max_concurrent=engine.max_concurrent_statements)
    if isinstance(engine, SparkConnectSettings):
        from monitor.engines.spark_connect import SparkConnectEngine  # noqa: PLC0415 - PySpark is slow to import

        return SparkConnectEngine(engine.remote, token=reveal(engine.token), cluster_id=engine.cluster_id,
                                  use_ssl=engine.use_ssl, lakehouse_root=engine.lakehouse_root,
                                  retry_timeout=engine.retry_timeout)
    raise EngineError(f"engine kind {settings.engine.kind!r} is not a remote engine")


def export_mlflow_credentials(ws: WorkspaceSettings, environ: MutableMapping[str, str] | None = None) -> None:
    """MLflow's Databricks client reads credentials from the environment: give it the workspace's.

    Only for ``databricks`` tracking or registry URIs, and never over variables already set.
    """
    env = os.environ if environ is None else environ
    if not (ws.mlflow_tracking_uri.startswith("databricks") or ws.registry_uri.startswith("databricks")):
        return
    values = {"DATABRICKS_HOST": ws.host, "DATABRICKS_TOKEN": reveal(ws.token),
              "DATABRICKS_CLIENT_ID": ws.client_id, "DATABRICKS_CLIENT_SECRET": reveal(ws.client_secret),
              "ARM_CLIENT_ID": ws.azure_client_id, "ARM_CLIENT_SECRET": reveal(ws.azure_client_secret),
              "ARM_TENANT_ID": ws.azure_tenant_id, "DATABRICKS_CONFIG_PROFILE": ws.profile,
              "DATABRICKS_AUTH_TYPE": ws.auth_type,
              # OAuth M2M finds the token endpoint here; without it databricks-sdk needs host metadata.
              "DATABRICKS_DISCOVERY_URL": oidc_discovery_url(ws.host)
              if ws.client_id and ws.client_secret and ws.host else None}
    if any(env.get(name) for name in ("DATABRICKS_TOKEN", "DATABRICKS_CLIENT_ID", "DATABRICKS_CONFIG_PROFILE",
                                      "ARM_CLIENT_SECRET", "DATABRICKS_AUTH_TYPE")):
        return  # the environment already says how to authenticate; two methods at once is an error
    for name, value in values.items():
        if value:
            env.setdefault(name, value)


@dataclass(frozen=True)
class WorkspaceBackends:
    jobs: JobBackend
    registry: ModelRegistry
    resolve_tables: TableResolver
    discovery: MonitorDiscovery
    serving: ServingEndpoints

    @property
    def monitor_status(self) -> StatusReader:
        """The monitor's status for the judge (``monitor.sources.MonitorStatusSource``)."""
        return self.discovery.status


def databricks_backends(settings: Settings, clock: Clock, mlflow: MlflowRegistry) -> WorkspaceBackends:
    """Jobs, UC aliases and monitor discovery on the workspace of ``settings.workspace``.

    ``mlflow`` (on ``databricks``/``databricks-uc``) keeps what databricks-sdk cannot do: version tags
    and run metrics.
    """
    ws = settings.workspace
    try:
        client = workspace_client(ws)
    except WorkspaceError as exc:
        raise EngineError(str(exc)) from exc
    export_mlflow_credentials(ws)
    discovery = MonitorDiscovery(client, ws.monitor_api, clock=clock)
    registry = UnityCatalogRegistry(client, mlflow)
    return WorkspaceBackends(DatabricksJobBackend(client), registry, discovery.resolve, discovery,
                             ServingEndpoints(client, clock))
