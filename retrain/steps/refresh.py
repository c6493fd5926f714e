"""Step ``refresh_monitor``: refresh the model's Lakehouse monitor and wait for the refresh to end.

Once: the step records when it set out (``refresh_monitor_started_at``) before asking, and asks with
that time, so a daemon killed between asking and recording the refresh id follows the refresh it
asked for (running, or started since then) instead of starting a second
(``docs/lifecycle-recovery.md``).
"""

from __future__ import annotations

from config.durations import format_duration
from retrain.ports import RefreshState
from retrain.runs import RunState
from retrain.steps.base import End, Next, Outcome, StepContext, Wait


def refresh_monitor(ctx: StepContext) -> Outcome:
    monitors = ctx.deps.monitors
    if monitors is None:
        return End(RunState.FAILED, "refresh_monitor: no monitor refresher is configured for this workspace")
    timeout = ctx.settings.refresh_monitor.timeout
    if ctx.overdue("refresh_monitor_started_at", timeout):
        started = ctx.get("refresh_id")
        what = f"monitor refresh {started}" if started is not None else "the monitor refresh (it could not start)"
        return End(RunState.FAILED, f"{what} did not finish within {format_duration(timeout)}; "
                                    "the new model keeps serving")
    refresh_id = ctx.get("refresh_id")
    if refresh_id is None:
        refresh_id = monitors.start_refresh(ctx.run.model, since=ctx.started("refresh_monitor_started_at"))
        ctx.save(refresh_id=refresh_id)
    state, message = monitors.refresh_state(ctx.run.model, str(refresh_id))
    if state is RefreshState.RUNNING:
        return Wait(message)
    if state is RefreshState.FAILED:
        return End(RunState.FAILED, f"monitor refresh {refresh_id} failed: {message}; the new model keeps serving")
    return Next(f"monitor refreshed ({refresh_id}): {message}")
