"""Step ``promote``: move the aliases (``retrain.promotion``); a failure half-way is put back."""

from __future__ import annotations

from typing import Any

from config.durations import format_duration
from retrain.promotion import promote as move_aliases
from retrain.runs import RunState
from retrain.steps.base import Next, Outcome, Revert, StepContext


def promote(ctx: StepContext) -> Outcome:
    aliases = ctx.settings.promote
    if ctx.overdue("promote_started_at", aliases.timeout):
        return Revert(RunState.FAILED, f"promotion did not finish within {format_duration(aliases.timeout)}")
    progress = dict(ctx.get("promotion") or {})

    def record(done: dict[str, Any]) -> None:
        progress.update(done)
        ctx.save(promotion=dict(progress))

    expected = ctx.get("champion_at_start")
    result = move_aliases(ctx.deps.registry, ctx.model, str(ctx.run.model_version),
                          expected_champion=None if expected is None else str(expected),
                          aliases=aliases, progress=progress, record=record)
    if not result.ok:
        # promote() already put back what it moved and left the champion where someone else put it.
        return Revert(RunState.FAILED, result.message)
    return Next(result.message)
