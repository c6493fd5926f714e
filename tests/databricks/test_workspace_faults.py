"""Fault injection through the real databricks-sdk: throttling, unavailability, errors, slowness, auth, host."""

from __future__ import annotations

import socket
import time

import pytest
from emu_http import Fault

from monitor.engines.base import EngineError
from monitor.engines.sql_warehouse import SqlWarehouseEngine
from retrain.databricks import DatabricksJobBackend, WorkspaceError, workspace_client
from tests.databricks.dbx_support import WAREHOUSE_ID, settings_for

pytestmark = pytest.mark.integration

EXISTS = r"/unity-catalog/tables/[^/]+/exists$"


def test_the_client_is_built_quickly_past_the_host_metadata_probe(emulator) -> None:  # type: ignore[no-untyped-def]
    import databricks.sdk  # noqa: F401 - the import itself takes seconds; time only the construction

    started = time.monotonic()
    workspace_client(settings_for(emulator.url))
    assert time.monotonic() - started < 3
    assert emulator.router.requests("GET", "/.well-known/databricks-config")


def test_429_is_retried_after_retry_after(workspace, emulator) -> None:  # type: ignore[no-untyped-def]
    emulator.router.inject(Fault(path=EXISTS, status=429, error_code="REQUEST_LIMIT_EXCEEDED",
                                 message="Too many requests", retry_after=1, times=2))
    started = time.monotonic()
    assert SqlWarehouseEngine(workspace, WAREHOUSE_ID).table_exists("main.dbx_faults.t") is False
    assert time.monotonic() - started >= 2
    assert len(emulator.router.requests("GET", EXISTS)) == 3


def test_503_is_retried(workspace, emulator) -> None:  # type: ignore[no-untyped-def]
    emulator.router.inject(Fault(path=EXISTS, status=503, retry_after=0.2, times=1))
    assert SqlWarehouseEngine(workspace, WAREHOUSE_ID).table_exists("main.dbx_faults.t") is False
    assert len(emulator.router.requests("GET", EXISTS)) == 2


def test_500_is_not_retried_and_names_the_error(workspace, emulator) -> None:  # type: ignore[no-untyped-def]
    emulator.router.inject(Fault(path=EXISTS, status=500, error_code="INTERNAL_ERROR", message="catalog broke"))
    with pytest.raises(EngineError, match=r"checking table main\.dbx_faults\.t .* failed: INTERNAL_ERROR: catalog"):
        SqlWarehouseEngine(workspace, WAREHOUSE_ID).table_exists("main.dbx_faults.t")
    assert len(emulator.router.requests("GET", EXISTS)) == 1


def test_throttling_past_the_retry_budget_fails_the_call_not_the_cycle(emulator) -> None:  # type: ignore[no-untyped-def]
    client = workspace_client(settings_for(emulator.url, retry_timeout="2s"))
    emulator.router.inject(Fault(path="/jobs/run-now", status=503, retry_after=0.5, times=None))
    emulator.jobs.add(42)
    started = time.monotonic()
    with pytest.raises(WorkspaceError, match="did not answer successfully within the retry budget"):
        DatabricksJobBackend(client).start("run-1", "42", {})
    assert time.monotonic() - started < 10


def test_a_slow_answer_is_waited_for(workspace, emulator) -> None:  # type: ignore[no-untyped-def]
    emulator.router.inject(Fault(path=EXISTS, delay=1.0))
    started = time.monotonic()
    assert SqlWarehouseEngine(workspace, WAREHOUSE_ID).table_exists("main.dbx_faults.t") is False
    assert time.monotonic() - started >= 1.0


def test_a_wrong_token_is_a_clear_error_without_the_token(emulator) -> None:  # type: ignore[no-untyped-def]
    client = workspace_client(settings_for(emulator.url, token="dapi-wrong-secret"))
    with pytest.raises(EngineError) as caught:
        SqlWarehouseEngine(client, WAREHOUSE_ID).query("SELECT 1")
    message = str(caught.value)
    assert "refused the credentials (401): check the workspace block's credentials (token" in message
    assert "dapi-wrong-secret" not in message


def test_a_permission_error_is_named(workspace, emulator) -> None:  # type: ignore[no-untyped-def]
    emulator.router.inject(Fault(path="/jobs/run-now", status=403, error_code="PERMISSION_DENIED",
                                 message="User cannot run job 42"))
    emulator.jobs.add(42)
    with pytest.raises(WorkspaceError, match=r"permission denied \(403\): User cannot run job 42"):
        DatabricksJobBackend(workspace).start("run-1", "42", {})


def test_a_wrong_host_fails_within_the_retry_budget_and_names_it() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]  # closed once the block ends: nothing listens there
    started = time.monotonic()
    client = workspace_client(settings_for(f"http://127.0.0.1:{port}", retry_timeout="1s"))
    with pytest.raises(EngineError, match=rf"at http://127\.0\.0\.1:{port} failed: the workspace did not answer"):
        SqlWarehouseEngine(client, WAREHOUSE_ID).table_exists("main.dbx_faults.t")
    assert time.monotonic() - started < 15
