"""Local PySpark over a lakehouse folder: table ``cat.schema.name`` is Parquet at ``<root>/cat/schema/name``.

One SparkSession per process, shared by every engine instance and stopped when the last one closes.
``cancel`` (at shutdown, from another thread) cancels every running Spark job of the session
(``SparkContext.cancelAllJobs``): the query waiting on it raises at once, instead of holding the
shutdown until it ends. After it the engine starts no session and runs no query.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import subprocess
import sys
import threading
from collections.abc import Mapping
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Literal

import pyarrow
import structlog

from monitor.engines.base import EngineError, TableNotFound
from monitor.engines.folder_tables import FolderTables, named_folders
from monitor.engines.identifiers import TableName, validate_table_name
from monitor.engines.statement_params import refuse_naive

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession

log = structlog.get_logger(__name__)

MIN_JAVA = 17
_INSTALL_HINT = (
    "install one (Debian/Ubuntu: `apt-get install openjdk-17-jre-headless`) "
    "or set JAVA_HOME to a JDK/JRE 17+"
)
_MAX_MESSAGE = 500
_VERSION = re.compile(r'version "(\d+)(?:\.(\d+))?')

DEFAULT_CONF: Mapping[str, str] = {
    "spark.master": "local[*]",
    "spark.ui.enabled": "false",
    "spark.ui.showConsoleProgress": "false",
    "spark.sql.session.timeZone": "UTC",
    "spark.sql.shuffle.partitions": "4",
    "spark.default.parallelism": "4",
    "spark.driver.memory": "1g",
    "spark.driver.host": "127.0.0.1",
    "spark.driver.bindAddress": "127.0.0.1",
    "spark.sql.execution.arrow.pyspark.enabled": "true",
    # Concurrent polls (``service.poll_concurrency``): each polling thread's jobs go to its own pool
    # (``spark.scheduler.pool``, set per thread in ``query``), so one model's long scan does not hold
    # the others' small jobs behind it (FIFO would).
    "spark.scheduler.mode": "FAIR",
    # Tables are read through catalog tables over their folders (``folder_tables``), a new one per
    # version of the files: Spark's cache of resolved catalog tables (1,000 by default, about 0.5 MB
    # each) would fill the driver with a fleet's worth of them; listing the folder again costs little.
    "spark.sql.filesourceTableRelationCacheSize": "0",
}


def java_major_version(env: Mapping[str, str] | None = None) -> int:
    """The major version of the Java that Spark will use (JAVA_HOME first, then PATH)."""
    env = os.environ if env is None else env
    java_home = env.get("JAVA_HOME")
    if java_home:
        java: str | None = str(Path(java_home) / "bin" / "java")
        where = f"JAVA_HOME={java_home}"
    else:
        java = shutil.which("java", path=env.get("PATH"))
        where = "PATH"
    if java is None or not Path(java).is_file():
        raise EngineError(f"Java {MIN_JAVA} or newer is required by the local Spark engine; "
                          f"no java found via {where}: {_INSTALL_HINT}")
    try:
        done = subprocess.run([java, "-version"], capture_output=True, text=True, timeout=60, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise EngineError(f"Java {MIN_JAVA} or newer is required; running {java} -version failed "
                          f"({exc}): {_INSTALL_HINT}") from exc
    match = _VERSION.search(done.stderr + done.stdout)
    if match is None:
        raise EngineError(f"Java {MIN_JAVA} or newer is required; could not read the version of {java}: "
                          f"{_INSTALL_HINT}")
    major = int(match.group(1))
    if major == 1 and match.group(2):  # "1.8.0_392" is Java 8
        major = int(match.group(2))
    return major


def require_java(env: Mapping[str, str] | None = None) -> None:
    major = java_major_version(env)
    if major < MIN_JAVA:
        raise EngineError(f"Java {MIN_JAVA} or newer is required by the local Spark engine, found Java "
                          f"{major}: {_INSTALL_HINT}")


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    line = text.splitlines()[0] if text else type(exc).__name__
    return line if len(line) <= _MAX_MESSAGE else line[:_MAX_MESSAGE] + "..."


def _check_params(params: Mapping[str, Any]) -> None:
    for key, value in params.items():
        if isinstance(value, datetime):
            refuse_naive(key, value)


class LocalSparkEngine:
    """The embedded engine: local Spark over Parquet folders, addressed by three-part names."""

    _lock: ClassVar[threading.Lock] = threading.Lock()
    _users: ClassVar[int] = 0

    def __init__(self, lakehouse_root: Path, spark_conf: Mapping[str, str] | None = None,
                 app_name: str = "lakewarden") -> None:
        self._root = Path(lakehouse_root).expanduser().resolve()
        self._conf = dict(spark_conf or {})
        self._app_name = app_name
        self._session: SparkSession | None = None
        self._starting = threading.Lock()
        self._cancelled = threading.Event()
        self._counting = threading.Lock()
        self.statements = 0  # SQL statements run since start (a counter for the poll_cycle line and /metrics)
        self.folders = FolderTables(lambda: self.spark)

    @property
    def root(self) -> Path:
        return self._root

    @property
    def spark(self) -> SparkSession:
        """The process-wide SparkSession, started on first use."""
        with self._starting:
            if self._session is None:
                self._refuse_if_cancelled()
                self._session = self._start()
            return self._session

    def _refuse_if_cancelled(self) -> None:
        if self._cancelled.is_set():
            raise EngineError("the local Spark engine was cancelled: lakewarden is stopping")

    def cancel(self) -> None:
        """Cancel every running Spark job (the queries raise EngineError) and refuse new queries."""
        first = not self._cancelled.is_set()
        self._cancelled.set()
        session = self._session
        if session is None:
            return
        try:
            session.sparkContext.cancelAllJobs()
        except Exception as exc:  # the session is stopping or gone: nothing left to cancel
            log.warning("spark_cancel_failed", error=_first_line(exc))
            return
        if first:
            log.info("spark_jobs_cancelled")

    def _start(self) -> SparkSession:
        require_java()
        os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
        os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
        from pyspark.logger import PySparkLogger  # noqa: PLC0415 - pyspark is slow to import
        from pyspark.sql import SparkSession  # noqa: PLC0415

        conf = {**DEFAULT_CONF, "spark.sql.warehouse.dir": str(self._root / ".spark-warehouse"), **self._conf}
        builder = SparkSession.builder.appName(self._app_name)
        for key, value in conf.items():
            builder = builder.config(key, value)
        with LocalSparkEngine._lock:
            try:
                session = builder.getOrCreate()
            except Exception as exc:
                raise EngineError(f"could not start local Spark ({conf['spark.master']}): "
                                  f"{_first_line(exc)}") from exc
            LocalSparkEngine._users += 1
        session.sparkContext.setLogLevel("ERROR")
        # PySpark logs every failed SQL statement itself; we raise EngineError with the message instead.
        for name in ("SQLQueryContextLogger", "DataFrameQueryContextLogger"):
            PySparkLogger.getLogger(name).setLevel("CRITICAL")
        log.info("spark_started", version=session.version, root=str(self._root))
        return session

    def close(self) -> None:
        """Release this engine's hold on the session; the last engine to close stops Spark."""
        if self._session is None:
            return
        self.folders.forget()  # a session started later has none of them
        session, self._session = self._session, None
        with LocalSparkEngine._lock:
            LocalSparkEngine._users -= 1
            if LocalSparkEngine._users <= 0:
                LocalSparkEngine._users = 0
                session.stop()
                log.info("spark_stopped")

    @classmethod
    def let_go_of_jvm(cls) -> bool:
        """Before this process ends its children: with no session left, shut py4j's gateway to Spark's JVM.

        Spark's JVM outlives ``SparkSession.stop`` (a later session reuses it); it ends with this process
        or when it is killed. py4j keeps talking to it until then: its finalizer thread sends the
        release of every Java object Python collects, and a reply cut short by the kill is logged by
        py4j as an error with a traceback. After the gateway's shutdown py4j sends nothing more. Only
        for a process that is ending: a session started later would need a new JVM. True when the
        gateway was shut."""
        if "pyspark" not in sys.modules:
            return False
        from pyspark import SparkContext  # noqa: PLC0415

        if not cls._lock.acquire(blocking=False):
            return False  # a session is starting (its start holds the lock): the stop does not wait for it
        try:
            gateway = SparkContext._gateway
            if cls._users > 0 or gateway is None or SparkContext._active_spark_context is not None:
                return False  # a session is still up (or none ever started): nothing to let go of
            SparkContext._gateway = None
            SparkContext._jvm = None
        finally:
            cls._lock.release()
        gateway.shutdown()
        log.info("spark_gateway_closed")
        return True

    # -- tables ---------------------------------------------------------------------------------

    def path(self, name: str | TableName) -> Path:
        """The folder that holds table ``name``."""
        table = name if isinstance(name, TableName) else validate_table_name(name)
        return self._root.joinpath(*table.parts)

    def table_ref(self, name: str) -> str:
        path = str(self.path(name)).replace("`", "``")
        return f"parquet.`{path}`"

    def table_exists(self, name: str) -> bool:
        return _holds_parquet(self.path(name))

    def table_versions(self, names: list[str]) -> dict[str, str | None]:
        """Table -> a version that changes whenever its data files do (names, sizes, modification
        times; no Spark job), None when it holds no Parquet file."""
        return {name: _folder_version(self.path(name)) for name in names}

    def columns(self, name: str) -> dict[str, str]:
        path = self.path(name)
        if not _holds_parquet(path):
            raise TableNotFound(str(validate_table_name(name)), str(path))
        try:
            schema = self.folders.schema(str(path))
        except Exception as exc:
            raise EngineError(f"could not read the schema of {name} at {path}: {_first_line(exc)}") from exc
        return {field.name: field.dataType.simpleString() for field in schema.fields}

    def _table_for_path(self, folder: str) -> str:
        path = Path(folder)
        try:
            parts = path.relative_to(self._root).parts
        except ValueError:
            return str(path)
        return ".".join(parts) if len(parts) == 3 else str(path)

    def _check_references(self, sql: str) -> None:
        for folder in named_folders(sql):
            if not _holds_parquet(Path(folder)):
                raise TableNotFound(self._table_for_path(folder), folder)

    # -- SQL ------------------------------------------------------------------------------------

    def query(self, sql: str, params: Mapping[str, Any] | None = None) -> pyarrow.Table:
        """Run ``sql`` with ``params`` bound to its ``:name`` markers; return the result as Arrow."""
        from py4j.protocol import Py4JError  # type: ignore[import-untyped]  # noqa: PLC0415
        from pyspark.errors import AnalysisException, PySparkException  # noqa: PLC0415

        args = dict(params) if params else None
        if args:
            _check_params(args)
        self._check_references(sql)
        spark = self.spark
        self._refuse_if_cancelled()
        with self._counting:
            self.statements += 1
        try:
            spark.sparkContext.setLocalProperty("spark.scheduler.pool", threading.current_thread().name)
            return spark.sql(self.folders.rewrite(sql), args=args).toArrow()
        except AnalysisException as exc:
            self._raise_if_cancelled(exc, sql)
            if exc.getCondition() == "PATH_NOT_FOUND":
                match = re.search(r"Path does not exist: (?:file:)?(\S+?)\.?(?:\s|$)", str(exc))
                where = match.group(1) if match else str(self._root)
                raise TableNotFound(self._table_for_path(where), where) from exc
            raise EngineError(f"Spark SQL failed: {_first_line(exc)} -- SQL: {sql[:200]!r}") from exc
        except (PySparkException, Py4JError) as exc:
            self._raise_if_cancelled(exc, sql)
            raise EngineError(f"Spark SQL failed: {_first_line(exc)} -- SQL: {sql[:200]!r}") from exc

    def _raise_if_cancelled(self, exc: Exception, sql: str) -> None:
        if self._cancelled.is_set():
            raise EngineError(f"Spark SQL cancelled: lakewarden is stopping -- SQL: {sql[:200]!r}") from exc

    def write(self, name: str, data: pyarrow.Table | DataFrame,
              mode: Literal["append", "overwrite"] = "append") -> None:
        """Write ``data`` to table ``name`` as Parquet (local engine only)."""
        if mode not in ("append", "overwrite"):
            raise ValueError(f"write mode must be 'append' or 'overwrite', not {mode!r}")
        path = self.path(name)
        try:
            frame = self.spark.createDataFrame(data) if isinstance(data, pyarrow.Table) else data
            frame.write.mode(mode).parquet(str(path))
        except Exception as exc:
            raise EngineError(f"could not write table {name} to {path} ({mode}): {_first_line(exc)}") from exc
        log.debug("table_written", table=name, mode=mode)


def _folder_version(path: Path) -> str | None:
    """A digest of the folder's Parquet data files (relative path, size, mtime in ns); None: none there."""
    entries = []
    if path.is_dir():
        for dirpath, dirnames, filenames in os.walk(path):
            dirnames[:] = [d for d in dirnames if not d.startswith(("_", "."))]
            for name in filenames:
                if name.endswith(".parquet") and not name.startswith(("_", ".")):
                    stat = os.stat(os.path.join(dirpath, name))
                    entries.append(f"{os.path.relpath(os.path.join(dirpath, name), path)}:{stat.st_size}:"
                                   f"{stat.st_mtime_ns}")
    if not entries:
        return None
    return hashlib.sha256("\n".join(sorted(entries)).encode()).hexdigest()[:20]


def _holds_parquet(path: Path) -> bool:
    """True when ``path`` is a folder holding at least one Parquet data file (hidden parts skipped)."""
    if not path.is_dir():
        return False
    for _dirpath, dirnames, filenames in os.walk(path):
        dirnames[:] = [d for d in dirnames if not d.startswith(("_", "."))]
        if any(f.endswith(".parquet") and not f.startswith(("_", ".")) for f in filenames):
            return True
    return False
