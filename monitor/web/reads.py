"""The state database read for the whole fleet at once: what ``/metrics``, the overview and ``/api/v1/models`` show.

Each function is one or two queries whatever the number of models (never a query per model): the
newest window of every model and stream, the firing alerts, the outbox and the lifecycle runs.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from alerts.schema import alerts_decisions as d
from alerts.schema import alerts_outbox as o
from alerts.schema import alerts_state as s
from config.basics.severity import ALERT_SEVERITIES, Severity, severity_rank, worst
from monitor import schema
from retrain.schema import retrain_runs as r

T = schema.window_assessments


@dataclass(frozen=True)
class StreamLatest:
    model: str
    stream: str
    window_start: datetime
    window_end: datetime
    risk: float
    severity: Severity
    alert_severity: Severity
    findings: tuple[dict[str, Any], ...]

    @property
    def source(self) -> str:
        """The stream's kind (``lakehouse``, ``inference``, ``freshness``...): its name before the first ``:``."""
        return self.stream.split(":", 1)[0]


@dataclass
class ModelSummary:
    """A model at a glance: its newest window per stream, combined."""

    name: str
    streams: list[StreamLatest] = field(default_factory=list)
    firing: int = 0
    lifecycle: str | None = None  # the newest run's state and step, e.g. "running: validate"

    @property
    def risk(self) -> float | None:
        return max((x.risk for x in self.streams), default=None)

    @property
    def severity(self) -> Severity:
        return worst(x.severity for x in self.streams)

    @property
    def alert_severity(self) -> Severity:
        return worst(x.alert_severity for x in self.streams)

    @property
    def newest_window_end(self) -> datetime | None:
        return max((x.window_end for x in self.streams), default=None)

    def findings_by_severity(self) -> dict[str, int]:
        counts = Counter(f.get("tier", "low") for x in self.streams for f in x.findings)
        return {tier: counts.get(tier, 0) for tier in ALERT_SEVERITIES}


# The newest window of each model and stream, found by seeks on the two indexes the table has (the
# unique one on model, stream, window; ``ix_assessments_model_end``) instead of a ``GROUP BY`` over
# every row: ``pairs`` walks the distinct (model, stream) pairs one index seek each (the next stream of
# this model, else the first stream of the next model), then each pair's newest row is the first one
# of its model, newest end first, with that stream. So the cost follows the number of streams, not the
# history kept: 1,000 models x a week of hourly windows, 9 ms instead of 35 ms on SQLite. ``CAST``: on
# PostgreSQL both terms of a recursive query must have the same column types.
assert T.name == "monitor_assessments"  # noqa: S101 - the name written in the SQL below
_LATEST = sa.text("""
WITH RECURSIVE pairs(model, stream) AS (
  SELECT CAST(model AS VARCHAR), CAST(stream AS VARCHAR) FROM (
    SELECT model, stream FROM monitor_assessments ORDER BY model, stream LIMIT 1) AS first_pair
  UNION ALL
  SELECT CAST(COALESCE(
           (SELECT p.model FROM monitor_assessments a WHERE a.model = p.model AND a.stream > p.stream LIMIT 1),
           (SELECT a.model FROM monitor_assessments a WHERE a.model > p.model ORDER BY a.model LIMIT 1)) AS VARCHAR),
         CAST(COALESCE(
           (SELECT a.stream FROM monitor_assessments a WHERE a.model = p.model AND a.stream > p.stream
            ORDER BY a.stream LIMIT 1),
           (SELECT a.stream FROM monitor_assessments a WHERE a.model = (
              SELECT b.model FROM monitor_assessments b WHERE b.model > p.model ORDER BY b.model LIMIT 1)
            ORDER BY a.stream LIMIT 1)) AS VARCHAR)
  FROM pairs p WHERE p.model IS NOT NULL
)
SELECT a.model, a.stream, a.window_start, a.window_end, a.risk, a.severity, a.alert_severity, a.findings
FROM pairs p JOIN monitor_assessments a ON a.id = (
  SELECT b.id FROM monitor_assessments b WHERE b.model = p.model AND b.stream = p.stream
  ORDER BY b.window_end DESC, b.id DESC LIMIT 1)
ORDER BY a.model, a.stream
""").columns(T.c.model, T.c.stream, T.c.window_start, T.c.window_end, T.c.risk, T.c.severity, T.c.alert_severity,
             T.c.findings)


def latest_streams(conn: sa.Connection) -> list[StreamLatest]:
    """The newest window of every model and stream (one row each), by model and stream; of two rows
    ending at the same instant (a window judged again with another start), the newest id."""
    # severities as stored: written by the judge from the same tiers, not checked again per row
    return [StreamLatest(row.model, row.stream, row.window_start, row.window_end, float(row.risk), row.severity,
                         row.alert_severity, tuple(row.findings or ())) for row in conn.execute(_LATEST)]


def firing_by_model(conn: sa.Connection) -> dict[str, int]:
    rows = conn.execute(sa.select(s.c.scope, sa.func.count()).where(s.c.status == "firing").group_by(s.c.scope))
    return {str(scope): int(count) for scope, count in rows}


def firing_by_severity(conn: sa.Connection) -> dict[str, int]:
    counts: Counter[str] = Counter()
    for (labels,) in conn.execute(sa.select(s.c.labels).where(s.c.status == "firing")):
        counts[str((labels or {}).get("severity", ""))] += 1
    return dict(counts)


def newest_runs(conn: sa.Connection) -> dict[str, tuple[str, str]]:
    """Model -> (state, step) of its newest lifecycle run."""
    newest = (sa.select(r.c.model, sa.func.max(r.c.created_at).label("at")).group_by(r.c.model).subquery())
    rows = conn.execute(sa.select(r.c.model, r.c.state, r.c.step).join(
        newest, sa.and_(r.c.model == newest.c.model, r.c.created_at == newest.c.at)))
    return {row.model: (row.state, row.step) for row in rows}


def runs_by_state(conn: sa.Connection) -> dict[tuple[str, str], int]:
    rows = conn.execute(sa.select(r.c.state, r.c.step, sa.func.count()).group_by(r.c.state, r.c.step))
    return {(str(state), str(step)): int(count) for state, step, count in rows}


def summaries(conn: sa.Connection, models: Iterable[str], *, firing: bool = True,
              lifecycle: bool = True) -> list[ModelSummary]:
    """Every configured model, in config order, with what is stored about it (its firing alerts and
    newest lifecycle run unless ``firing`` / ``lifecycle`` is False: ``/metrics`` has them elsewhere)."""
    by_name = {name: ModelSummary(name) for name in models}
    for latest in latest_streams(conn):
        if latest.model in by_name:
            by_name[latest.model].streams.append(latest)
    for name, count in (firing_by_model(conn) if firing else {}).items():
        if name in by_name:
            by_name[name].firing = count
    for name, (state, step) in (newest_runs(conn) if lifecycle else {}).items():
        if name in by_name:
            by_name[name].lifecycle = state if step in ("done", state) else f"{state}: {step}"
    return list(by_name.values())


def by_severity(items: list[ModelSummary]) -> list[ModelSummary]:
    """Worst first (alert severity, then severity, then risk), then by name."""
    return sorted(items, key=lambda m: (-severity_rank(m.alert_severity), -severity_rank(m.severity),
                                        -(m.risk or 0.0), m.name))


@dataclass(frozen=True)
class OutboxCounts:
    by_state: dict[str, int]  # pending, retrying, in_flight, dead, done, superseded
    oldest_pending: datetime | None
    per_channel: dict[tuple[str, str, str], int]  # (receiver, channel, outcome) -> rows
    failed_attempts: dict[tuple[str, str], int]  # (receiver, channel) -> attempts that did not deliver
    latencies: list[float] = field(default_factory=list)  # seconds from created to delivered, per delivered row


_STATE = sa.case((sa.and_(o.c.status == "pending", o.c.attempts > 0), "retrying"),
                 (sa.and_(o.c.status == "done", o.c.superseded_by.is_not(None)), "superseded"), else_=o.c.status)


def outbox_counts(conn: sa.Connection, *, latencies: bool = False) -> OutboxCounts:
    by_state: dict[str, int] = dict.fromkeys(("pending", "retrying", "in_flight", "dead", "done", "superseded"), 0)
    per_channel: dict[tuple[str, str, str], int] = {}
    failed: dict[tuple[str, str], int] = defaultdict(int)
    query = sa.select(o.c.receiver, o.c.channel_kind, _STATE.label("state"), sa.func.count(),
                      sa.func.sum(o.c.attempts)).group_by(o.c.receiver, o.c.channel_kind, _STATE)
    for receiver, channel, state, count, attempts in conn.execute(query):
        by_state[str(state)] = by_state.get(str(state), 0) + int(count)
        outcome = {"done": "sent", "dead": "dead", "superseded": "superseded"}.get(str(state))
        if outcome is not None:
            per_channel[(receiver, channel, outcome)] = per_channel.get((receiver, channel, outcome), 0) + int(count)
        # every attempt failed, except the last one of a delivered row
        failed[(receiver, channel)] += int(attempts or 0) - (int(count) if state == "done" else 0)
    oldest = conn.execute(sa.select(sa.func.min(o.c.created_at)).where(
        o.c.status.in_(("pending", "in_flight")))).scalar()
    waits: list[float] = []
    if latencies:
        rows = conn.execute(sa.select(o.c.created_at, o.c.delivered_at).where(
            o.c.status == "done", o.c.delivered_at.is_not(None)))
        waits = [max(0.0, (row.delivered_at - row.created_at).total_seconds()) for row in rows]
    return OutboxCounts(by_state, oldest, per_channel, dict(failed), waits)


def decisions(conn: sa.Connection) -> dict[tuple[str, str], int]:
    rows = conn.execute(sa.select(d.c.receiver, d.c.reason, sa.func.count()).group_by(d.c.receiver, d.c.reason))
    return {(str(receiver), str(reason)): int(count) for receiver, reason, count in rows}


def windows_judged(conn: sa.Connection) -> dict[str, int]:
    rows = conn.execute(sa.select(T.c.model, sa.func.count()).group_by(T.c.model))
    return {str(model): int(count) for model, count in rows}


@dataclass(frozen=True)
class WindowPoint:
    stream: str
    window_end: datetime
    risk: float
    findings: tuple[dict[str, Any], ...]
    skipped: tuple[dict[str, Any], ...]


def model_windows(conn: sa.Connection, model: str, since: datetime) -> list[WindowPoint]:
    """The model's windows that ended at or after ``since``, oldest first (only what the charts draw)."""
    query = (sa.select(T.c.stream, T.c.window_end, T.c.risk, T.c.findings, T.c.skipped)
             .where(T.c.model == model, T.c.window_end >= since).order_by(T.c.window_end, T.c.id))
    return [WindowPoint(row.stream, row.window_end, float(row.risk), tuple(row.findings or ()),
                        tuple(row.skipped or ())) for row in conn.execute(query)]


def drift_series(points: Iterable[WindowPoint], limit: int = 8) -> dict[str, list[tuple[datetime, float]]]:
    """Per feature (``column statistic``), its drift value in each window, raised or not; the ``limit``
    features that drifted most."""
    series: dict[str, list[tuple[datetime, float]]] = defaultdict(list)
    for point in points:
        for item in (*point.findings, *point.skipped):
            value = item.get("value")
            drift = str(item.get("signal", "")).endswith("_drift")
            if not drift or isinstance(value, bool) or not isinstance(value, int | float):
                continue
            series[f"{item.get('column', '?')} {item.get('statistic', '')}".strip()].append(
                (point.window_end, float(value)))
    ranked = sorted(series.items(), key=lambda kv: -max(v for _, v in kv[1]))
    return dict(ranked[:limit])
