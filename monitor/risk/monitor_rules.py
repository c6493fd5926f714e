"""The Lakehouse monitor's own health: missing, failed, or its newest refresh failed (``signals.monitor_health``).

Without a working monitor no new metric windows arrive, so no other finding can say so: the model
is unwatched. That is a finding of its own, at ``medium`` by default: it reaches the alerts (with
the default ``alert_from``) once persistent, but ranks below a model known to be degrading (high).
A pending monitor (still being created) and a canceled refresh are not findings. With
``stale_after``, an active monitor whose newest successful refresh is older than that is a
``stale`` finding (``low`` by default): no new windows for longer than its schedule should allow.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

from config.basics.severity import AlertSeverity
from config.durations import format_duration
from monitor.observations import TABLE_COLUMN, MonitorStatus
from monitor.risk.assessment import STATE_STATISTIC, Finding, NotRaised
from monitor.risk.context import Context, Outcome

SIGNAL = "lakehouse_monitor"
_FIX = {
    "missing": "create a Lakehouse monitor on the table (or name both metric tables in sources.lakehouse)",
    "failed": "look at the monitor's dashboard and failure message, fix the cause and refresh it",
    "refresh_failed": "fix the cause and refresh it (lakewarden monitors refresh MODEL --config ...)",
    "stale": "check the monitor's refresh schedule, or refresh it (lakewarden monitors refresh MODEL --config ...)",
}


def monitor_health(ctx: Context) -> Iterator[Outcome]:
    status, signal = ctx.window.monitor, ctx.signals.monitor_health
    if status is None or not signal.enabled:
        return
    problem, tier, text = _problem(status, signal.missing, signal.failed, signal.refresh_failed)
    if problem is None and signal.stale_after is not None and status.refresh_state == "success" \
            and status.refresh_ended is not None:
        age = ctx.window.window_end - status.refresh_ended  # the period's end: the same on replay
        if age > signal.stale_after:
            problem, tier = "stale", signal.stale
            rounded = timedelta(minutes=round(age.total_seconds() / 60))
            text = (f"the monitor on {status.table} last refreshed successfully at "
                    f"{status.refresh_ended.isoformat()}, {format_duration(rounded)} before this window's end "
                    f"(stale_after {format_duration(signal.stale_after)})")
    if problem is None:
        yield NotRaised(SIGNAL, TABLE_COLUMN, text, "below" if status.state == "active" else "skipped", STATE_STATISTIC)
        return
    if tier is None:
        yield NotRaised(SIGNAL, TABLE_COLUMN, f"{text} (monitor_health.{problem} is off)", "skipped", STATE_STATISTIC)
        return
    yield Finding(SIGNAL, TABLE_COLUMN, STATE_STATISTIC, 1.0, tier, 1.0, signal.weight,
                  detail=f"{text}; {_FIX[problem]}")


def _problem(status: MonitorStatus, missing: AlertSeverity | None, failed: AlertSeverity | None,
             refresh_failed: AlertSeverity | None) -> tuple[str | None, AlertSeverity | None, str]:
    """(which problem, its tier, the sentence) or (None, None, why it is fine)."""
    table, message = status.table, f": {status.message}" if status.message else ""
    if status.state in ("missing", "delete_pending"):
        what = "is being deleted" if status.state == "delete_pending" else "is missing"
        return "missing", missing, f"the monitor on {table} {what}{message}"
    if status.state in ("error", "failed"):
        return "failed", failed, f"the monitor on {table} is {status.state.upper()}{message}"
    if status.state != "active":
        return None, None, f"the monitor on {table} is {status.state}{message}: not judged yet"
    if status.refresh_state == "failed":
        ended = f" at {status.refresh_ended.isoformat()}" if status.refresh_ended else ""
        why = f": {status.refresh_message}" if status.refresh_message else ""
        return ("refresh_failed", refresh_failed,
                f"the newest refresh ({status.refresh_id}) of the monitor on {table} FAILED{ended}{why}")
    last = f"newest refresh {status.refresh_state}" if status.refresh_state else "no refresh ended yet"
    return None, None, f"the monitor on {table} is active ({last})"
