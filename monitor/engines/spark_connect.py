"""The Spark Connect engine: lakewarden's SQL on a remote SparkSession (Databricks Connect, a Spark Connect server).

The session is PySpark's Spark Connect client (``pyspark[connect]``), opened on first use and
closed by ``close``. Tables are three-part names in the server's catalog (Unity Catalog on a
Databricks cluster); a plain Spark Connect server without a catalog can serve a lakehouse folder on
its own file system instead (``lakehouse_root``: ``cat.schema.t`` is Parquet at
``<root>/cat/schema/t``, exactly as the local engine reads it). The token never appears in messages.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from datetime import timedelta
from typing import TYPE_CHECKING, Any

import pyarrow
import structlog

from monitor.engines.base import EngineError, TableNotFound
from monitor.engines.identifiers import validate_table_name
from monitor.engines.statement_params import parameter

if TYPE_CHECKING:
    from pyspark.sql.connect.session import SparkSession

log = structlog.get_logger(__name__)
_MAX_MESSAGE = 500


def connection_string(remote: str, token: str | None = None, cluster_id: str | None = None,
                      use_ssl: bool | None = None) -> str:
    """``sc://host:port/;use_ssl=true;token=...;x-databricks-cluster-id=...`` (parameters only when given)."""
    params = []
    if use_ssl is not None:
        params.append(f"use_ssl={'true' if use_ssl else 'false'}")
    if token:
        params.append(f"token={token}")
    if cluster_id:
        params.append(f"x-databricks-cluster-id={cluster_id}")
    base = remote.rstrip("/")
    return base + ("/;" + ";".join(params) if params else "")


def retry_policy(budget: timedelta) -> dict[str, Any]:
    """Arguments for PySpark's ``DefaultPolicy`` that give up within about ``budget``.

    Its defaults keep retrying an unreachable server for over ten minutes; a daemon's cycle must not.
    """
    initial, multiplier, cap = 50, 4.0, 10_000  # milliseconds
    total, wait, retries = 0.0, float(initial), 0
    while total + min(wait, cap) <= budget.total_seconds() * 1000:
        total += min(wait, cap)
        wait *= multiplier
        retries += 1
    return {"max_retries": retries, "initial_backoff": initial, "backoff_multiplier": multiplier,
            "max_backoff": cap, "max_server_retry_delay": int(budget.total_seconds() * 1000)}


class SparkConnectEngine:
    def __init__(self, remote: str, *, token: str | None = None, cluster_id: str | None = None,
                 use_ssl: bool | None = None, lakehouse_root: str | None = None,
                 retry_timeout: timedelta = timedelta(seconds=30)) -> None:
        self.remote = remote
        self._retry = retry_policy(retry_timeout)
        self._url = connection_string(remote, token, cluster_id, use_ssl)
        self._token = token
        self._root = lakehouse_root.rstrip("/") if lakehouse_root else None
        self._session: SparkSession | None = None
        self._lock = threading.Lock()
        self._cancelled = threading.Event()
        self.statements = 0  # SQL statements run since start (a counter for the poll_cycle line and /metrics)

    @property
    def spark(self) -> SparkSession:
        with self._lock:
            if self._session is None:
                from pyspark.sql.connect.client.retries import DefaultPolicy  # noqa: PLC0415 - slow import
                from pyspark.sql.connect.session import SparkSession  # noqa: PLC0415

                try:
                    session = SparkSession.builder.remote(self._url).create()
                    session.client.set_retry_policies([DefaultPolicy(**self._retry)])
                    self._session = session
                except Exception as exc:
                    raise EngineError(f"could not open a Spark Connect session to {self.remote}: "
                                      f"{self._first_line(exc)}") from exc
                log.info("spark_connect_session", remote=self.remote)
            return self._session

    def _first_line(self, exc: BaseException) -> str:
        text = str(exc).strip()
        if self._token:
            text = text.replace(self._token, "***")
        line = text.splitlines()[0] if text else type(exc).__name__
        return line if len(line) <= _MAX_MESSAGE else line[:_MAX_MESSAGE] + "..."

    # -- tables ---------------------------------------------------------------------------------

    def _path(self, name: str) -> str:
        return "/".join((str(self._root), *validate_table_name(name).parts))

    def table_ref(self, name: str) -> str:
        if self._root is None:
            return validate_table_name(name).quoted
        return "parquet.`" + self._path(name).replace("`", "``") + "`"

    def _schema(self, name: str) -> Any:
        from pyspark.errors import AnalysisException  # noqa: PLC0415

        table = validate_table_name(name)
        try:
            if self._root is None:
                return self.spark.table(table.quoted).schema
            return self.spark.read.parquet(self._path(name)).schema
        except AnalysisException as exc:
            condition = exc.getCondition() or ""
            if condition in ("PATH_NOT_FOUND", "TABLE_OR_VIEW_NOT_FOUND", "UNABLE_TO_INFER_SCHEMA") or \
                    "not found" in str(exc).lower():
                raise TableNotFound(str(table), self._root or f"the catalog of {self.remote}") from exc
            raise EngineError(f"could not read the schema of {table}: {self._first_line(exc)}") from exc
        except EngineError:
            raise
        except Exception as exc:
            raise EngineError(f"could not read the schema of {table} on {self.remote}: "
                              f"{self._first_line(exc)}") from exc

    def table_exists(self, name: str) -> bool:
        try:
            self._schema(name)
        except TableNotFound:
            return False
        return True

    def columns(self, name: str) -> dict[str, str]:
        return {f.name: f.dataType.simpleString() for f in self._schema(name).fields}

    # -- SQL ------------------------------------------------------------------------------------

    def query(self, sql: str, params: Mapping[str, Any] | None = None) -> pyarrow.Table:
        args = dict(params) if params else None
        for key, value in (args or {}).items():
            parameter(key, value)  # the same checks as every engine (naive datetimes refused)
        self._refuse_if_cancelled(sql)
        self.statements += 1  # a counter for the poll_cycle line (a lost increment under threads is harmless)
        try:
            table: pyarrow.Table = self.spark.sql(sql, args=args).toArrow()
        except EngineError:
            raise
        except Exception as exc:
            self._refuse_if_cancelled(sql, exc)  # interrupted by cancel: a stop, not a failure
            raise EngineError(f"Spark Connect SQL failed on {self.remote}: {self._first_line(exc)} "
                              f"-- SQL: {sql[:200]!r}") from exc
        return table

    def _refuse_if_cancelled(self, sql: str, cause: BaseException | None = None) -> None:
        if self._cancelled.is_set():
            raise EngineError(f"Spark Connect SQL cancelled: lakewarden is stopping -- SQL: {sql[:200]!r}") from cause

    def cancel(self) -> None:
        """Interrupt every operation of the session (``interruptAll``); the queries waiting raise, and
        no new query starts."""
        self._cancelled.set()
        session = self._session
        if session is None:
            return
        try:
            session.interruptAll()
        except Exception as exc:  # the connection may be gone: nothing left to interrupt
            log.warning("spark_connect_cancel_failed", error=self._first_line(exc))

    def close(self) -> None:
        with self._lock:
            session, self._session = self._session, None
        if session is not None:
            try:
                session.stop()
            except Exception as exc:  # closing a dead connection is not worth failing a shutdown for
                log.warning("spark_connect_close_failed", error=self._first_line(exc))
