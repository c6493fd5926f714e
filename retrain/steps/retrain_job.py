"""Step ``retrain``: run the training job, then find the version it registered (tagged with the run id)."""

from __future__ import annotations

from retrain.promotion import describe_version
from retrain.runs import RunState
from retrain.steps.base import RUN_ID_TAG, End, Next, Outcome, StepContext, Wait
from retrain.steps.jobs import base_parameters, run_job


def retrain(ctx: StepContext) -> Outcome:
    settings = ctx.settings
    if "champion_at_start" not in ctx.external:
        # What the job compares against; recorded before the job can see it.
        champion = ctx.deps.registry.get_alias(ctx.model, settings.promote.champion_alias)
        ctx.save(champion_at_start=champion, job_requested_at=ctx.now.isoformat())
    params = base_parameters(ctx)
    result = run_job(ctx, settings.retrain, params)
    if isinstance(result, Wait):
        return result
    if not result.ok:
        return End(RunState.FAILED, result.message)
    version = ctx.deps.registry.find_version_by_tag(ctx.model, RUN_ID_TAG, ctx.run.run_id)
    if version is None:
        return End(RunState.FAILED, f"{result.message} but registered no version of {ctx.model} tagged "
                                    f"{RUN_ID_TAG}={ctx.run.run_id}")
    champion = describe_version(ctx.get("champion_at_start"))
    return Next(f"{result.message}; version {version} of {ctx.model} registered (champion: {champion})",
                {"model_version": version})
