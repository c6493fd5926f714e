"""Step ``validate``: optional validation job, then the gates; the verdict becomes version tags.

The champion must still be the one the job scored against: if someone moved the alias meanwhile the
comparison is void and the run fails. Tags written: ``lakewarden.validation`` (passed, rejected)
and ``lakewarden.validation_reason`` (the verdict in words), so the registry shows why.
"""

from __future__ import annotations

from config.durations import format_duration
from retrain.promotion import describe_version
from retrain.runs import RunState
from retrain.steps.base import VALIDATION_REASON_TAG, VALIDATION_TAG, End, Next, Outcome, StepContext, Wait
from retrain.steps.jobs import base_parameters, cancel_jobs, run_job
from retrain.validation import ValidationOutcome, judge

_TAG_TEXT = 5000  # MLflow tag values are capped; the audit trail keeps the whole message


def validate(ctx: StepContext) -> Outcome:
    settings = ctx.settings.validate_
    version = str(ctx.run.model_version)
    registry = ctx.deps.registry
    alias = ctx.settings.promote.champion_alias
    expected = ctx.get("champion_at_start")
    champion = registry.get_alias(ctx.model, alias)
    if champion != expected:
        return End(RunState.FAILED,
                   f"alias {alias} of {ctx.model} moved from {describe_version(expected)} to "
                   f"{describe_version(champion)} while the job ran: version {version} was scored against "
                   "another champion")
    if ctx.overdue("validate_started_at", settings.timeout):
        cancel_jobs(ctx)
        return End(RunState.FAILED, f"validation did not finish within {format_duration(settings.timeout)}")
    if settings.job is not None:
        params = {**base_parameters(ctx), "model_version": version, "champion_version": champion or ""}
        result = run_job(ctx, settings.job, params, prefix="validate_")
        if isinstance(result, Wait):
            return result
        if not result.ok:
            return End(RunState.FAILED, f"validation job: {result.message}")
    verdict = judge(registry.version_metrics(ctx.model, version), settings, version, champion,
                    registry.version_info(ctx.model, version))
    if verdict.outcome is ValidationOutcome.INVALID:
        return End(RunState.FAILED, verdict.message)
    registry.set_version_tag(ctx.model, version, VALIDATION_TAG, verdict.outcome.value)
    registry.set_version_tag(ctx.model, version, VALIDATION_REASON_TAG, verdict.message[:_TAG_TEXT])
    if verdict.outcome is ValidationOutcome.REJECTED:
        return End(RunState.REJECTED, verdict.message)
    return Next(verdict.message)
