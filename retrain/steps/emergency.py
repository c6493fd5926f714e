"""Step ``emergency``: all traffic back to the previous champion at once, and the aliases with it.

Run by an emergency run (``Lifecycle.emergency``) when a window is ``critical`` with a risk at or
above ``emergency.min_risk``. The champion alias moves to the previous champion and the
``previous_champion`` alias is removed, so a second emergency cannot flip back to the model that
just failed: it finds no previous champion and fails loudly instead.
"""

from __future__ import annotations

from retrain.runs import RunState
from retrain.serving import EndpointMissing, EndpointSnapshot
from retrain.steps.base import ROLLED_BACK_TAG, End, Outcome, StepContext, Wait
from retrain.steps.endpoint import apply, only, serving


def emergency(ctx: StepContext) -> Outcome:
    spec = ctx.settings.rollout
    aliases = ctx.settings.promote
    registry = ctx.deps.registry
    if spec is None:
        return End(RunState.FAILED, "emergency: the model has no rollout block naming its endpoint")
    if "emergency_from" not in ctx.external:
        ctx.save(emergency_from=registry.get_alias(ctx.model, aliases.champion_alias),
                 emergency_to=registry.get_alias(ctx.model, aliases.previous_alias))
    bad, good = ctx.get("emergency_from"), ctx.get("emergency_to")
    if good is None:
        return End(RunState.FAILED, f"EMERGENCY FALLBACK IMPOSSIBLE: alias {aliases.previous_alias} of {ctx.model} "
                                    "is not set, so there is no previous champion to move traffic to; "
                                    "the endpoint is unchanged")
    if ctx.get("emergency_snapshot") is None:
        try:
            state = serving(ctx).read(spec.endpoint)
        except EndpointMissing as exc:
            return End(RunState.FAILED, f"EMERGENCY FALLBACK FAILED: {exc}")
        ctx.save(emergency_snapshot=state.snapshot().to_json())
    before = EndpointSnapshot.from_json(ctx.get("emergency_snapshot"))
    entities, routes = only(ctx.model, str(good), before.entities)
    applied = apply(ctx, spec.endpoint, entities, routes, "emergency_put", spec.update_timeout, before)
    if isinstance(applied, Wait):
        return applied
    if applied is not True:
        return End(RunState.FAILED, f"EMERGENCY FALLBACK FAILED: {applied}")
    if registry.get_alias(ctx.model, aliases.champion_alias) != str(good):
        registry.set_alias(ctx.model, aliases.champion_alias, str(good))
    if registry.get_alias(ctx.model, aliases.previous_alias) == str(good):
        registry.delete_alias(ctx.model, aliases.previous_alias)
    if bad is not None:
        registry.set_version_tag(ctx.model, str(bad), ROLLED_BACK_TAG, f"emergency: {ctx.run.trigger.reason}"[:5000])
    return End(RunState.ROLLED_BACK,
               f"emergency: all traffic of endpoint {spec.endpoint} moved to version {good} (previous champion), "
               f"away from version {bad}; {aliases.champion_alias} is version {good}: {ctx.run.trigger.reason}")
