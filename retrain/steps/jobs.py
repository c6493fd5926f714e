"""Running a job from a step: start it once, poll it, cancel it at its timeout.

A step's jobs are told apart by ``prefix`` (``""`` for the retraining job, ``validate_`` and
``batch_`` for the others): their external ids live under ``<prefix>job_external_id``. The backend
makes the start idempotent (the local backend's runner claims the run id, Databricks honours the
idempotency token), so a crash between start and record starts no second job.

Each job records the lakewarden process that watches it (``<prefix>job_owner``, ``Deps.owner``) and
its last status (``<prefix>job_status``, shown by ``lakewarden lifecycle show``). A running job
whose owner is another process outlived it (a stop, a kill): it is adopted, logged as
``lifecycle_job_adopted`` and appended to ``<prefix>job_adoptions``. A job whose process is gone
without an exit record is FAILED by the backend's status (``started and died``) at the next tick.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import structlog

from config.durations import format_duration
from config.lifecycle import JobSpec
from retrain.backends.base import JobState
from retrain.steps.base import StepContext, Wait

log = structlog.get_logger(__name__)

JOB_PREFIXES = ("", "validate_", "batch_")


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
    id_key, started_key, owner_key = f"{prefix}job_external_id", f"{prefix}job_started_at", f"{prefix}job_owner"
    external_id = ctx.get(id_key)
    jobs = ctx.deps.jobs
    if external_id is None:
        suffix = f"-{prefix.rstrip('_')}" if prefix else ""
        extra = dict(ctx.run.trigger.parameters)
        external_id = jobs.start(f"{ctx.run.run_id}{suffix}", spec.target, {**spec.parameters, **extra, **params})
        ctx.save(**{id_key: external_id, started_key: ctx.now.isoformat(), owner_key: ctx.deps.owner})
    status = jobs.status(str(external_id))
    if ctx.get(f"{prefix}job_status") != status.message:
        ctx.save(**{f"{prefix}job_status": status.message})  # what ``lifecycle show`` says of the job
    if status.state is JobState.RUNNING and ctx.get(owner_key) != ctx.deps.owner:
        adopt(ctx, prefix, str(external_id), status.message)
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


def adopt(ctx: StepContext, prefix: str, external_id: str, status: str) -> None:
    """The job outlived the lakewarden that started it (stopped, killed): this one watches it now."""
    owner_key = f"{prefix}job_owner"
    log.warning("lifecycle_job_adopted", run_id=ctx.run.run_id, model=ctx.run.model, job=external_id,
                backend=ctx.deps.jobs.kind, status=status, started_by=ctx.get(owner_key), adopted_by=ctx.deps.owner,
                note="the job outlived the lakewarden process that started it; it is watched, not started again")
    adoptions = [*(ctx.get(f"{prefix}job_adoptions") or []), {"at": ctx.now.isoformat(), "by": ctx.deps.owner,
                                                              "from": ctx.get(owner_key)}]
    ctx.save(**{owner_key: ctx.deps.owner, f"{prefix}job_adoptions": adoptions})


def running_jobs(ctx: StepContext) -> list[tuple[str, str, str]]:
    """(prefix, external id, status) of every job of the run that runs now."""
    found = []
    for prefix in JOB_PREFIXES:
        external_id = ctx.get(f"{prefix}job_external_id")
        if external_id is None:
            continue
        status = ctx.deps.jobs.status(str(external_id))
        if status.state is JobState.RUNNING:
            found.append((prefix, str(external_id), status.message))
    return found


def unrecorded_jobs(ctx: StepContext) -> list[str]:
    """External ids of running jobs of the run's current step that were started but never recorded.

    A daemon killed between a job's start and its record leaves a job that only the backend knows
    (the local claim, a Databricks run with the run's parameters); the next tick would adopt it, but
    a cancel asked meanwhile must stop it too.
    """
    step = ctx.run.step.value
    specs = {"retrain": ("", ctx.settings.retrain), "validate": ("validate_", ctx.settings.validate_.job),
             "batch_score": ("batch_", ctx.settings.batch_score)}
    if step not in specs:
        return []
    prefix, spec = specs[step]
    if spec is None or ctx.get(f"{prefix}job_external_id") is not None:
        return []
    suffix = f"-{prefix.rstrip('_')}" if prefix else ""
    return ctx.deps.jobs.find(f"{ctx.run.run_id}{suffix}", spec.target,
                              {"lakewarden_run_id": ctx.run.run_id, "model_name": ctx.model})


def cancel_jobs(ctx: StepContext) -> None:
    """Cancel every job of the run that may still run, recorded or not (asked on cancel, never raised)."""
    for _prefix, external_id, _status in running_jobs(ctx):
        ctx.deps.jobs.cancel(external_id)
    for external_id in unrecorded_jobs(ctx):
        log.warning("lifecycle_unrecorded_job_cancelled", run_id=ctx.run.run_id, model=ctx.run.model,
                    job=external_id, backend=ctx.deps.jobs.kind,
                    note="started by a lakewarden killed before it recorded the job; cancelled with the run")
        ctx.deps.jobs.cancel(external_id)
