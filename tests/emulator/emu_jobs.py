"""Jobs API 2.2: ``run-now`` (idempotency tokens honoured), ``runs/get`` (``state`` and ``status``),
``runs/list`` (``job_id``, ``active_only``; one page, newest first), ``runs/cancel``, ``runs/delete``
(finished runs only; run-now with the token of a deleted run is then refused, as the API documents);
each job has a scripted outcome and timing on the emulator clock, and can send the
``jobs.on_start`` / ``on_success`` / ``on_failure`` webhooks to a URL (basic auth optional).

``Job.on_success`` (optional) is what the job's code does when a run succeeds, e.g. register a model
version: it is called once per run, before any ``runs/get`` answers SUCCESS for that run."""

from __future__ import annotations

import base64
import itertools
import json
import threading
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from emu_clock import EmuClock
from emu_http import ApiError, Request, Router, bad_request

# outcome -> (result_state, status termination code, termination type, message)
OUTCOMES = {
    "SUCCESS": ("SUCCESS", "SUCCESS", "SUCCESS", ""),
    "FAILED": ("FAILED", "RUN_EXECUTION_ERROR", "CLIENT_ERROR", "Task train failed with message: ValueError: bad data"),
    "TIMEDOUT": ("TIMEDOUT", "RUN_EXECUTION_ERROR", "CLIENT_ERROR", "Run timed out after 7200 seconds"),
}


@dataclass
class Job:
    job_id: int
    name: str
    outcome: str = "SUCCESS"
    queued_seconds: float = 1.0
    run_seconds: float = 2.0
    on_success: Callable[[Run], None] | None = None


@dataclass
class Run:
    run_id: int
    job: Job
    number: int
    started: float
    parameters: dict[str, str]
    canceled_at: float | None = None
    sent: set[str] = field(default_factory=set)


class Jobs:
    def __init__(self, clock: EmuClock, workspace_id: int = 1234567890123456) -> None:
        self.clock = clock
        self.workspace_id = workspace_id
        self.jobs: dict[int, Job] = {}
        self.runs: dict[int, Run] = {}
        self.tokens: dict[str, int] = {}
        self.webhook_url: str | None = None
        self.webhook_auth: tuple[str, str] | None = None
        self.webhooks_sent: list[dict[str, Any]] = []
        self._ids = itertools.count(911206374128401)
        self._lock = threading.Lock()
        self._hooks = threading.Lock()

    def add(self, job_id: int, name: str = "retrain", **fields: Any) -> Job:
        self.jobs[job_id] = Job(job_id, name, **fields)
        return self.jobs[job_id]

    def register(self, router: Router) -> None:
        router.add("POST", "/api/2.2/jobs/run-now", self._run_now)
        router.add("GET", "/api/2.2/jobs/runs/get", self._get)
        router.add("GET", "/api/2.2/jobs/runs/list", self._list)
        router.add("POST", "/api/2.2/jobs/runs/cancel", self._cancel)
        router.add("POST", "/api/2.2/jobs/runs/delete", self._delete)

    def state(self, run: Run) -> tuple[str, str | None, float | None]:
        """Life cycle state, result state and end time (seconds) on the clock."""
        now, job = self.clock.now(), run.job
        end = run.started + job.queued_seconds + job.run_seconds
        if run.canceled_at is not None and run.canceled_at < end:
            return "TERMINATED", "CANCELED", run.canceled_at
        if now < run.started + job.queued_seconds:
            return "QUEUED", None, None
        if now < end:
            return "RUNNING", None, None
        return "TERMINATED", OUTCOMES[job.outcome][0], end

    def _run_now(self, request: Request) -> tuple[int, Any]:
        job = self.jobs.get(_int(request.body.get("job_id"), "job_id"))
        if job is None:
            raise bad_request(f"Job {request.body.get('job_id')} does not exist.")
        token = request.body.get("idempotency_token")
        if token is not None and len(str(token)) > 64:
            raise bad_request("idempotency_token must be at most 64 characters")
        with self._lock:
            if token is not None and token in self.tokens and self.tokens[token] not in self.runs:
                # Documented: "If a run with the provided token is deleted, an error is returned." The
                # code and words are not documented; these are the emulator's.
                raise bad_request(f"A run with idempotency token {token} was deleted; it cannot be started again "
                                  "with the same token.")
            if token is not None and token in self.tokens:
                run = self.runs[self.tokens[token]]
            else:
                number = sum(1 for r in self.runs.values() if r.job is job) + 1
                run = Run(next(self._ids), job, number, self.clock.now(),
                          {str(k): str(v) for k, v in (request.body.get("job_parameters") or {}).items()})
                self.runs[run.run_id] = run
                if token is not None:
                    self.tokens[token] = run.run_id
        self.tick()
        return 200, {"run_id": run.run_id, "number_in_job": run.number}

    def _find(self, value: Any) -> Run:
        run = self.runs.get(_int(value, "run_id"))
        if run is None:
            raise bad_request(f"Run {value} does not exist.")
        return run

    def _get(self, request: Request) -> tuple[int, Any]:
        run = self._find(request.query.get("run_id"))
        self.tick()
        life, result, end = self.state(run)
        if result == "SUCCESS":
            self._succeeded(run)
        v2 = {"QUEUED": "QUEUED", "RUNNING": "RUNNING", "TERMINATED": "TERMINATED"}[life]
        state: dict[str, Any] = {"life_cycle_state": life, "state_message": "",
                                 "user_cancelled_or_timedout": result in ("CANCELED", "TIMEDOUT")}
        status: dict[str, Any] = {"state": v2}
        if result is not None:
            state["result_state"] = result
            if result == "CANCELED":
                code, kind, message = "USER_CANCELED", "SUCCESS", "Run cancelled by the user."
            else:
                _, code, kind, message = OUTCOMES[run.job.outcome]
            state["state_message"] = message
            status["termination_details"] = {"code": code, "type": kind, "message": message}
        body: dict[str, Any] = {
            "job_id": run.job.job_id, "run_id": run.run_id, "number_in_job": run.number,
            "run_name": run.job.name, "state": state, "status": status, "trigger": "ONE_TIME",
            "start_time": int(run.started * 1000), "end_time": int(end * 1000) if end else 0,
            "run_page_url": f"https://emulator.local/#job/{run.job.job_id}/run/{run.run_id}",
            "job_parameters": [{"name": k, "value": v} for k, v in run.parameters.items()],
        }
        return 200, body

    def _list(self, request: Request) -> tuple[int, Any]:
        """Runs newest first, of ``job_id`` if given, only the unfinished ones with ``active_only=true``."""
        job_id = request.query.get("job_id")
        active_only = request.query.get("active_only", "false").lower() == "true"
        self.tick()
        runs = [run for run in self.runs.values()
                if (job_id is None or run.job.job_id == _int(job_id, "job_id"))
                and not (active_only and self.state(run)[0] == "TERMINATED")]
        return 200, {"runs": [{"job_id": run.job.job_id, "run_id": run.run_id, "number_in_job": run.number,
                               "run_name": run.job.name, "start_time": int(run.started * 1000),
                               "state": {"life_cycle_state": self.state(run)[0]},
                               "job_parameters": [{"name": k, "value": v} for k, v in run.parameters.items()]}
                              for run in sorted(runs, key=lambda r: -r.started)],
                     "has_more": False}

    def _cancel(self, request: Request) -> tuple[int, Any]:
        run = self._find(request.body.get("run_id"))
        if self.state(run)[0] != "TERMINATED":
            run.canceled_at = self.clock.now()
        self.tick()
        return 200, {}

    def _delete(self, request: Request) -> tuple[int, Any]:
        run = self._find(request.body.get("run_id"))
        if self.state(run)[0] != "TERMINATED":
            raise ApiError(400, "INVALID_STATE", f"Run {run.run_id} is active; only a finished run can be deleted.")
        with self._lock:
            del self.runs[run.run_id]
        return 200, {}

    def _succeeded(self, run: Run) -> None:
        """Run the job's ``on_success`` once for the run (held under a lock until it returned)."""
        with self._hooks:
            if run.job.on_success is None or "on_success" in run.sent:
                return
            run.job.on_success(run)
            run.sent.add("on_success")

    def tick(self) -> None:
        """Run due ``on_success`` hooks and send due webhooks (a background thread calls this often)."""
        for run in list(self.runs.values()):
            if self.state(run)[1] == "SUCCESS":
                self._succeeded(run)
        if self.webhook_url is None:
            return
        for run in list(self.runs.values()):
            life, result, _ = self.state(run)
            due = []
            if life in ("RUNNING", "TERMINATED"):
                due.append("jobs.on_start")
            if result == "SUCCESS":
                due.append("jobs.on_success")
            elif result is not None:
                due.append("jobs.on_failure")
            for event in due:
                with self._lock:
                    if event in run.sent:
                        continue
                    run.sent.add(event)
                self._send(event, run)

    def _send(self, event: str, run: Run) -> None:
        payload = {"event_type": event, "workspace_id": self.workspace_id, "run": {"run_id": run.run_id},
                   "job": {"job_id": run.job.job_id, "name": run.job.name}}
        self.webhooks_sent.append(payload)
        request = urllib.request.Request(str(self.webhook_url), data=json.dumps(payload).encode(),  # noqa: S310
                                         method="POST",
                                         headers={"Content-Type": "application/json"})
        if self.webhook_auth:
            user_pass = base64.b64encode(":".join(self.webhook_auth).encode()).decode()
            request.add_header("Authorization", f"Basic {user_pass}")
        try:
            with urllib.request.urlopen(request, timeout=5):  # noqa: S310 - the test's own loopback URL
                pass
        except OSError:
            pass  # Databricks does not retry a failed notification either


def _int(value: Any, name: str) -> int:
    try:
        return int(value)
    except (TypeError, ValueError) as exc:
        raise ApiError(400, "INVALID_PARAMETER_VALUE", f"{name} must be an integer, not {value!r}") from exc
