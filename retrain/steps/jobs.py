"""Running a job from a step: start it once, poll it, cancel it at its timeout.

A step's jobs are told apart by ``prefix`` (``""`` for the retraining job, ``validate_`` and
``batch_`` for the others): their external ids live under ``<prefix>job_external_id``. The backend
makes the start idempotent (the local backend claims the run id, Databricks honours the
idempotency token), so a crash between start and record starts no second job.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from config.durations import format_duration
from config.lifecycle import JobSpec
from retrain.backends.base import JobState
from retrain.steps.base import StepContext, Wait


@dataclass(frozen=True)
class JobResult:
    ok: bool
    message: str


def base_parameters(ctx: StepContext) -> dict[str, str]:
    """What every lifecycle job is told: which model, which run, why, and for which window."""
    trigger = ctx.run.trigger
    return {
        "model_name": ctx.model,
        "lakewarden_run_id": ctx.run.run_id,
        "reason": trigger.reason,
        "window_start": trigger.window_start.isoformat() if trigger.window_start else "",
        "window_end": trigger.window_end.isoformat() if trigger.window_end else "",
    }


def run_job(ctx: StepContext, spec: JobSpec, params: Mapping[str, str], prefix: str = "") -> Wait | JobResult:
    id_key, started_key = f"{prefix}job_external_id", f"{prefix}job_started_at"
    external_id = ctx.get(id_key)
    jobs = ctx.deps.jobs
    if external_id is None:
        suffix = f"-{prefix.rstrip('_')}" if prefix else ""
        extra = dict(ctx.run.trigger.parameters)
        external_id = jobs.start(f"{ctx.run.run_id}{suffix}", spec.target, {**spec.parameters, **extra, **params})
        ctx.save(**{id_key: external_id, started_key: ctx.now.isoformat()})
    status = jobs.status(str(external_id))
    if status.state is JobState.RUNNING:
        if not ctx.overdue(started_key, spec.timeout):
            return Wait(status.message)
        jobs.cancel(str(external_id))
        return JobResult(False, f"{jobs.kind} job {external_id} timed out after {format_duration(spec.timeout)}; "
                                "cancelled")
    if status.state is JobState.FAILED:
        tail = f"\n{status.log_tail}" if status.log_tail else ""
        return JobResult(False, f"{jobs.kind} job {external_id} failed: {status.message}{tail}")
    return JobResult(True, f"{jobs.kind} job {external_id} succeeded")


def cancel_jobs(ctx: StepContext) -> None:
    """Cancel every job of the run that may still run (asked on cancel, never raised)."""
    for prefix in ("", "validate_", "batch_"):
        external_id = ctx.get(f"{prefix}job_external_id")
        if external_id is None:
            continue
        if ctx.deps.jobs.status(str(external_id)).state is JobState.RUNNING:
            ctx.deps.jobs.cancel(str(external_id))
