"""M-of-N persistence with enter and exit levels: one noisy window neither pages nor resolves.

A stream that is not firing starts when at least ``enter.m`` of its last ``enter.n`` windows are at
``alert_from`` or above. A firing stream resolves when at least ``exit.m`` of its last ``exit.n``
windows are below its exit level (``resolve_below``, by default the tier under ``alert_from``);
between the two it keeps its state. Its severity is the highest one that at least ``enter.m`` of the
last ``enter.n`` windows reach, never below ``alert_from``, and it does not step down while the
alert fires (a severity that changes with every window would be churn): a single critical window in
a high incident does not make the alert critical, two do, and it stays critical until it resolves.
"""

from __future__ import annotations

from collections.abc import Sequence

from config.basics.severity import ALERT_SEVERITIES, Severity, at_least, severity_rank
from config.signals import RiskSettings
from monitor.risk.assessment import StreamState


def persistent_severity(severities: Sequence[Severity], m: int) -> Severity:
    """The highest severity that at least ``m`` of ``severities`` reach, or ``ok``."""
    found: Severity = "ok"
    for level in ALERT_SEVERITIES:
        if sum(at_least(s, level) for s in severities) >= m:
            found = level
    return found


def advance(previous: StreamState, severities: Sequence[Severity], risk: RiskSettings) -> StreamState:
    """The state after the newest window; ``severities`` are the stream's windows, newest last."""
    entering = list(severities[-risk.enter.n:])
    exiting = list(severities[-risk.exit.n:])
    start, stop = risk.alert_from, risk.exit_level
    hits = sum(at_least(s, start) for s in entering)
    quiet = sum(not at_least(s, stop) for s in exiting)
    level = persistent_severity(entering, risk.enter.m)
    if not at_least(level, start):
        level = start
    counted = f"{hits} of the last {len(entering)} windows at or above {start}"
    if previous.firing:
        if quiet >= risk.exit.m:
            return StreamState(False, "ok", f"resolved: {quiet} of the last {len(exiting)} windows below {stop} "
                                            f"({risk.exit.m} needed)")
        if severity_rank(previous.severity) > severity_rank(level):
            level = previous.severity  # an alert does not step down while it fires: no churn
        return StreamState(True, level, f"still firing: {counted}; {quiet} of the last {len(exiting)} below "
                                        f"{stop}, {risk.exit.m} needed to resolve")
    if hits >= risk.enter.m:
        return StreamState(True, level, f"firing: {counted} ({risk.enter.m} needed)")
    return StreamState(False, "ok", f"not firing: {counted}, {risk.enter.m} needed")


def replay_states(severities: Sequence[Severity], risk: RiskSettings,
                  start: StreamState | None = None) -> list[StreamState]:
    """The state after each window of a stream, from ``start`` (default: not firing)."""
    state = start or StreamState()
    states = []
    for index in range(len(severities)):
        state = advance(state, severities[: index + 1], risk)
        states.append(state)
    return states
