"""The Databricks job backend through the real databricks-sdk: run-now once per run, status, cancel, webhooks."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from retrain.backends.base import JobState
from retrain.databricks import DatabricksJobBackend, WorkspaceError, idempotency_token
from retrain.databricks.jobs import RunDeleted

pytestmark = pytest.mark.integration

PARAMS = {"model_name": "main.ml.churn", "lakewarden_run_id": "run-1", "reason": "drift", "window_start": "",
          "window_end": "", "catalog": "prod"}


def test_the_token_is_stable_and_fits_the_api() -> None:
    token = idempotency_token("run-1", "42")
    assert token == idempotency_token("run-1", "42") != idempotency_token("run-2", "42")
    assert len(token) <= 64


def test_a_run_goes_queued_running_succeeded(workspace, emulator) -> None:  # type: ignore[no-untyped-def]
    emulator.jobs.add(42, queued_seconds=5, run_seconds=60)
    backend = DatabricksJobBackend(workspace)
    run_id = backend.start("run-1", "42", PARAMS)
    (request,) = emulator.router.requests("POST", "/api/2.2/jobs/run-now")
    assert request.body["job_parameters"] == PARAMS
    assert request.body["idempotency_token"] == idempotency_token("run-1", "42")
    assert backend.status(run_id).state is JobState.RUNNING and "queued" in backend.status(run_id).message
    emulator.clock.advance(10)
    assert backend.status(run_id).state is JobState.RUNNING
    emulator.clock.advance(60)
    status = backend.status(run_id)
    assert status.state is JobState.SUCCEEDED and f"/run/{run_id}" in status.message


def test_starting_again_for_the_same_run_is_the_same_databricks_run(workspace, emulator) -> None:  # type: ignore[no-untyped-def]
    emulator.jobs.add(42)
    backend = DatabricksJobBackend(workspace)
    first = backend.start("run-1", "42", PARAMS)
    assert backend.start("run-1", "42", PARAMS) == first
    assert backend.start("run-2", "42", PARAMS) != first
    assert len(emulator.jobs.runs) == 2


def test_the_token_of_a_deleted_run_is_refused_and_no_second_run_starts(workspace, emulator) -> None:  # type: ignore[no-untyped-def]
    emulator.jobs.add(42, run_seconds=60)
    backend = DatabricksJobBackend(workspace)
    first = backend.start("run-1", "42", PARAMS)
    with pytest.raises(Exception, match="only a finished run can be deleted"):  # an active run stays
        workspace.jobs.delete_run(int(first))
    emulator.clock.advance(120)
    workspace.jobs.delete_run(int(first))  # someone tidies the job's history
    with pytest.raises(RunDeleted, match=r"was deleted in the workspace.*start a new one"):
        backend.start("run-1", "42", PARAMS)
    assert emulator.jobs.runs == {}  # nothing started under a new token behind the user's back
    assert backend.status(first).state is JobState.FAILED  # the deleted run reads as gone
    assert backend.start("run-2", "42", PARAMS) != first  # a new lifecycle run starts normally


@pytest.mark.parametrize(("outcome", "says"), [("FAILED", "RUN_EXECUTION_ERROR: Task train failed"),
                                               ("TIMEDOUT", "timed out after 7200 seconds")])
def test_a_failed_or_timed_out_run_is_failed_with_the_reason(workspace, emulator, outcome: str, says: str) -> None:  # type: ignore[no-untyped-def]
    emulator.jobs.add(42, outcome=outcome)
    backend = DatabricksJobBackend(workspace)
    run_id = backend.start("run-1", "42", PARAMS)
    emulator.clock.advance(10)
    status = backend.status(run_id)
    assert status.state is JobState.FAILED and says in status.message


def test_cancel_ends_the_run_canceled_and_unknown_runs_are_left_alone(workspace, emulator) -> None:  # type: ignore[no-untyped-def]
    emulator.jobs.add(42, run_seconds=600)
    backend = DatabricksJobBackend(workspace)
    run_id = backend.start("run-1", "42", PARAMS)
    backend.cancel(run_id)
    status = backend.status(run_id)
    assert status.state is JobState.FAILED and "USER_CANCELED" in status.message
    backend.cancel("999999")  # no error


def test_an_unknown_job_and_an_unknown_run_are_named(workspace, emulator) -> None:  # type: ignore[no-untyped-def]
    backend = DatabricksJobBackend(workspace)
    with pytest.raises(WorkspaceError, match=r"Databricks job 7 does not exist at http://127\.0\.0\.1:\d+: check"):
        backend.start("run-1", "7", PARAMS)
    status = backend.status("123")
    assert status.state is JobState.FAILED and "run 123 does not exist" in status.message


def test_a_run_now_throttled_once_is_retried_and_still_one_run(workspace, emulator) -> None:  # type: ignore[no-untyped-def]
    from emu_http import Fault

    emulator.jobs.add(42)
    emulator.router.inject(Fault(path="/jobs/run-now", status=429, error_code="REQUEST_LIMIT_EXCEEDED",
                                 retry_after=0.2))
    backend = DatabricksJobBackend(workspace)
    run_id = backend.start("run-1", "42", PARAMS)
    assert len(emulator.router.requests("POST", "/jobs/run-now")) == 2
    assert list(emulator.jobs.runs) == [int(run_id)]


@pytest.fixture
def receiver() -> Iterator[tuple[str, list[dict[str, Any]]]]:
    received: list[dict[str, Any]] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            received.append({"auth": self.headers.get("Authorization"), **body})
            self.send_response(200)
            self.end_headers()

        def log_message(self, format: str, *args: Any) -> None:
            return

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/hook", received
    server.shutdown()
    server.server_close()


def test_job_webhooks_carry_ids_only(workspace, emulator, receiver) -> None:  # type: ignore[no-untyped-def]
    url, received = receiver
    emulator.jobs.webhook_url, emulator.jobs.webhook_auth = url, ("lw", "pw")
    emulator.jobs.add(42, name="retrain-churn", outcome="FAILED")
    run_id = DatabricksJobBackend(workspace).start("run-1", "42", PARAMS)
    emulator.clock.advance(10)
    emulator.jobs.tick()
    assert [r["event_type"] for r in received] == ["jobs.on_start", "jobs.on_failure"]
    assert received[0]["run"] == {"run_id": int(run_id)} and received[0]["job"] == {"job_id": 42,
                                                                                   "name": "retrain-churn"}
    assert received[0]["auth"].startswith("Basic ") and "state" not in received[1]
