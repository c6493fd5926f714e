"""The SQL warehouse engine: Spark SQL on a Databricks SQL warehouse through Statement Execution.

A query is submitted with a server-side wait (``wait_timeout``), then polled until it ends or
``query_timeout`` passes (then it is cancelled and the poll fails with a message: a stopped or
overloaded warehouse never hangs a cycle). Results come INLINE as JSON_ARRAY, every chunk is fetched
and every value typed back from the manifest (``statement_results``). Tables are Unity Catalog
three-part names; ``table_exists`` and ``columns`` ask the Unity Catalog tables API, which needs no
running warehouse. Statements still running at ``cancel`` (shutdown, from another thread) or at
``close`` are cancelled on the warehouse; after ``cancel`` the query waiting on one raises at once
and no new statement is submitted. A submit the server holds for its ``wait_timeout`` runs on its own
thread, so ``cancel`` cuts it short too: its statement is cancelled once its id comes back.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

import pyarrow
import structlog

from config.basics.clock import Clock, utc_now
from monitor.engines.base import EngineError, TableNotFound
from monitor.engines.external_links import ChunkReader, LinkError
from monitor.engines.identifiers import validate_table_name
from monitor.engines.statement_params import statement_parameters
from monitor.engines.statement_recovery import find_and_cancel, is_lost_answer, is_write, new_tag, tagged
from monitor.engines.statement_results import from_arrow_chunks, to_arrow
from retrain.databricks.client import describe_error, is_not_found

if TYPE_CHECKING:
    from databricks.sdk import WorkspaceClient
    from databricks.sdk.service.sql import StatementResponse

log = structlog.get_logger(__name__)

_RUNNING = ("PENDING", "RUNNING")
_INLINE_LIMIT = "Inline byte limit exceeded"  # the warehouse's words when an INLINE result passes 25 MiB
RESULTS = ("auto", "inline", "external_links")


class _InlineTooLarge(EngineError):
    """The warehouse aborted the statement: its result is over the INLINE limit."""
_MAX_POLL = 2.0
_FLAG_POLL = 0.05  # how often a submit held by the server's wait looks at the cancel flag


class SqlWarehouseEngine:
    def __init__(self, client: WorkspaceClient, warehouse_id: str, *, wait_timeout: timedelta = timedelta(seconds=30),
                 query_timeout: timedelta = timedelta(minutes=3), clock: Clock = utc_now,
                 sleep: Callable[[float], None] | None = None, results: str = "auto",
                 max_concurrent: int = 8) -> None:
        if results not in RESULTS:
            raise ValueError(f"results must be one of {RESULTS}, not {results!r}")
        self._client = client
        self.warehouse_id = warehouse_id
        self._results = results
        self._wait = f"{int(wait_timeout.total_seconds())}s"
        self._timeout = query_timeout
        self._clock = clock
        self._inflight: set[str] = set()
        self._lock = threading.Lock()
        self._cancelled = threading.Event()
        # Statements of concurrent polls: at most ``max_concurrent`` submitted and not ended at a time, so
        # lakewarden alone never fills the warehouse's queue (engine.max_concurrent_statements).
        self._slots = threading.BoundedSemaphore(max_concurrent)
        self.statements = 0  # statements submitted since start (a counter for the poll_cycle line and /metrics)
        # Between polls: by default a wait that ``cancel`` ends at once.
        self._sleep: Callable[[float], object] = sleep or self._cancelled.wait

    @property
    def host(self) -> str:
        return str(self._client.config.host)

    # -- tables ---------------------------------------------------------------------------------

    def table_ref(self, name: str) -> str:
        return validate_table_name(name).quoted

    def table_exists(self, name: str) -> bool:
        table = str(validate_table_name(name))
        try:
            answer = self._client.tables.exists(table)
        except Exception as exc:
            raise EngineError(describe_error(exc, f"checking table {table} in Unity Catalog", self.host)) from exc
        return bool(answer.table_exists)

    def columns(self, name: str) -> dict[str, str]:
        table = str(validate_table_name(name))
        try:
            info = self._client.tables.get(table)
        except Exception as exc:
            if is_not_found(exc):
                raise TableNotFound(table, f"Unity Catalog at {self.host}") from exc
            raise EngineError(describe_error(exc, f"reading the columns of {table}", self.host)) from exc
        columns = sorted(info.columns or [], key=lambda c: c.position if c.position is not None else 0)
        return {str(c.name): str(c.type_text or "").lower() for c in columns}

    # -- SQL ------------------------------------------------------------------------------------

    def query(self, sql: str, params: Mapping[str, Any] | None = None) -> pyarrow.Table:
        """Run ``sql``: INLINE JSON_ARRAY, or EXTERNAL_LINKS ARROW_STREAM (``results``; ``auto`` switches to
        it only when the warehouse aborts a result over the INLINE limit, and never for a write). At most
        ``max_concurrent`` statements at a time (concurrent polls)."""
        while not self._slots.acquire(timeout=_FLAG_POLL):  # a free slot, or the stop
            self._refuse_if_cancelled(sql)
        try:
            with self._lock:
                self.statements += 1
            return self._query(sql, params)
        finally:
            self._slots.release()

    def _query(self, sql: str, params: Mapping[str, Any] | None = None) -> pyarrow.Table:
        parameters = statement_parameters(params)
        write = is_write(sql)
        external = self._results == "external_links" and not write
        try:
            return self._run(sql, parameters, external=external, write=write)
        except _InlineTooLarge as exc:
            if self._results != "auto" or write:
                raise EngineError(f"{exc}: set engine.results to auto or external_links") from exc
            log.info("statement_result_over_inline_limit", warehouse_id=self.warehouse_id,
                     retry="EXTERNAL_LINKS + ARROW_STREAM")
            return self._run(sql, parameters, external=True, write=write)

    def _run(self, sql: str, parameters: list[dict[str, str | None]], *, external: bool, write: bool) -> pyarrow.Table:
        from databricks.sdk.service.sql import (  # noqa: PLC0415 - the SDK is slow to import
            Disposition,
            ExecuteStatementRequestOnWaitTimeout,
            Format,
            StatementParameterListItem,
        )

        items = [StatementParameterListItem(**p) for p in parameters]  # type: ignore[arg-type]
        doing = f"running a statement on SQL warehouse {self.warehouse_id}"
        deadline = self._clock() + self._timeout
        self._refuse_if_cancelled(sql)
        # A write is submitted without a server-side wait: its id comes back at once, so a slow write is
        # polled, never lost to a client timeout, and never submitted twice.
        wait = "0s" if write else self._wait
        tag, submitted = new_tag(), self._clock()
        try:
            response = self._submit(sql, wait, lambda: self._client.statement_execution.execute_statement(
                statement=tagged(sql, tag), warehouse_id=self.warehouse_id, parameters=items or None,
                wait_timeout=wait, on_wait_timeout=ExecuteStatementRequestOnWaitTimeout.CONTINUE,
                disposition=Disposition.EXTERNAL_LINKS if external else Disposition.INLINE,
                format=Format.ARROW_STREAM if external else Format.JSON_ARRAY))
        except EngineError:
            raise
        except Exception as exc:
            if is_not_found(exc):
                raise EngineError(f"SQL warehouse {self.warehouse_id} does not exist at {self.host}: check "
                                  "engine.warehouse_id") from exc
            if is_lost_answer(exc):
                raise EngineError(self._recover(tag, submitted, exc) + _sql_hint(sql)) from exc
            raise EngineError(describe_error(exc, doing, self.host) + _sql_hint(sql)) from exc
        statement_id = str(response.statement_id)
        with self._lock:
            self._inflight.add(statement_id)
        if self._cancelled.is_set():  # cancel() ran while the statement was being submitted
            self._cancel(statement_id)
        try:
            response = self._await(response, statement_id, deadline, sql)
            return self._result(response, statement_id, sql)
        finally:
            with self._lock:
                self._inflight.discard(statement_id)

    def _recover(self, tag: str, submitted: datetime, exc: BaseException) -> str:
        """The submit was sent but its answer was lost: find the statement by its tag and cancel it."""
        what = (f"the submit to SQL warehouse {self.warehouse_id} got no answer within workspace.http_timeout "
                f"({type(exc).__name__})")
        try:
            cancelled = find_and_cancel(self._client, self.warehouse_id, tag, submitted, self._sleep)
        except Exception as lookup:
            return (f"{what}, and looking for the statement in the query history failed "
                    f"({describe_error(lookup, 'listing the query history', self.host)}): it may still be running")
        if cancelled:
            return f"{what}; statement {', '.join(cancelled)} was found in the query history and cancelled"
        return (f"{what}; the statement was not in the query history yet: it may still be running (keep "
                "workspace.http_timeout well above engine.wait_timeout)")

    def _submit(self, sql: str, wait: str, call: Callable[[], StatementResponse]) -> StatementResponse:
        """``call`` (the submit, which the server may hold for ``wait_timeout``), cut short by ``cancel``.

        The submit runs on its own thread while this one watches the cancel flag: on ``cancel`` the
        query raises at once, and the statement is cancelled on the warehouse as soon as its id comes
        back (the request cannot be interrupted; the id is only known from its answer).
        """
        if wait == "0s":
            return call()
        submit = _Submit(call, self._cancel)
        threading.Thread(target=submit.run, name="statement-submit", daemon=True).start()
        while not submit.done.wait(_FLAG_POLL):
            if self._cancelled.is_set() and submit.abandon():
                self._refuse_if_cancelled(sql)
        return submit.result()

    def _state(self, response: StatementResponse) -> str:
        return response.status.state.value if response.status and response.status.state else "PENDING"

    def _await(self, response: StatementResponse, statement_id: str, deadline: datetime, sql: str) -> StatementResponse:
        interval = 0.1
        while self._state(response) in _RUNNING:
            self._refuse_if_cancelled(sql)
            if self._clock() >= deadline:
                self._cancel(statement_id)
                raise EngineError(
                    f"statement {statement_id} on SQL warehouse {self.warehouse_id} was still "
                    f"{self._state(response)} after {self._timeout} (engine.query_timeout) and was cancelled: "
                    "is the warehouse stopped, starting or overloaded?" + _sql_hint(sql))
            self._sleep(interval)
            self._refuse_if_cancelled(sql)  # woken by cancel: its own error, not the CANCELED it caused
            interval = min(_MAX_POLL, interval * 2)
            try:
                response = self._client.statement_execution.get_statement(statement_id)
            except Exception as exc:
                raise EngineError(describe_error(exc, f"polling statement {statement_id}", self.host)) from exc
        return response

    def _refuse_if_cancelled(self, sql: str) -> None:
        if self._cancelled.is_set():
            raise EngineError(f"statement on SQL warehouse {self.warehouse_id} cancelled: lakewarden is stopping"
                              + _sql_hint(sql))

    def _result(self, response: StatementResponse, statement_id: str, sql: str) -> pyarrow.Table:
        state = self._state(response)
        if state == "CANCELED":
            self._refuse_if_cancelled(sql)
        if state == "FAILED":
            raise self._failure(response, statement_id, sql)
        if state != "SUCCEEDED":
            raise EngineError(f"statement {statement_id} on SQL warehouse {self.warehouse_id} ended {state}"
                              + _sql_hint(sql))
        manifest = response.manifest
        if manifest is None or manifest.schema is None:
            raise EngineError(f"statement {statement_id} succeeded without a result manifest" + _sql_hint(sql))
        if manifest.truncated:
            raise EngineError(f"statement {statement_id}: the result was truncated by the warehouse; "
                              "lakewarden reads only complete results" + _sql_hint(sql))
        if manifest.format is not None and manifest.format.value == "ARROW_STREAM":
            return self._arrow_result(response, statement_id, sql)
        rows: list[list[Any]] = []
        chunk = response.result
        while chunk is not None:
            rows.extend(chunk.data_array or [])
            if chunk.next_chunk_index is None:
                break
            try:
                chunk = self._client.statement_execution.get_statement_result_chunk_n(
                    statement_id, chunk.next_chunk_index)
            except Exception as exc:
                raise EngineError(describe_error(exc, f"fetching chunk {chunk.next_chunk_index} of statement "
                                                 f"{statement_id}", self.host)) from exc
        if manifest.total_row_count is not None and len(rows) != manifest.total_row_count:
            raise EngineError(f"statement {statement_id}: got {len(rows)} rows, the manifest says "
                              f"{manifest.total_row_count}" + _sql_hint(sql))
        try:
            return to_arrow(manifest.schema.columns or [], rows)
        except ValueError as exc:
            raise EngineError(f"statement {statement_id}: {exc}" + _sql_hint(sql)) from exc

    def _failure(self, response: StatementResponse, statement_id: str, sql: str) -> EngineError:
        error = response.status.error if response.status else None
        code = error.error_code.value if error and error.error_code else "UNKNOWN"
        message = error.message if error and error.message else "no message"
        if _INLINE_LIMIT in message:
            return _InlineTooLarge(f"statement {statement_id}: the result is over the warehouse's INLINE limit "
                                   f"(25 MiB): {message}" + _sql_hint(sql))
        if "TABLE_OR_VIEW_NOT_FOUND" in message:
            return EngineError(f"SQL warehouse {self.warehouse_id}: a table does not exist: {message}"
                               + _sql_hint(sql))
        return EngineError(f"SQL warehouse {self.warehouse_id} failed the statement: {code}: {message}"
                           + _sql_hint(sql))

    def _arrow_result(self, response: StatementResponse, statement_id: str, sql: str) -> pyarrow.Table:
        manifest = response.manifest
        if manifest is None or manifest.schema is None:  # checked by _result already
            raise EngineError(f"statement {statement_id} succeeded without a result manifest" + _sql_hint(sql))
        first = list(response.result.external_links or []) if response.result else []
        timeout = float(self._client.config.http_timeout_seconds or 60)
        try:
            chunks = ChunkReader(self._client, statement_id, self._clock, timeout).read(
                first, int(manifest.total_chunk_count or 0))
            table = from_arrow_chunks(manifest.schema.columns or [], chunks)
        except (LinkError, ValueError) as exc:
            raise EngineError(f"statement {statement_id}: {exc}" + _sql_hint(sql)) from None
        if manifest.total_row_count is not None and table.num_rows != manifest.total_row_count:
            raise EngineError(f"statement {statement_id}: got {table.num_rows} rows, the manifest says "
                              f"{manifest.total_row_count}" + _sql_hint(sql))
        return table

    def _cancel(self, statement_id: str) -> None:
        try:
            self._client.statement_execution.cancel_execution(statement_id)
        except Exception as exc:  # the statement may have ended meanwhile; nothing more to do
            log.warning("statement_cancel_failed", statement_id=statement_id, error=str(exc).splitlines()[0])

    def cancel(self) -> None:
        """Cancel every running statement on the warehouse; the queries waiting on them raise EngineError."""
        self._cancelled.set()
        self._cancel_running()

    def close(self) -> None:
        """Cancel every statement still running (a shutdown mid-query leaves nothing behind)."""
        self._cancel_running()

    def _cancel_running(self) -> None:
        with self._lock:
            running, self._inflight = set(self._inflight), set()
        for statement_id in running:
            self._cancel(statement_id)
            log.info("statement_cancelled", statement_id=statement_id)


class _Submit:
    """One submit on its own thread: its answer for the query, or, once abandoned, a cancel of its statement."""

    def __init__(self, call: Callable[[], StatementResponse], cancel: Callable[[str], None]) -> None:
        self._call = call
        self._cancel = cancel
        self._lock = threading.Lock()
        self._abandoned = False
        self._response: StatementResponse | None = None
        self._error: BaseException | None = None
        self.done = threading.Event()

    def run(self) -> None:
        try:
            response = self._call()
        except BaseException as exc:  # handed to the query's thread
            with self._lock:
                self._error = exc
            self.done.set()
            return
        with self._lock:
            self._response = response
            abandoned = self._abandoned
        self.done.set()
        if abandoned and response.statement_id:  # nobody waits for it: stop it on the warehouse
            self._cancel(str(response.statement_id))
            log.info("statement_cancelled", statement_id=response.statement_id)

    def abandon(self) -> bool:
        """True if the query stops waiting (False: the answer has just come, the query takes it)."""
        with self._lock:
            if self._response is not None or self._error is not None:
                return False
            self._abandoned = True
            return True

    def result(self) -> StatementResponse:
        with self._lock:
            if self._error is not None:
                raise self._error
            assert self._response is not None  # noqa: S101 - done is set only after one of them
            return self._response


def _sql_hint(sql: str) -> str:
    return f" -- SQL: {sql[:200]!r}"
