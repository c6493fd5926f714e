"""A local Databricks workspace for tests: one HTTP server on 127.0.0.1 that the real databricks-sdk talks to.

    emu = Emulator(lakehouse_root, spark=lambda: session, tokens={"dapi-test"})
    emu.start()                      # emu.url -> http://127.0.0.1:PORT
    emu.jobs.add(42, outcome="FAILED"); emu.clock.advance(10)
    emu.faults.inject(Fault(path="/sql/statements", status=429, retry_after=1))
    emu.stop()

Pieces: ``tables`` (Unity Catalog tables over the lakehouse folder), ``sql`` (Statement Execution on
the given SparkSession), ``monitors`` (legacy and data-quality monitor APIs), ``jobs``, ``serving``,
``registry`` (UC models, versions, aliases and MLflow runs, seeded with ``registry.add_version`` and
``registry.add_run``; served to databricks-sdk and, by ``mlflow``, to MLflow's ``databricks-uc``
registry and ``databricks`` tracking clients), ``oauth`` (OAuth M2M: OIDC discovery and client
credentials tokens for ``oauth.clients``), ``identity`` (SCIM Me: the user or service principal behind a
token), ``sql.links`` (presigned-style EXTERNAL_LINKS chunk downloads), ``sql.history`` (query history)
and ``faults`` (429 with Retry-After, 503, 500, slow answers, 401).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from emu_clock import EmuClock
from emu_http import Router, make_server
from emu_identity import Identity
from emu_jobs import Jobs
from emu_mlflow import MlflowPaths
from emu_monitors import Monitors
from emu_oauth import OAuth
from emu_registry import Registry
from emu_serving import Serving
from emu_sql import Statements, Warehouse
from emu_tables import Tables

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

TOKEN = "dapi-emulator-token"
WAREHOUSE_ID = "emu0warehouse1"


class Emulator:
    def __init__(self, lakehouse_root: Path, spark: Callable[[], SparkSession], *,
                 tokens: set[str] | None = None, warehouse_ids: tuple[str, ...] = (WAREHOUSE_ID,)) -> None:
        self.clock = EmuClock()
        self.faults = Router(tokens or {TOKEN})
        self.tables = Tables(Path(lakehouse_root), spark)
        self.sql = Statements(self.tables, spark, [Warehouse(w) for w in warehouse_ids], self.clock, lambda: self.url)
        self.monitors = Monitors(self.tables, self.clock)
        self.jobs = Jobs(self.clock)
        self.registry = Registry(self.clock)
        self.serving = Serving(self.clock, self.registry)
        self.mlflow = MlflowPaths(self.registry)
        self.oauth = OAuth(self.clock, lambda: self.url)
        self.identity = Identity(self.oauth.owners.get)
        self.faults.now = self.clock.now
        for piece in (self.tables, self.sql, self.monitors, self.jobs, self.registry, self.mlflow, self.serving,
                      self.oauth, self.identity):
            piece.register(self.faults)
        self._server = None
        self._threads: list[threading.Thread] = []
        self._stop = threading.Event()

    @property
    def router(self) -> Router:
        return self.faults

    @property
    def url(self) -> str:
        if self._server is None:
            raise RuntimeError("the emulator is not started")
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def start(self, host: str = "127.0.0.1", port: int = 0) -> str:
        self._server = make_server(self.faults, host, port)
        serve = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        ticker = threading.Thread(target=self._tick, daemon=True)
        self._threads = [serve, ticker]
        for thread in self._threads:
            thread.start()
        return self.url

    def _tick(self) -> None:
        while not self._stop.wait(0.05):
            self.jobs.tick()

    def stop(self) -> None:
        self._stop.set()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        for thread in self._threads:
            thread.join(timeout=5)
        self.tables.folders.forget()
