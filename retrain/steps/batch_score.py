"""Step ``batch_score``: run the batch inference job with the new champion's version."""

from __future__ import annotations

from retrain.runs import RunState
from retrain.steps.base import End, Next, Outcome, StepContext, Wait
from retrain.steps.jobs import base_parameters, run_job


def batch_score(ctx: StepContext) -> Outcome:
    spec = ctx.settings.batch_score
    if spec is None:
        return End(RunState.FAILED, "steps include batch_score but the model has no batch_score block")
    params = {**base_parameters(ctx), "model_version": str(ctx.run.model_version)}
    result = run_job(ctx, spec, params, prefix="batch_")
    if isinstance(result, Wait):
        return result
    if not result.ok:
        # The new champion serves already and passed its checks: a failed batch job is reported, not undone.
        return End(RunState.FAILED, f"batch scoring failed: {result.message}")
    return Next(f"batch scoring: {result.message}")
