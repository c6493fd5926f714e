"""Step ``rollback``: put production back as it was before the run, then end the run.

The endpoint gets the snapshot taken before the first change (if the run changed it), the aliases
go back (``retrain.promotion.revert``), and the version is tagged ``lakewarden.rolled_back`` with
the reason. Rollback is the safe direction: it runs even while the lifecycle is paused, and it
restores the snapshot whoever changed the endpoint since, except when the run ended because someone
else changed the endpoint (``endpoint_overtaken``): their config is left in place. If the endpoint
cannot be restored the run fails with ``ROLLBACK INCOMPLETE`` in its reason, which pages (README
"Lifecycle").
"""

from __future__ import annotations

from datetime import timedelta

from config.durations import format_duration
from retrain.promotion import revert
from retrain.runs import RunState
from retrain.serving import EndpointMissing, EndpointSnapshot
from retrain.steps.base import ROLLED_BACK_TAG, End, Outcome, StepContext, Wait
from retrain.steps.endpoint import describe, serving

_TAG_TEXT = 5000


def rollback(ctx: StepContext) -> Outcome:
    wanted = ctx.get("revert") or {}
    state, reason = RunState(wanted.get("state", RunState.FAILED.value)), str(wanted.get("reason", "rollback"))
    restored = _restore_endpoint(ctx)
    if isinstance(restored, Wait):
        return restored
    if isinstance(restored, End):
        return restored
    version = ctx.run.model_version
    aliases = "no alias had moved"
    if version is not None:
        champion = ctx.get("champion_at_start")
        aliases = revert(ctx.deps.registry, ctx.model, version,
                         expected_champion=None if champion is None else str(champion),
                         aliases=ctx.settings.promote, progress=ctx.get("promotion") or {})
        ctx.deps.registry.set_version_tag(ctx.model, version, ROLLED_BACK_TAG, reason[:_TAG_TEXT])
    return End(state, f"{reason}; rolled back: {restored}; {aliases}")


def _restore_endpoint(ctx: StepContext) -> str | Wait | End:
    touched = ctx.get("rollout_put") or ctx.get("rollout_full_put")
    snapshot = ctx.get("rollout_snapshot")
    if not touched or snapshot is None:
        return "the endpoint was not changed"
    before = EndpointSnapshot.from_json(snapshot)
    spec = ctx.settings.rollout
    timeout = spec.update_timeout if spec is not None else timedelta(minutes=30)
    backend = serving(ctx)
    try:
        state = backend.read(before.endpoint)
    except EndpointMissing:
        # Deleted since: it serves nobody, so there is nothing to put back; the aliases still go back.
        return f"endpoint {before.endpoint} no longer exists (nothing to restore)"
    what = f"endpoint {before.endpoint} serves {describe(before.entities, before.routes)} again"
    asked = ctx.get("rollback_put") is not None
    overtaken = ctx.get("endpoint_overtaken")
    if state.updating and not overtaken:
        # An update in flight (the run's own canary or full rollout, or this restore) decides what the
        # endpoint serves when it ends; its config now is not a finished rollback. Wait for it, within
        # update_timeout of asking (or, for an update the run asked earlier, of the rollback's start).
        if ctx.overdue("rollback_put" if asked else "rollback_started_at", timeout):
            return End(RunState.FAILED, f"ROLLBACK INCOMPLETE: endpoint {before.endpoint} still updating after "
                                        f"{format_duration(timeout)}; check it by hand")
        return Wait(f"endpoint {before.endpoint} is updating; the rollback waits for it")
    if state.serves(before.entities, before.routes):
        return what
    if overtaken:
        return (f"endpoint {before.endpoint} left as someone else set it (it serves "
                f"{describe(state.entities, state.routes)})")
    if asked and state.update_failed:
        return End(RunState.FAILED, f"ROLLBACK INCOMPLETE: restoring endpoint {before.endpoint} ended "
                                    f"{state.config_update}; it serves {describe(state.entities, state.routes)}")
    if not asked:
        ctx.save(rollback_put=ctx.now.isoformat())
    backend.put(before.endpoint, before.entities, before.routes)
    if backend.read(before.endpoint).serves(before.entities, before.routes):
        return what
    return Wait(f"endpoint {before.endpoint} is being restored")
