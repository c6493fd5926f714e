"""Where lakewarden runs its SQL, which workspace it talks to, where it keeps state, and how it serves."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import Field, SecretStr, field_validator, model_validator

from config.base import Strict
from config.durations import Duration, at_least
from config.secrets import resolve_secret_files
from config.self_alerts import SelfAlertSettings
from config.urls import database_url, no_userinfo, tracking_uri

_MIN_WEBHOOK_SECRET = 16  # characters; a guessable secret on an open port is no secret
POLL_BATCH_TABLES = 32  # ``service.poll_batch_tables`` unset (why 32: at the setting)


class LocalSparkSettings(Strict):
    """Local PySpark over a folder of Parquet tables: ``main.ml.t`` lives at ``<lakehouse_root>/main/ml/t``."""

    kind: Literal["local_spark"] = "local_spark"
    lakehouse_root: Path = Path(".lakewarden/lakehouse")
    spark_conf: dict[str, str] = Field(default_factory=dict)


class SqlWarehouseSettings(Strict):
    """A Databricks SQL warehouse through the Statement Execution API (the workspace block gives host and auth).

    ``wait_timeout`` is how long one request waits on the server before lakewarden polls (0s, or 5s to
    50s; default 10s, at most half of ``service.shutdown_deadline`` and at least 10s below
    ``workspace.http_timeout``: see ``config.warehouse_timing``); ``query_timeout`` bounds a whole
    statement, polling included: past it the statement is cancelled and the poll fails with a
    message, so a stopped warehouse never hangs a cycle.
    ``max_concurrent_statements``: statements lakewarden has running or queued on the warehouse at
    once (concurrent polls share them); a Databricks SQL warehouse runs about 10 per cluster before
    it queues, so the default 8 leaves room for other users.
    """

    kind: Literal["sql_warehouse"]
    warehouse_id: str = Field(pattern=r"^[A-Za-z0-9]+$")
    wait_timeout: Duration = Field(default="10s", validate_default=True)
    query_timeout: Duration = Field(default="3m", validate_default=True)
    # How results come back: ``auto`` asks for INLINE JSON (no second network hop, no access to cloud
    # storage needed) and, when the warehouse aborts a result over the 25 MiB INLINE limit, runs the
    # read again as EXTERNAL_LINKS + ARROW_STREAM; ``external_links`` always; ``inline`` never.
    results: Literal["auto", "inline", "external_links"] = "auto"
    max_concurrent_statements: int = Field(default=8, ge=1, le=100)

    @field_validator("wait_timeout")
    @classmethod
    def _wait_timeout(cls, value: timedelta) -> timedelta:
        seconds = value.total_seconds()
        if seconds != 0 and not (5 <= seconds <= 50 and seconds.is_integer()):
            raise ValueError("0s, or whole seconds from 5s to 50s (the Statement Execution API's range)")
        return value

    @field_validator("query_timeout")
    @classmethod
    def _query_timeout(cls, value: timedelta) -> timedelta:
        if value < timedelta(seconds=1):
            raise ValueError("a duration of at least 1s, such as 3m")
        return value


class SparkConnectSettings(Strict):
    """A remote SparkSession: Databricks Connect or a Spark Connect server (``sc://host:15002``).

    Tables are three-part names in the server's catalog (Unity Catalog on Databricks). A plain Spark
    server without a catalog can serve a lakehouse folder instead: ``lakehouse_root`` is then the
    folder *on the server* where ``cat.schema.t`` is Parquet at ``<root>/cat/schema/t``. The token
    (``token`` or ``token_file``) and ``cluster_id`` are added to the connection string; never put a
    token in ``remote`` itself.
    """

    kind: Literal["spark_connect"]
    remote: str = Field(pattern=r"^sc://[^/;?#]+(:\d+)?/?$")
    token: SecretStr | None = None
    cluster_id: str | None = Field(default=None, pattern=r"^[A-Za-z0-9-]+$")
    use_ssl: bool | None = None
    lakehouse_root: str | None = None
    # PySpark retries an unreachable server for over ten minutes by default; this bounds it.
    retry_timeout: Duration = Field(default="30s", validate_default=True)

    @model_validator(mode="before")
    @classmethod
    def _secret_files(cls, values: Any) -> Any:
        if isinstance(values, dict) and "token=" in str(values.get("remote", "")):
            raise ValueError("remote must not carry a token: give token or token_file instead")
        return resolve_secret_files(values, ("token",))

    @field_validator("remote")
    @classmethod
    def _no_credentials(cls, value: str) -> str:
        no_userinfo(value, "token (or token_file)", shown=False)
        return value

    @field_validator("lakehouse_root")
    @classmethod
    def _absolute_root(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith("/"):
            raise ValueError(f"an absolute path on the Spark Connect server, not {value!r}")
        return value


EngineSettings = Annotated[LocalSparkSettings | SqlWarehouseSettings | SparkConnectSettings,
                           Field(discriminator="kind")]


class WorkspaceSettings(Strict):
    """The workspace whose jobs, endpoints, monitors and model registry lakewarden drives.

    ``local`` is the embedded default: subprocess jobs and MLflow on SQLite. ``databricks`` uses the
    workspace at ``host`` (or the host of ``profile``), authenticated by databricks-sdk's default
    credential chain: lakewarden passes only what is configured here (a personal access token
    ``token``; OAuth M2M ``client_id`` + ``client_secret``; an Azure Entra ID service principal
    ``azure_client_id`` + ``azure_client_secret`` + ``azure_tenant_id``; a ``~/.databrickscfg``
    ``profile``; ``auth_type`` to pin one method) and the SDK finds the rest in its usual places
    (``DATABRICKS_*``/``ARM_*`` variables, the Azure CLI, workload identity federation tokens,
    profiles). See docs/databricks-auth.md. ``monitor_api`` picks the Lakehouse Monitoring API
    (``legacy`` quality monitors, the new ``data_quality`` API, or ``auto``: the new one when the
    workspace serves it).
    """

    kind: Literal["local", "databricks"] = "local"
    host: str | None = None
    token: SecretStr | None = None
    client_id: str | None = None
    client_secret: SecretStr | None = None
    azure_client_id: str | None = None
    azure_client_secret: SecretStr | None = None
    azure_tenant_id: str | None = None
    profile: str | None = None
    auth_type: str | None = Field(default=None, pattern=r"^[a-z][a-z0-9-]*$")
    mlflow_tracking_uri: str = "sqlite:///.lakewarden/mlflow.db"
    mlflow_registry_uri: str | None = None
    jobs_dir: Path = Path(".lakewarden/jobs")
    # databricks-sdk retries 429, 503 and connection errors for up to this long per call (its own
    # default is 5 minutes); lakewarden's next poll is the longer retry.
    retry_timeout: Duration = Field(default="30s", validate_default=True)
    http_timeout: Duration = Field(default="30s", validate_default=True)
    monitor_api: Literal["auto", "legacy", "data_quality"] = "auto"

    @model_validator(mode="before")
    @classmethod
    def _secret_files(cls, values: Any) -> Any:
        return resolve_secret_files(values, ("token", "client_secret", "azure_client_secret"))

    @field_validator("mlflow_tracking_uri", "mlflow_registry_uri")
    @classmethod
    def _mlflow_uri(cls, value: str | None) -> str | None:
        return None if value is None else tracking_uri(value)

    @field_validator("host")
    @classmethod
    def _host(cls, value: str | None) -> str | None:
        if value is None or not value.strip():
            return None
        no_userinfo(value, "token (or token_file) or client_id + client_secret")
        return value

    @model_validator(mode="after")
    def _auth(self) -> WorkspaceSettings:
        if self.kind == "databricks":
            if not self.host and not self.profile:
                raise ValueError("host (or a profile that names one) is required for a databricks workspace "
                                 "(e.g. https://adb-123.azuredatabricks.net)")
            if self.host and not self.host.startswith(("https://", "http://")):
                raise ValueError(f"host must be a URL such as https://adb-123.azuredatabricks.net, not {self.host!r}")
            oauth = self.client_id is not None or self.client_secret is not None
            methods = [name for name, given in (("token", self.token is not None), ("client_id/client_secret", oauth),
                                                ("azure_client_secret", self.azure_client_secret is not None)) if given]
            if len(methods) > 1 and self.auth_type is None:
                how = "not both" if len(methods) == 2 else "only one"
                raise ValueError(f"give {' or '.join(methods)}, {how}: two auth methods is an error (or pin one "
                                 "with auth_type)")
            if self.client_secret is not None and self.client_id is None:
                raise ValueError("client_secret needs client_id (the service principal's application id)")
            if self.azure_client_secret is not None and not (self.azure_client_id and self.azure_tenant_id):
                raise ValueError("azure_client_secret needs azure_client_id and azure_tenant_id")
        return self

    @property
    def registry_uri(self) -> str:
        return self.mlflow_registry_uri or self.mlflow_tracking_uri


class StateSettings(Strict):
    """The state database: SQLite (WAL) by default; a PostgreSQL URL where replicas share state."""

    url: str = "sqlite:///.lakewarden/state.db"
    busy_timeout: Duration = Field(default="10s", validate_default=True)

    @field_validator("url")
    @classmethod
    def _url(cls, value: str) -> str:
        return database_url(value)


class HttpSettings(Strict):
    """The HTTP surface (``monitor.web``): probes, the webhook, ``/metrics``, the APIs, the status page.

    ``api_token`` (or ``api_token_file``): the bearer token that the API's writes need (silences,
    lifecycle start and cancel); without one, writes are refused (403). ``protect_reads``: reads of the
    APIs, ``/metrics`` and the status page need it too (the probes and the webhook never do). Limits:
    ``max_body`` bytes per request body, ``max_json_depth`` nesting levels of a JSON body (deeper is a
    400), ``header_timeout`` for a client to send its request line and headers (and each part of a
    body), ``max_connections`` open at once (more get a 503). ``metrics_cache``: how often ``/metrics``
    re-reads the state database in the background while it is scraped (``0s``: read at every scrape;
    see ``monitor/web/metrics.py``).
    """

    host: str = "127.0.0.1"
    port: int = Field(default=8080, ge=0, le=65535)
    api_token: SecretStr | None = None
    protect_reads: bool = False
    max_body: int = Field(default=1024 * 1024, ge=1024, le=64 * 1024 * 1024)
    max_json_depth: int = Field(default=32, ge=2, le=512)
    header_timeout: Duration = Field(default="10s", validate_default=True)
    max_connections: int = Field(default=256, ge=4, le=65536)
    metrics_cache: Duration = Field(default="5s", validate_default=True)

    @model_validator(mode="before")
    @classmethod
    def _secret_files(cls, values: Any) -> Any:
        return resolve_secret_files(values, ("api_token",))

    @model_validator(mode="after")
    def _token(self) -> HttpSettings:
        if self.api_token is not None and len(self.api_token.get_secret_value()) < _MIN_WEBHOOK_SECRET:
            raise ValueError(f"api_token is shorter than {_MIN_WEBHOOK_SECRET} characters: use a random secret, "
                             "e.g. `openssl rand -hex 32`")
        if self.protect_reads and self.api_token is None:
            raise ValueError("protect_reads needs api_token (or api_token_file): the token reads would need")
        return self


class WebhookSettings(Strict):
    """The ingress for Databricks job notifications (``POST /webhooks/databricks/jobs``).

    Off unless a credential is set: HTTP basic auth (``username`` with ``password`` or
    ``password_file``, what a Databricks notification destination of type webhook sends) and/or a
    bearer token (``token`` or ``token_file``). A request passes with either configured credential.
    """

    username: str | None = Field(default=None, pattern=r"^[^:\s]+$")  # basic auth: no colon in a user id
    password: SecretStr | None = None
    token: SecretStr | None = None

    @model_validator(mode="before")
    @classmethod
    def _secret_files(cls, values: Any) -> Any:
        return resolve_secret_files(values, ("password", "token"))

    @model_validator(mode="after")
    def _pairs(self) -> WebhookSettings:
        if (self.username is None) != (self.password is None):
            raise ValueError("basic auth needs both username and password (or password_file)")
        for name in ("password", "token"):
            secret = getattr(self, name)
            if secret is not None and len(secret.get_secret_value()) < _MIN_WEBHOOK_SECRET:
                raise ValueError(f"{name} is shorter than {_MIN_WEBHOOK_SECRET} characters: use a random "
                                 "secret, e.g. `openssl rand -hex 32`")
        return self

    @property
    def enabled(self) -> bool:
        return self.password is not None or self.token is not None


class ServiceSettings(Strict):
    """How the daemon itself behaves (``self_alerts``: how it watches itself, ``config.self_alerts``)."""

    http: HttpSettings = Field(default_factory=HttpSettings)
    webhooks: WebhookSettings = Field(default_factory=WebhookSettings)
    self_alerts: SelfAlertSettings = Field(default_factory=SelfAlertSettings)
    shutdown_deadline: Duration = Field(default="30s", validate_default=True)
    delivery_interval: Duration = Field(default="2s", validate_default=True)
    lifecycle_interval: Duration = Field(default="30s", validate_default=True)
    # Replicas sharing a PostgreSQL state database hold models and the alert flushes under leases of
    # this TTL (``monitor.leases``): a dead replica's work moves to the others within about this long.
    lease_ttl: Duration = Field(default="30s", validate_default=True)
    log_level: Literal["debug", "info", "warning", "error"] = "info"
    log_format: Literal["auto", "json", "console"] = "auto"
    # Models polled at once (their reads on a pool of threads; judgements one model at a time). None:
    # per engine, 4 on local Spark (two cores' worth of overlapping jobs), 8 on a SQL warehouse or
    # Spark Connect (bounded by the warehouse's max_concurrent_statements as well).
    poll_concurrency: int | None = Field(default=None, ge=1, le=64)
    # Metric tables per batched statement (the cycle's table-version probe and versions query: UNION ALL
    # over many models' tables). 1 turns batching off. 32 on every engine: Spark holds a copy of its
    # Hadoop settings (~100 KB) per table a statement names until it ends, and plans and runs a UNION
    # ALL at a cost that grows faster than its width; 100-table statements filled the driver at 1,000
    # models (bench/RESULTS.md, fleet). 1,000 models still cost about 1.1 statements each.
    poll_batch_tables: int = Field(default=POLL_BATCH_TABLES, ge=1, le=1000)

    # Each delivery tick reads the outbox (one small query): 100ms keeps a test's 0.5s fast and 0
    # (a busy loop on the state database) out. Each lifecycle tick polls job runs over the network.
    _delivery = field_validator("delivery_interval")(at_least(
        timedelta(milliseconds=100), "0 would read the outbox in a busy loop"))
    _lifecycle = field_validator("lifecycle_interval")(at_least(
        timedelta(seconds=1), "0 would poll lifecycle jobs in a busy loop"))
    _lease = field_validator("lease_ttl")(at_least(
        timedelta(seconds=1), "a shorter lease is renewed in a busy loop and lost on any pause"))
