"""The metric families of ``/metrics``, one function each, over one :class:`Snapshot` per scrape.

A family function takes the snapshot and returns one ``prometheus_client`` metric family (or a few,
for a histogram's parts); :data:`STATE_FAMILIES` and :data:`LIVE_FAMILIES` list them in the order
they are exposed. To add a series: read what it needs into :class:`Snapshot` (``Snapshot.read`` for
the state database, a field filled by :class:`~monitor.web.metrics.Metrics` for the process) and add a
function to one of the two tuples; nothing else.

Per-model families hold thousands of samples (1,000 models: ~6,500), so they append
``prometheus_client.samples.Sample`` tuples to a family directly: ``add_metric`` builds and checks a
dict per sample, which costs more than the rest of the family. The text is written by
``prometheus_client`` (``generate_latest`` or its OpenMetrics encoder).
"""

from __future__ import annotations

import functools
import platform
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from importlib import metadata
from typing import Any

import sqlalchemy as sa
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.samples import Sample

from config.basics.severity import SEVERITIES
from monitor.web import reads

DELIVERY_BUCKETS = (0.1, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0, 900.0, 3600.0)
_RANK = {name: float(i) for i, name in enumerate(SEVERITIES)}


@functools.cache
def version() -> str:
    try:
        return metadata.version("lakewarden")
    except metadata.PackageNotFoundError:
        return "unknown"


@dataclass(frozen=True)
class ModelRow:
    """One model's newest windows, combined (what the per-model families expose)."""

    name: str
    judged: int
    newest_by_source: dict[str, datetime]  # stream kind -> end of its newest window
    risk: float
    severity: float  # rank on the SEVERITIES scale
    alert_severity: float
    findings: dict[str, int]  # tier -> findings in the newest windows


def _model_rows(summaries: Iterable[reads.ModelSummary], judged: Mapping[str, int]) -> list[ModelRow]:
    rows = []
    for model in summaries:
        newest: dict[str, datetime] = {}
        risk = worst = alerting = 0.0
        tiers: dict[str, int] = {}
        for stream in model.streams:
            source = stream.source
            if source not in newest or stream.window_end > newest[source]:
                newest[source] = stream.window_end
            risk = max(risk, stream.risk)
            worst = max(worst, _RANK.get(stream.severity, 0.0))
            alerting = max(alerting, _RANK.get(stream.alert_severity, 0.0))
            for finding in stream.findings:
                tier = finding.get("tier", "low")
                tiers[tier] = tiers.get(tier, 0) + 1
        rows.append(ModelRow(model.name, judged.get(model.name, 0), newest, risk, worst, alerting, tiers))
    return rows


@dataclass(frozen=True)
class StateSnapshot:
    """What the state database says, read in one connection (one query per family or fewer)."""

    now: datetime
    models: list[ModelRow]
    firing: dict[str, int]
    decisions: dict[tuple[str, str], int]
    outbox: reads.OutboxCounts
    runs: dict[tuple[str, str], int]

    @classmethod
    def read(cls, engine: sa.Engine, models: Iterable[str], now: datetime) -> StateSnapshot:
        with engine.connect() as conn:
            summaries = reads.summaries(conn, models, lifecycle=False, firing=False)
            judged = reads.windows_judged(conn)
            firing = reads.firing_by_severity(conn)
            decided = reads.decisions(conn)
            outbox = reads.outbox_counts(conn, latencies=True)
            runs = reads.runs_by_state(conn)
        return cls(now, _model_rows(summaries, judged), firing, decided, outbox, runs)


@dataclass(frozen=True)
class LiveSnapshot:
    """What only this process knows, read at every scrape (cheap)."""

    ready: bool | None = None  # None: no health source
    skipped_polls: Mapping[str, int] = field(default_factory=dict)
    leases: Mapping[str, Any] | None = None  # LeaseKeeper.metrics(); None: no keeper


def _family(name: str, doc: str, kind: str, samples: Iterable[tuple[str, dict[str, str], float]]) -> Metric:
    family = Metric(name, doc, kind)
    family.samples.extend(Sample(n, labels, value) for n, labels, value in samples)
    return family


# -- the process ------------------------------------------------------------------------------------

def build_info(_: LiveSnapshot) -> Metric:
    info = GaugeMetricFamily("lakewarden_build_info", "lakewarden's version; always 1.", labels=["version", "python"])
    info.add_metric([version(), platform.python_version()], 1)
    return info


def ready(live: LiveSnapshot) -> Metric | None:
    if live.ready is None:
        return None
    family = GaugeMetricFamily("lakewarden_ready", "1 while /readyz answers ready.")
    family.add_metric([], 1 if live.ready else 0)
    return family


def polls_skipped(live: LiveSnapshot) -> Metric:
    family = CounterMetricFamily("lakewarden_polls_skipped", "Polls skipped because one of the model was already "
                                 "waiting (since start).", labels=["model"])
    for model, count in sorted(live.skipped_polls.items()):
        family.add_metric([model], count)
    return family


def leases_held(live: LiveSnapshot) -> Metric | None:
    if live.leases is None:
        return None
    family = GaugeMetricFamily("lakewarden_leases_held", "Leases this replica holds now, by kind (model, "
                               "alerts_flush, replica: its own liveness lease).", labels=["kind"])
    for kind, count in sorted(live.leases["held"].items()):
        family.add_metric([kind], count)
    return family


def lease_takeovers(live: LiveSnapshot) -> Metric | None:
    if live.leases is None:
        return None
    family = CounterMetricFamily("lakewarden_lease_takeovers", "Leases this replica acquired that another replica "
                                 "held before (it released them or stopped renewing), by kind (since start).",
                                 labels=["kind"])
    for kind, count in sorted(live.leases["takeovers"].items()):
        family.add_metric([kind], count)
    return family


def leases_lost(live: LiveSnapshot) -> Metric | None:
    if live.leases is None:
        return None
    family = CounterMetricFamily("lakewarden_leases_lost", "Leases this replica lost to another replica while it "
                                 "held them (a renewal found them taken over), by kind (since start).",
                                 labels=["kind"])
    for kind, count in sorted(live.leases["lost"].items()):
        family.add_metric([kind], count)
    return family


LIVE_FAMILIES: tuple[Callable[[LiveSnapshot], Metric | None], ...] = (
    build_info, ready, polls_skipped, leases_held, lease_takeovers, leases_lost)


# -- the state database -----------------------------------------------------------------------------

def windows_judged(s: StateSnapshot) -> Metric:
    return _family("lakewarden_windows_judged", "Windows judged and stored, by model.", "counter",
                   (("lakewarden_windows_judged_total", {"model": m.name}, float(m.judged)) for m in s.models))


def newest_window_age(s: StateSnapshot) -> Metric:
    name = "lakewarden_newest_window_age_seconds"
    return _family(name, "Age of the end of the newest window judged, by model and source.", "gauge", (
        (name, {"model": m.name, "source": source}, max(0.0, (s.now - end).total_seconds()))
        for m in s.models for source, end in sorted(m.newest_by_source.items())))


def model_risk(s: StateSnapshot) -> Metric:
    name = "lakewarden_model_risk"
    return _family(name, "Risk 0-100 of the model's newest windows (the highest stream).", "gauge",
                   ((name, {"model": m.name}, m.risk) for m in s.models if m.newest_by_source))


def model_severity(s: StateSnapshot) -> Metric:
    name = "lakewarden_model_severity"
    doc = ("Severity of the model's newest windows: " + ", ".join(f"{i} {n}" for i, n in enumerate(SEVERITIES))
           + ".")
    return _family(name, doc, "gauge", ((name, {"model": m.name}, m.severity) for m in s.models if m.newest_by_source))


def model_alert_severity(s: StateSnapshot) -> Metric:
    name = "lakewarden_model_alert_severity"
    return _family(name, "Severity the model alerts at (persistence applied), same scale.", "gauge",
                   ((name, {"model": m.name}, m.alert_severity) for m in s.models if m.newest_by_source))


def findings(s: StateSnapshot) -> Metric:
    name = "lakewarden_findings"
    return _family(name, "Findings in the model's newest windows, by severity (a severity without findings has "
                   "no series).", "gauge", ((name, {"model": m.name, "severity": tier}, float(count))
                                           for m in s.models for tier, count in sorted(m.findings.items())))


def alerts_firing(s: StateSnapshot) -> Metric:
    family = GaugeMetricFamily("lakewarden_alerts_firing", "Alerts firing now, by severity label.",
                               labels=["severity"])
    for severity, count in sorted(s.firing.items()):
        family.add_metric([severity], count)
    return family


def alert_decisions(s: StateSnapshot) -> Metric:
    family = CounterMetricFamily("lakewarden_alert_decisions", "Decisions on alert groups (notified or muted), by "
                                 "receiver and reason.", labels=["receiver", "reason"])
    for (receiver, reason), count in sorted(s.decisions.items()):
        family.add_metric([receiver, reason], count)
    return family


def notifications(s: StateSnapshot) -> Metric:
    family = CounterMetricFamily("lakewarden_notifications", "Notifications by receiver, channel and outcome (sent, "
                                 "dead, superseded: replaced by a newer one before it went out).",
                                 labels=["receiver", "channel", "outcome"])
    for (receiver, channel, outcome), count in sorted(s.outbox.per_channel.items()):
        family.add_metric([receiver, channel, outcome], count)
    return family


def notification_failed_attempts(s: StateSnapshot) -> Metric:
    family = CounterMetricFamily("lakewarden_notification_failed_attempts", "Delivery attempts that failed, by "
                                 "receiver and channel.", labels=["receiver", "channel"])
    for (receiver, channel), count in sorted(s.outbox.failed_attempts.items()):
        family.add_metric([receiver, channel], count)
    return family


def outbox_rows(s: StateSnapshot) -> Metric:
    family = GaugeMetricFamily("lakewarden_outbox_rows", "Outbox rows by state.", labels=["state"])
    for state, count in s.outbox.by_state.items():
        family.add_metric([state], count)
    return family


def outbox_oldest_pending_age(s: StateSnapshot) -> Metric:
    family = GaugeMetricFamily("lakewarden_outbox_oldest_pending_age_seconds", "Age of the oldest notification "
                               "waiting to be delivered (0: none waits).")
    oldest = s.outbox.oldest_pending
    family.add_metric([], 0.0 if oldest is None else max(0.0, (s.now - oldest).total_seconds()))
    return family


def delivery_latency(s: StateSnapshot) -> Metric:
    buckets = [0] * (len(DELIVERY_BUCKETS) + 1)
    for wait in s.outbox.latencies:
        index = next((i for i, bound in enumerate(DELIVERY_BUCKETS) if wait <= bound), len(DELIVERY_BUCKETS))
        buckets[index] += 1
    cumulative, total = [], 0
    for bound, count in zip((*(str(b) for b in DELIVERY_BUCKETS), "+Inf"), buckets, strict=True):
        total += count
        cumulative.append((bound, total))
    family = HistogramMetricFamily("lakewarden_notification_delivery_seconds", "Time from a notification's decision "
                                   "to its delivery, for the delivered rows the outbox keeps.")
    family.add_metric([], cumulative, sum_value=sum(s.outbox.latencies))
    return family


def lifecycle_runs(s: StateSnapshot) -> Metric:
    family = GaugeMetricFamily("lakewarden_lifecycle_runs", "Lifecycle runs kept, by state and step.",
                               labels=["state", "step"])
    for (state, step), count in sorted(s.runs.items()):
        family.add_metric([state, step], count)
    return family


STATE_FAMILIES: tuple[Callable[[StateSnapshot], Metric], ...] = (
    windows_judged, newest_window_age, model_risk, model_severity, model_alert_severity, findings, alerts_firing,
    alert_decisions, notifications, notification_failed_attempts, outbox_rows, outbox_oldest_pending_age,
    delivery_latency, lifecycle_runs)
