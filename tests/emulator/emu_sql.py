"""SQL Statement Execution (``/api/2.0/sql/statements``) on a local SparkSession.

INLINE + JSON_ARRAY (every non-null value a string, typed by the manifest), aborted FAILED with the
warehouse's "Inline byte limit exceeded" error past ``inline_limit`` bytes of the result's in-memory
(Arrow) size; EXTERNAL_LINKS + ARROW_STREAM, each chunk an Arrow IPC stream behind a presigned-style
link (``emu_links``), ``chunk_rows`` rows a chunk. ``answer_delay`` holds every submit's answer that
much longer after its wait (a server slower than the client's timeout: the statement runs on). The
query history (``emu_history``) lists every statement with its text. Statements run on worker
threads, so ``wait_timeout: 0s`` answers PENDING and the client polls; cancel works while a statement runs; a failure
ends FAILED with ``status.error``. Warehouses can be scripted: missing, slow to start, slow to run.
"""

from __future__ import annotations

import contextlib
import math
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import pyarrow as pa
from emu_clock import EmuClock
from emu_history import History
from emu_http import ApiError, Request, Router, bad_request
from emu_links import Links
from emu_tables import SqlFailure, Tables
from emu_values import bind, column, text

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

INLINE_LIMIT = 25 * 1024 * 1024
TERMINAL = ("SUCCEEDED", "FAILED", "CANCELED", "CLOSED")


@dataclass
class Warehouse:
    """``start_seconds``: statements wait PENDING that long (a stopped warehouse starting);
    ``run_seconds``: each statement RUNNING at least that long (a slow query); ``latency_seconds``:
    added to every statement before it runs (a warehouse's fixed cost per statement, whatever its size)."""

    warehouse_id: str
    start_seconds: float = 0.0
    run_seconds: float = 0.0
    latency_seconds: float = 0.0


@dataclass
class Statement:
    statement_id: str
    warehouse_id: str
    sql: str
    state: str = "PENDING"
    error: dict[str, str] | None = None
    columns: list[dict[str, Any]] = field(default_factory=list)
    rows: list[list[str | None]] = field(default_factory=list)
    truncated: bool = False
    done: threading.Event = field(default_factory=threading.Event)
    external: bool = False
    arrow: pa.Table | None = None
    started_ms: int = 0


class Statements:
    def __init__(self, tables: Tables, spark: Callable[[], SparkSession], warehouses: list[Warehouse],
                 clock: EmuClock | None = None, url: Callable[[], str] | None = None) -> None:
        self.tables = tables
        self.clock = clock or EmuClock()
        self.links = Links(self.clock, url or (lambda: ""))
        self.history = History(lambda: list(self.statements.values()), self.clock.now_ms)
        self.answer_delay = 0.0
        self.spark = spark
        self.warehouses = {w.warehouse_id: w for w in warehouses}
        self.statements: dict[str, Statement] = {}
        self.chunk_rows = 1000
        self.inline_limit = INLINE_LIMIT
        self._lock = threading.Lock()

    def register(self, router: Router) -> None:
        router.add("POST", "/api/2.0/sql/statements", self.submit)
        router.add("POST", "/api/2.0/sql/statements/", self.submit)
        router.add("GET", "/api/2.0/sql/statements/{sid}", self.get)
        router.add("GET", "/api/2.0/sql/statements/{sid}/result/chunks/{n}", self.chunk)
        router.add("POST", "/api/2.0/sql/statements/{sid}/cancel", self.cancel)
        self.links.register(router)
        self.history.register(router)

    # -- endpoints ------------------------------------------------------------------------------

    def submit(self, request: Request) -> tuple[int, Any]:
        body = request.body
        warehouse = self.warehouses.get(str(body.get("warehouse_id", "")))
        if warehouse is None:
            raise ApiError(404, "RESOURCE_DOES_NOT_EXIST",
                           f"SQL warehouse {body.get('warehouse_id')!r} does not exist.")
        shape = (body.get("disposition", "INLINE"), body.get("format", "JSON_ARRAY"))
        if shape not in (("INLINE", "JSON_ARRAY"), ("EXTERNAL_LINKS", "ARROW_STREAM")):
            raise bad_request("this emulator serves INLINE + JSON_ARRAY and EXTERNAL_LINKS + ARROW_STREAM, "
                              f"not {shape}")
        wait = _wait_seconds(str(body.get("wait_timeout", "10s")))
        args = bind(body.get("parameters") or [])
        statement = Statement(f"01ef{uuid.uuid4().hex[:28]}", warehouse.warehouse_id, str(body.get("statement", "")),
                              external=shape[0] == "EXTERNAL_LINKS", started_ms=self.clock.now_ms())
        with self._lock:
            self.statements[statement.statement_id] = statement
        row_limit = body.get("row_limit")
        threading.Thread(target=self._run, args=(statement, warehouse, args, row_limit), daemon=True).start()
        if wait and not statement.done.wait(wait) and body.get("on_wait_timeout", "CONTINUE") == "CANCEL":
            self._cancel(statement)
        time.sleep(self.answer_delay)
        return 200, self._response(statement)

    def get(self, request: Request) -> tuple[int, Any]:
        return 200, self._response(self._find(request.params["sid"]))

    def chunk(self, request: Request) -> tuple[int, Any]:
        statement = self._find(request.params["sid"])
        if statement.state != "SUCCEEDED":
            raise bad_request(f"statement {statement.statement_id} is {statement.state}, it has no result",
                              "BAD_REQUEST")
        index = int(request.params["n"])
        if not 0 <= index < self._chunk_count(statement):
            raise bad_request(f"chunk index {index} is out of range", "BAD_REQUEST")
        if statement.external:
            return 200, {"external_links": [self._link(statement, index)]}
        return 200, self._chunk(statement, index)

    def cancel(self, request: Request) -> tuple[int, Any]:
        self._cancel(self._find(request.params["sid"]))
        return 200, {}

    # -- execution ------------------------------------------------------------------------------

    def _run(self, statement: Statement, warehouse: Warehouse, args: dict[str, Any], row_limit: Any) -> None:
        deadline = time.monotonic() + warehouse.start_seconds + warehouse.latency_seconds
        while time.monotonic() < deadline and statement.state == "PENDING":
            time.sleep(0.02)
        if statement.state != "PENDING":
            return
        statement.state = "RUNNING"
        slow_until = time.monotonic() + warehouse.run_seconds
        try:
            spark = self.spark()
            spark.sparkContext.setJobGroup(statement.statement_id, "emulated statement", True)
            frame = spark.sql(self.tables.rewrite(statement.sql), args=args or None)
            table = frame.toArrow()
            columns = [column(i, f) for i, f in enumerate(frame.schema.fields)]
            while time.monotonic() < slow_until and statement.state == "RUNNING":
                time.sleep(0.02)
            if isinstance(row_limit, int) and table.num_rows > row_limit:
                table, statement.truncated = table.slice(0, row_limit), True
            if not statement.external and table.nbytes > self.inline_limit:
                raise SqlFailure(f"Inline byte limit exceeded. Statements executed with disposition=INLINE can have "
                                 f"a result size of at most {self.inline_limit} bytes. Please execute the statement "
                                 "with disposition=EXTERNAL_LINKS if you want to download the full result.",
                                 "BAD_REQUEST")
            rows = [[text(v) for v in row.values()] for row in table.to_pylist()]
            statement.arrow = table
        except SqlFailure as exc:
            self._finish(statement, "FAILED", {"error_code": exc.error_code, "message": str(exc)})
            return
        except Exception as exc:
            message = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
            self._finish(statement, "FAILED", {"error_code": "BAD_REQUEST", "message": message})
            return
        statement.columns, statement.rows = columns, rows
        self._finish(statement, "SUCCEEDED", None)

    def _finish(self, statement: Statement, state: str, error: dict[str, str] | None) -> None:
        with self._lock:
            if statement.state in TERMINAL:
                return
            statement.state, statement.error = state, error
        statement.done.set()

    def _cancel(self, statement: Statement) -> None:
        with self._lock:
            if statement.state in TERMINAL:
                return
            statement.state = "CANCELED"
        statement.done.set()
        with contextlib.suppress(Exception):  # best effort: the answer is CANCELED either way
            self.spark().sparkContext.cancelJobGroup(statement.statement_id)

    # -- answers --------------------------------------------------------------------------------

    def _find(self, sid: str) -> Statement:
        with self._lock:
            statement = self.statements.get(sid)
        if statement is None:
            raise ApiError(404, "RESOURCE_DOES_NOT_EXIST", f"Statement {sid} does not exist.")
        return statement

    def _chunk_count(self, statement: Statement) -> int:
        return max(1, math.ceil(len(statement.rows) / self.chunk_rows))

    def _chunk(self, statement: Statement, index: int) -> dict[str, Any]:
        start = index * self.chunk_rows
        rows = statement.rows[start:start + self.chunk_rows]
        chunk: dict[str, Any] = {"chunk_index": index, "row_offset": start, "row_count": len(rows)}
        if rows:
            chunk["data_array"] = rows
        if index + 1 < self._chunk_count(statement):
            chunk["next_chunk_index"] = index + 1
            chunk["next_chunk_internal_link"] = (
                f"/api/2.0/sql/statements/{statement.statement_id}/result/chunks/{index + 1}")
        return chunk

    def _link(self, statement: Statement, index: int) -> dict[str, Any]:
        start = index * self.chunk_rows
        part = statement.arrow.slice(start, self.chunk_rows) if statement.arrow is not None else None
        count = self._chunk_count(statement)

        def body() -> bytes:
            sink = pa.BufferOutputStream()
            assert part is not None
            with pa.ipc.new_stream(sink, part.schema) as writer:
                writer.write_table(part)
            return sink.getvalue().to_pybytes()

        return self.links.issue(statement.statement_id, index, start, part.num_rows if part is not None else 0,
                                part.nbytes if part is not None else 0, index + 1 if index + 1 < count else None, body)

    def _response(self, statement: Statement) -> dict[str, Any]:
        status: dict[str, Any] = {"state": statement.state}
        if statement.error:
            status["error"] = statement.error
        answer: dict[str, Any] = {"statement_id": statement.statement_id, "status": status}
        if statement.state == "SUCCEEDED":
            count = self._chunk_count(statement)
            answer["manifest"] = {
                "format": "ARROW_STREAM" if statement.external else "JSON_ARRAY",
                "schema": {"column_count": len(statement.columns), "columns": statement.columns},
                "total_row_count": len(statement.rows),
                "total_chunk_count": count,
                "truncated": statement.truncated,
                "chunks": [{"chunk_index": i, "row_offset": i * self.chunk_rows,
                            "row_count": len(statement.rows[i * self.chunk_rows:(i + 1) * self.chunk_rows])}
                           for i in range(count)],
            }
            answer["result"] = ({"external_links": [self._link(statement, 0)]} if statement.external
                                else self._chunk(statement, 0))
        return answer


def _wait_seconds(text: str) -> float:
    if not text.endswith("s") or not text[:-1].isdigit():
        raise bad_request(f"wait_timeout must be 0s or 5s to 50s, not {text!r}")
    seconds = int(text[:-1])
    if seconds != 0 and not 5 <= seconds <= 50:
        raise bad_request(f"wait_timeout must be 0s or 5s to 50s, not {text!r}")
    return float(seconds)
