"""A stored assessment in words: the verdict, what was raised by contribution, and why the rest was not.

Also ``replay``: judge a stored window again, from its stored inputs, with today's settings; and
``render_history``: the judged windows, newest first, one line each, with the alert as it stood then.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from config.models import ModelSettings
from monitor.observations import Scope
from monitor.observations_codec import window_from_json
from monitor.risk.assessment import Assessment, Finding, NotRaised, PriorWindow
from monitor.risk.judge import judge
from monitor.risk.score import contribution, counted

if TYPE_CHECKING:
    from monitor.risk.stored import StoredAssessment

KIND_WORDS = {"skipped": "skipped", "not_significant": "not significant", "below": "below its lowest tier",
              "duplicate": "counted in another scope"}


def _scope(data: dict[str, Any] | None) -> Scope:
    data = data or {}
    return Scope(data.get("slice_key"), data.get("slice_value"), data.get("model_id"))


def finding_from_json(data: dict[str, Any]) -> Finding:
    recent = data.get("recent")
    return Finding(data["signal"], data["column"], data["statistic"], float(data["value"]), data["tier"],
                   float(data["threshold"]), float(data["weight"]), data.get("drift_type"), _scope(data.get("scope")),
                   data.get("detail", ""), bool(data.get("worse_when_lower", False)),
                   None if recent is None else (int(recent[0]), int(recent[1])))


def not_raised_from_json(data: dict[str, Any]) -> NotRaised:
    value = data.get("value")
    return NotRaised(data["signal"], data["column"], data["reason"], data.get("kind", "skipped"),
                     data.get("statistic"), None if value is None or isinstance(value, str) else float(value),
                     _scope(data.get("scope")), data.get("drift_type"))


def replay(model: ModelSettings, row: StoredAssessment, history: Sequence[PriorWindow]) -> Assessment | None:
    """The stored window judged again with ``model``'s current settings; None when the row has no inputs."""
    inputs = row.inputs
    if "window" not in inputs:
        return None  # stored by schema version 1: its inputs cannot be replayed
    return judge(model, window_from_json(inputs["window"]), history, inputs.get("feature_weights") or {})


def render(row: StoredAssessment, model_alert: str, *, show_below: bool = False,
           replayed: Assessment | None = None) -> str:
    findings = [finding_from_json(f) for f in row.findings]
    not_raised = [not_raised_from_json(n) for n in row.skipped if "reason" in n]
    first = counted(findings)
    start, end = row.window_start, row.window_end
    rows = f"{row.row_count:,} rows" if row.row_count is not None else "row count unknown"
    lines = [
        f"{row.model}  {row.stream}  window {start:%Y-%m-%d %H:%M} - {end:%Y-%m-%d %H:%M} UTC "
        f"({rows}; revision {row.revision})",
        f"  risk {row.risk:.1f} ({row.severity}); stream {_state(row)}",
        f"  model alert now: {_alert(model_alert)}; when this window was judged: {_alert(row.alert_severity)}",
    ]
    lines.append("\n  raised, by contribution (points of risk before combining):" if findings else "\n  nothing raised")
    for finding in sorted(first, key=lambda f: -contribution(f)):
        lines.append(f"    +{100 * contribution(finding):4.0f}  {finding.describe()}")
    for finding in findings:
        if finding not in first:
            lines.append(f"       0  {finding.describe()}  [same problem, counted once]")
    shown = [n for n in not_raised if show_below or n.kind != "below"]
    if shown:
        lines.append("\n  not raised:")
        lines += [f"    {KIND_WORDS.get(n.kind, n.kind)}: {n.describe()}" for n in shown]
    hidden = Counter(n.kind for n in not_raised if n not in shown)
    if hidden:
        lines.append(f"    ({hidden['below']} metrics below their lowest tier; --all lists them)")
    notes = row.inputs.get("window", {}).get("notes") or []
    if notes:
        lines.append("\n  notes:")
        lines += [f"    {note}" for note in notes]
    if replayed is not None:
        lines += ["", *_replay_lines(row, findings, replayed)]
    return "\n".join(lines)


def _alert(severity: str) -> str:
    return severity if severity != "ok" else "not firing"


def top_finding(row: StoredAssessment) -> str | None:
    """The stored window's finding with the largest contribution, in words; None when nothing was raised."""
    first = counted([finding_from_json(f) for f in row.findings])
    return max(first, key=contribution).describe() if first else None


def history_json(row: StoredAssessment) -> dict[str, Any]:
    """One judged window for ``explain --history --json``: the verdict and the alert as it stood then."""
    return {"window_start": row.window_start.isoformat(), "window_end": row.window_end.isoformat(),
            "stream": row.stream, "severity": row.severity, "risk": row.risk, "findings": len(row.findings),
            "top_finding": top_finding(row), "state_firing": row.state_firing, "state_severity": row.state_severity,
            "state_reason": row.state_reason, "alert_severity": row.alert_severity, "revision": row.revision}


def render_history(model: str, rows: Sequence[StoredAssessment], model_alert: str) -> str:
    """The judged windows, newest first: window, stream, severity, risk, the stream's state and the model's
    alert when the window was judged ("alert then"), and the top finding."""
    lines = [f"{model}: {len(rows)} judged windows, newest first; model alert now: {_alert(model_alert)}",
             f"  {'window (UTC)':<35}  {'stream':<20} {'severity':<8} {'risk':>5}  {'stream state':<16} "
             f"{'alert then':<10}  top finding"]
    for row in rows:
        window = f"{row.window_start:%Y-%m-%d %H:%M} - {row.window_end:%Y-%m-%d %H:%M}"
        state = f"firing {row.state_severity}" if row.state_firing else "not firing"
        lines.append(f"  {window:<35}  {row.stream:<20} {row.severity:<8} {row.risk:5.1f}  {state:<16} "
                     f"{_alert(row.alert_severity):<10}  {top_finding(row) or '-'}")
    return "\n".join(lines)


def _state(row: StoredAssessment) -> str:
    if row.state_firing:
        return f"firing at {row.state_severity} ({row.state_reason})"
    return row.state_reason or "not firing"


def _replay_lines(row: StoredAssessment, stored: list[Finding], replayed: Assessment) -> list[str]:
    before = {f.describe() for f in stored}
    after = {f.describe() for f in replayed.findings}
    head = (f"  replayed with the current config: risk {replayed.risk:.1f} ({replayed.severity}); "
            f"stored: risk {row.risk:.1f} ({row.severity})")
    if before == after and replayed.severity == row.severity:
        return [head, "    same findings"]
    return [head, *(f"    now raised: {d}" for d in sorted(after - before)),
            *(f"    no longer raised: {d}" for d in sorted(before - after))]
