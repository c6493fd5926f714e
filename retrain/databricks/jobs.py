"""Lifecycle jobs as Databricks jobs: ``run-now`` once per lifecycle run, ``runs/get``, ``runs/cancel``.

The idempotency token is derived from the lifecycle run id and the job id, so a ``start`` retried
after a crash or a timeout gets the same Databricks run, never a second one. ``status`` reads the
run's ``status`` (``state`` + ``termination_details``) and falls back to the deprecated ``state``
(``life_cycle_state`` + ``result_state``); a TERMINATED run counts as succeeded only with result
SUCCESS (the SDK's own waiter returns on TERMINATED whatever the result). The external id is the
Databricks run id as text. Once a run is deleted, run-now with its token is refused (:class:`RunDeleted`):
lakewarden never works around that by starting the job under a new token for the same lifecycle run.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import structlog

from retrain.backends.base import JobState, JobStatus
from retrain.databricks.client import WorkspaceError, describe_error, is_not_found

if TYPE_CHECKING:
    from databricks.sdk import WorkspaceClient

log = structlog.get_logger(__name__)

_TERMINAL_FAILED = ("SKIPPED", "INTERNAL_ERROR")
_SUCCESS = ("SUCCESS", "SUCCESS_WITH_FAILURES")


def idempotency_token(run_id: str, job_id: str) -> str:
    """At most 64 characters, the same for the same lifecycle run and job."""
    return "lakewarden-" + hashlib.sha256(f"{run_id}:{job_id}".encode()).hexdigest()[:48]


def _value(enum_or_none: Any) -> str | None:
    return None if enum_or_none is None else str(getattr(enum_or_none, "value", enum_or_none))


class RunDeleted(WorkspaceError):
    """run-now with the idempotency token of a run that was deleted: the API refuses to start another."""


def _deleted_token(exc: BaseException) -> bool:
    """The answer to run-now with the token of a deleted run. The API documents that an error is returned
    but not its code or words: any 400 naming the idempotency token is taken as this."""
    from databricks.sdk import errors  # noqa: PLC0415

    return isinstance(exc, errors.BadRequest) and "idempotency" in str(exc).lower()


class DatabricksJobBackend:
    """Runs lifecycle jobs as runs of existing Databricks jobs (``retrain.job_id``)."""

    kind = "databricks"

    def __init__(self, client: WorkspaceClient) -> None:
        self._client = client

    @property
    def host(self) -> str:
        return str(self._client.config.host)

    def start(self, run_id: str, target: str, params: Mapping[str, str]) -> str:
        """``run-now`` of job ``target`` with ``params`` as job parameters; the Databricks run id."""
        try:
            job_id = int(target)
        except ValueError:
            raise ValueError(f"a Databricks job id (an integer), not {target!r}") from None
        token = idempotency_token(run_id, target)
        try:
            run = self._client.jobs.run_now(job_id=job_id, job_parameters=dict(params), idempotency_token=token)
        except Exception as exc:
            if _deleted_token(exc):
                raise RunDeleted(
                    f"job {job_id} at {self.host}: the run lakewarden started for lifecycle run {run_id} was deleted "
                    "in the workspace, and Databricks refuses to start another under the same idempotency token. "
                    "lakewarden does not start the job twice for one lifecycle run: cancel this lifecycle run and "
                    "start a new one (lakewarden lifecycle cancel / start)") from exc
            if is_not_found(exc):
                raise WorkspaceError(f"Databricks job {job_id} does not exist at {self.host}: check "
                                     "lifecycle.retrain.job_id") from exc
            raise WorkspaceError(describe_error(exc, f"starting job {job_id}", self.host)) from exc
        log.info("databricks_job_started", run_id=run_id, job_id=job_id, databricks_run_id=run.run_id)
        return str(run.run_id)

    def status(self, external_id: str) -> JobStatus:
        try:
            run = self._client.jobs.get_run(int(external_id))
        except Exception as exc:
            if is_not_found(exc):
                return JobStatus(JobState.FAILED, f"Databricks run {external_id} does not exist at {self.host}")
            raise WorkspaceError(describe_error(exc, f"reading run {external_id}", self.host)) from exc
        url = f" ({run.run_page_url})" if run.run_page_url else ""
        status = run.status
        if status is not None and status.state is not None:
            life = _value(status.state)
            details = status.termination_details
            code = _value(details.code) if details else None
            message = (details.message if details else None) or ""
            if life != "TERMINATED":
                return JobStatus(JobState.RUNNING, f"{life.lower() if life else 'running'}{url}")
            if code in _SUCCESS:
                return JobStatus(JobState.SUCCEEDED, f"run {external_id} succeeded{url}")
            return JobStatus(JobState.FAILED, f"run {external_id} ended {code}: {message}{url}".rstrip(": "))
        state = run.state
        life = _value(state.life_cycle_state) if state else None
        result = _value(state.result_state) if state else None
        message = (state.state_message if state else None) or ""
        if life in _TERMINAL_FAILED:
            return JobStatus(JobState.FAILED, f"run {external_id} ended {life}: {message}{url}")
        if life != "TERMINATED":
            return JobStatus(JobState.RUNNING, f"{(life or 'pending').lower()}{url}")
        if result in _SUCCESS:
            return JobStatus(JobState.SUCCEEDED, f"run {external_id} succeeded{url}")
        return JobStatus(JobState.FAILED, f"run {external_id} ended {result}: {message}{url}")

    def find(self, key: str, target: str, params: Mapping[str, str]) -> list[str]:
        """Active runs of job ``target`` whose job parameters include ``params`` (``runs/list``, newest first).

        A run's idempotency token is not in ``runs/list`` answers, and asking ``run-now`` again with
        it would start the job when none was started; the job parameters are there, and each
        lifecycle job is given ``lakewarden_run_id``.
        """
        try:
            job_id = int(target)
        except ValueError:
            return []
        found = []
        try:
            for run in self._client.jobs.list_runs(job_id=job_id, active_only=True):
                values = {p.name: p.value if p.value is not None else p.default for p in run.job_parameters or []}
                if run.run_id is not None and all(values.get(k) == v for k, v in params.items()):
                    found.append(str(run.run_id))
        except Exception as exc:
            raise WorkspaceError(describe_error(exc, f"listing the active runs of job {job_id}", self.host)) from exc
        return found

    def cancel(self, external_id: str) -> None:
        """Cancel the run; an unknown or finished run is left alone."""
        try:
            self._client.jobs.cancel_run(int(external_id))
        except Exception as exc:
            if is_not_found(exc):
                return
            raise WorkspaceError(describe_error(exc, f"cancelling run {external_id}", self.host)) from exc
        log.info("databricks_job_cancelled", databricks_run_id=external_id)
