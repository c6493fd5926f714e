"""Where lakewarden runs its SQL, which workspace it talks to, where it keeps state, and how it serves."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import Field, SecretStr, model_validator

from config.base import Strict
from config.durations import Duration
from config.secrets import resolve_secret_files


class LocalSparkEngine(Strict):
    """Local PySpark over a folder of Parquet tables: ``main.ml.t`` lives at ``<lakehouse_root>/main/ml/t``."""

    kind: Literal["local_spark"] = "local_spark"
    lakehouse_root: Path = Path(".lakewarden/lakehouse")
    spark_conf: dict[str, str] = Field(default_factory=dict)


class SqlWarehouseEngine(Strict):
    """A Databricks SQL warehouse through the Statement Execution API (the workspace block gives host and auth)."""

    kind: Literal["sql_warehouse"]
    warehouse_id: str
    wait_timeout: Duration = Field(default="30s", validate_default=True)


class SparkConnectEngine(Strict):
    """A remote SparkSession: Databricks Connect or a Spark Connect server (``sc://host:15002``)."""

    kind: Literal["spark_connect"]
    remote: str


EngineSettings = Annotated[LocalSparkEngine | SqlWarehouseEngine | SparkConnectEngine, Field(discriminator="kind")]


class WorkspaceSettings(Strict):
    """The workspace whose jobs, endpoints, monitors and model registry lakewarden drives.

    ``local`` is the embedded default: subprocess jobs and MLflow on SQLite. ``databricks`` uses the
    workspace at ``host`` with a personal access token (``token`` or ``token_file``) or OAuth M2M
    (``client_id`` with ``client_secret`` or ``client_secret_file``).
    """

    kind: Literal["local", "databricks"] = "local"
    host: str | None = None
    token: SecretStr | None = None
    client_id: str | None = None
    client_secret: SecretStr | None = None
    mlflow_tracking_uri: str = "sqlite:///.lakewarden/mlflow.db"
    mlflow_registry_uri: str | None = None
    jobs_dir: Path = Path(".lakewarden/jobs")

    @model_validator(mode="before")
    @classmethod
    def _secret_files(cls, values: Any) -> Any:
        return resolve_secret_files(values, ("token", "client_secret"))

    @model_validator(mode="after")
    def _auth(self) -> WorkspaceSettings:
        if self.kind == "databricks":
            if not self.host:
                raise ValueError("host is required for a databricks workspace (e.g. https://adb-123.azuredatabricks.net)")
            if self.token is None and self.client_id is None:
                raise ValueError("a databricks workspace needs token (or token_file) or client_id + client_secret")
            if self.token is not None and self.client_id is not None:
                raise ValueError("give token or client_id/client_secret, not both (two auth methods is an error)")
            if self.client_id is not None and self.client_secret is None:
                raise ValueError("client_id needs client_secret (or client_secret_file)")
        return self

    @property
    def registry_uri(self) -> str:
        return self.mlflow_registry_uri or self.mlflow_tracking_uri


class StateSettings(Strict):
    """The state database: SQLite (WAL) by default; a PostgreSQL URL where replicas share state."""

    url: str = "sqlite:///.lakewarden/state.db"
    busy_timeout: Duration = Field(default="10s", validate_default=True)


class HttpSettings(Strict):
    host: str = "127.0.0.1"
    port: int = Field(default=8080, ge=0, le=65535)


class ServiceSettings(Strict):
    """How the daemon itself behaves."""

    http: HttpSettings = Field(default_factory=HttpSettings)
    shutdown_deadline: Duration = Field(default="30s", validate_default=True)
    delivery_interval: Duration = Field(default="2s", validate_default=True)
    lifecycle_interval: Duration = Field(default="30s", validate_default=True)
    log_level: Literal["debug", "info", "warning", "error"] = "info"
    log_format: Literal["auto", "json", "console"] = "auto"
