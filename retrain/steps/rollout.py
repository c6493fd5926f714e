"""Step ``rollout``: a canary share to the challenger, watch the model's windows, then all traffic or roll back.

1. Snapshot the endpoint's config (what a rollback puts back).
2. Canary (``canary_percent`` > 0): the challenger gets that share, the served entities keep their
   proportions of the rest. Then in ``observe_windows`` judged windows, at least half of whose time
   lies after the canary went live, the ``watch`` signals must stay below ``rollback_on``; one at or
   above it rolls back.
3. All traffic to the challenger. The step's ``timeout`` covers all of it: no verdict in time rolls back.
"""

from __future__ import annotations

from datetime import datetime

from config.basics.severity import SEVERITIES, at_least
from config.durations import format_duration
from retrain.runs import RunState
from retrain.serving import EndpointMissing, EndpointSnapshot
from retrain.steps.base import End, Next, Outcome, Revert, StepContext, Wait
from retrain.steps.endpoint import apply, canary, describe, only, serving


def rollout(ctx: StepContext) -> Outcome:
    spec = ctx.settings.rollout
    if spec is None:
        return End(RunState.FAILED, "steps include rollout but the model has no rollout block")
    version = str(ctx.run.model_version)
    if ctx.overdue("rollout_started_at", spec.timeout):
        return Revert(RunState.FAILED, f"rollout of version {version} did not finish within "
                                       f"{format_duration(spec.timeout)}")
    if ctx.get("rollout_snapshot") is None:
        try:
            state = serving(ctx).read(spec.endpoint)
        except EndpointMissing as exc:
            # Revert: aliases a promote step moved before the rollout go back (nothing else changed).
            return Revert(RunState.FAILED, f"rollout: {exc}")
        if state.updating:
            return Wait(f"endpoint {spec.endpoint} is updating (someone else's change); waiting for it to end")
        ctx.save(rollout_snapshot=state.snapshot().to_json())
    before = EndpointSnapshot.from_json(ctx.get("rollout_snapshot"))
    if spec.canary_percent:
        entities, routes = canary(before, ctx.model, version, spec.canary_percent)
        if ctx.get("canary_live_at") is None:
            applied = apply(ctx, spec.endpoint, entities, routes, "rollout_put", spec.update_timeout, before)
            if not isinstance(applied, bool):
                return applied if isinstance(applied, Wait) else Revert(RunState.FAILED, f"canary: {applied}")
            ctx.save(canary_live_at=ctx.now.isoformat())
            return Wait(f"canary: version {version} serves {spec.canary_percent}% of endpoint {spec.endpoint} "
                        f"({describe(entities, routes)}); watching {', '.join(spec.watch)} for "
                        f"{spec.observe_windows} windows", announce=True)
        if not ctx.get("canary_passed"):
            judged = _observe(ctx, datetime.fromisoformat(str(ctx.get("canary_live_at"))))
            if judged is not None:
                return judged
        before = EndpointSnapshot(spec.endpoint, None, tuple(entities), routes)
    entities, routes = only(ctx.model, version, before.entities)
    applied = apply(ctx, spec.endpoint, entities, routes, "rollout_full_put", spec.update_timeout, before)
    if not isinstance(applied, bool):
        return applied if isinstance(applied, Wait) else Revert(RunState.FAILED, f"full rollout: {applied}")
    original = EndpointSnapshot.from_json(ctx.get("rollout_snapshot"))
    return Next(f"version {version} serves all traffic of endpoint {spec.endpoint} (was: "
                f"{describe(original.entities, original.routes)})")


def _observe(ctx: StepContext, live_at: datetime) -> Outcome | None:
    spec = ctx.settings.rollout
    assert spec is not None  # noqa: S101 - rollout() checked it
    if ctx.deps.verdicts is None:
        return Revert(RunState.FAILED, "canary: no assessments to observe (no assessment reader configured)")
    windows = ctx.deps.verdicts.windows_since(ctx.run.model, live_at)[: spec.observe_windows]
    for window in windows:
        levels = {"any": window.severity, **window.signals}
        for signal in spec.watch:
            level = levels.get(signal, "ok")
            if level in SEVERITIES and at_least(level, spec.rollback_on):  # a tier not known never rolls back
                return Revert(RunState.ROLLED_BACK,
                              f"canary of version {ctx.run.model_version}: window {window.window_start.isoformat()} "
                              f"had {signal} at {level} (risk {window.risk:.0f}), at or above rollback_on "
                              f"{spec.rollback_on}")
    if len(windows) < spec.observe_windows:
        return Wait(f"canary: {len(windows)} of {spec.observe_windows} windows observed")
    worst = max((w.risk for w in windows), default=0.0)
    ctx.save(canary_passed=f"{len(windows)} windows below {spec.rollback_on}, highest risk {worst:.0f}")
    return None
