"""``/metrics``: every series lakewarden exposes, in one place.

Most series are read from the state database at scrape time by :class:`StateCollector` (custom
collector), not counted in process: the state database is where the truth is, so the numbers survive a
restart, agree between replicas that share one PostgreSQL database, and match what ``lakewarden
alerts outbox`` or ``explain`` say. Counters read this way (``*_total``) count the rows the state
keeps; they only fall if rows are pruned, which Prometheus' ``rate()`` treats as a reset. Only what
exists nowhere but in this process is counted here: poll cycles and their duration (a
:class:`~monitor.poll_cycle.PollCycle` observer), polls skipped (``Daemon.skipped_polls``) and webhook
requests.

Cardinality is bounded by the config: labels are models, streams' kinds, receivers, channel kinds,
severities, reasons, states and steps; never a window, fingerprint, run id or silence id.

To add a series: read it in :meth:`StateCollector.collect` (from the state) or add a metric object in
:class:`Metrics` (in-process), nothing else.
"""

from __future__ import annotations

import functools
import platform
from collections.abc import Callable, Iterator, Mapping
from importlib import metadata
from typing import Any

import structlog
from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.registry import Collector
from prometheus_client.samples import Sample

from config.basics.severity import SEVERITIES
from monitor.health import HealthSource
from monitor.web import reads
from monitor.web.context import WebState

log = structlog.get_logger(__name__)

DELIVERY_BUCKETS = (0.1, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0, 900.0, 3600.0)
CYCLE_BUCKETS = (0.1, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 600.0)


@functools.cache
def version() -> str:
    try:
        return metadata.version("lakewarden")
    except metadata.PackageNotFoundError:
        return "unknown"


class Metrics:
    """The registry and the in-process series; ``registry`` is what ``/metrics`` renders."""

    def __init__(self, state: WebState | None = None, health: HealthSource | None = None) -> None:
        self.registry = CollectorRegistry(auto_describe=False)
        self.webhook_requests = Counter("lakewarden_webhook_requests", "Databricks job webhook requests, by outcome.",
                                        ["outcome"], registry=self.registry)
        self.poll_cycles = Counter("lakewarden_poll_cycles", "Poll cycles completed (every due model polled once).",
                                   registry=self.registry)
        self.poll_cycle_seconds = Histogram("lakewarden_poll_cycle_duration_seconds",
                                            "Time spent polling in one poll cycle.", buckets=CYCLE_BUCKETS,
                                            registry=self.registry)
        self.registry.register(StateCollector(state, health))

    def on_cycle(self, fields: Mapping[str, Any]) -> None:
        """A :class:`~monitor.poll_cycle.PollCycle` observer: one closed cycle's fields."""
        self.poll_cycles.inc()
        self.poll_cycle_seconds.observe(float(fields.get("duration_s", 0.0)))


class StateCollector(Collector):
    def __init__(self, state: WebState | None, health: HealthSource | None) -> None:
        self._state = state
        self._health = health

    def collect(self) -> Iterator[Metric]:
        info = GaugeMetricFamily("lakewarden_build_info", "lakewarden's version; always 1.",
                                 labels=["version", "python"])
        info.add_metric([version(), platform.python_version()], 1)
        yield info
        if self._health is not None:
            ready = GaugeMetricFamily("lakewarden_ready", "1 while /readyz answers ready.")
            ready.add_metric([], 1 if self._health.readiness()[0] else 0)
            yield ready
        if self._state is None:
            return
        yield from _skipped(self._state.skipped_polls)
        now = self._state.clock()
        with self._state.engine.connect() as conn:
            summaries = reads.summaries(conn, self._state.model_names())
            judged = reads.windows_judged(conn)
            firing = reads.firing_by_severity(conn)
            decided = reads.decisions(conn)
            outbox = reads.outbox_counts(conn, latencies=True)
            runs = reads.runs_by_state(conn)
        yield from _models(summaries, judged, now)
        alerts = GaugeMetricFamily("lakewarden_alerts_firing", "Alerts firing now, by severity label.",
                                   labels=["severity"])
        for severity, count in sorted(firing.items()):
            alerts.add_metric([severity], count)
        yield alerts
        decisions = CounterMetricFamily("lakewarden_alert_decisions", "Decisions on alert groups (notified or "
                                        "muted), by receiver and reason.", labels=["receiver", "reason"])
        for (receiver, reason), count in sorted(decided.items()):
            decisions.add_metric([receiver, reason], count)
        yield decisions
        yield from _outbox(outbox, now)
        lifecycle = GaugeMetricFamily("lakewarden_lifecycle_runs", "Lifecycle runs kept, by state and step.",
                                      labels=["state", "step"])
        for (state, step), count in sorted(runs.items()):
            lifecycle.add_metric([state, step], count)
        yield lifecycle


def _skipped(source: Callable[[], Mapping[str, int]]) -> Iterator[Metric]:
    skipped = CounterMetricFamily("lakewarden_polls_skipped", "Polls skipped because one of the model was "
                                  "already waiting (since start).", labels=["model"])
    for model, count in sorted(source().items()):
        skipped.add_metric([model], count)
    yield skipped


def _gauge(name: str, doc: str) -> Metric:
    return Metric(name, doc, "gauge")


def _models(summaries: list[reads.ModelSummary], judged: Mapping[str, int], now: Any) -> Iterator[Metric]:
    """Per model: thousands of samples, so they are appended as ``Sample`` tuples (``add_metric`` builds
    and checks a dict per sample, which costs more than the rest of the scrape)."""
    windows = Metric("lakewarden_windows_judged", "Windows judged and stored, by model.", "counter")
    age = _gauge("lakewarden_newest_window_age_seconds", "Age of the end of the newest window judged, by model "
                 "and source.")
    risk = _gauge("lakewarden_model_risk", "Risk 0-100 of the model's newest windows (the highest stream).")
    severity = _gauge("lakewarden_model_severity", "Severity of the model's newest windows: "
                      + ", ".join(f"{i} {name}" for i, name in enumerate(SEVERITIES)) + ".")
    alerting = _gauge("lakewarden_model_alert_severity", "Severity the model alerts at (persistence applied), "
                      "same scale.")
    findings = _gauge("lakewarden_findings", "Findings in the model's newest windows, by severity (a severity "
                      "without findings has no series).")
    rank = {name: float(i) for i, name in enumerate(SEVERITIES)}
    for model in summaries:
        name = model.name
        labels = {"model": name}
        windows.samples.append(Sample("lakewarden_windows_judged_total", labels, float(judged.get(name, 0))))
        if not model.streams:
            continue
        newest: dict[str, Any] = {}
        top_risk, worst_rank, worst_alert = 0.0, 0.0, 0.0
        tiers: dict[str, int] = {}
        for stream in model.streams:
            source = stream.source
            if source not in newest or stream.window_end > newest[source]:
                newest[source] = stream.window_end
            top_risk = max(top_risk, stream.risk)
            worst_rank = max(worst_rank, rank.get(stream.severity, 0.0))
            worst_alert = max(worst_alert, rank.get(stream.alert_severity, 0.0))
            for finding in stream.findings:
                tier = finding.get("tier", "low")
                tiers[tier] = tiers.get(tier, 0) + 1
        for source, end in sorted(newest.items()):
            age.samples.append(Sample(age.name, {"model": name, "source": source},
                                      max(0.0, (now - end).total_seconds())))
        risk.samples.append(Sample(risk.name, labels, top_risk))
        severity.samples.append(Sample(severity.name, labels, worst_rank))
        alerting.samples.append(Sample(alerting.name, labels, worst_alert))
        for tier, count in sorted(tiers.items()):
            findings.samples.append(Sample(findings.name, {"model": name, "severity": tier}, float(count)))
    yield from (windows, age, risk, severity, alerting, findings)


def _outbox(outbox: reads.OutboxCounts, now: Any) -> Iterator[Metric]:
    sent = CounterMetricFamily("lakewarden_notifications", "Notifications by receiver, channel and outcome "
                               "(sent, dead, superseded: replaced by a newer one before it went out).",
                               labels=["receiver", "channel", "outcome"])
    for (receiver, channel, outcome), count in sorted(outbox.per_channel.items()):
        sent.add_metric([receiver, channel, outcome], count)
    yield sent
    failed = CounterMetricFamily("lakewarden_notification_failed_attempts", "Delivery attempts that failed, by "
                                 "receiver and channel.", labels=["receiver", "channel"])
    for (receiver, channel), count in sorted(outbox.failed_attempts.items()):
        failed.add_metric([receiver, channel], count)
    yield failed
    depth = GaugeMetricFamily("lakewarden_outbox_rows", "Outbox rows by state.", labels=["state"])
    for state, count in outbox.by_state.items():
        depth.add_metric([state], count)
    yield depth
    oldest = GaugeMetricFamily("lakewarden_outbox_oldest_pending_age_seconds", "Age of the oldest notification "
                               "waiting to be delivered (0: none waits).")
    oldest.add_metric([], 0.0 if outbox.oldest_pending is None else
                      max(0.0, (now - outbox.oldest_pending).total_seconds()))
    yield oldest
    buckets = [0] * (len(DELIVERY_BUCKETS) + 1)
    for wait in outbox.latencies:
        index = next((i for i, bound in enumerate(DELIVERY_BUCKETS) if wait <= bound), len(DELIVERY_BUCKETS))
        buckets[index] += 1
    cumulative, total = [], 0
    for bound, count in zip((*(str(b) for b in DELIVERY_BUCKETS), "+Inf"), buckets, strict=True):
        total += count
        cumulative.append((bound, total))
    latency = HistogramMetricFamily("lakewarden_notification_delivery_seconds", "Time from a notification's "
                                    "decision to its delivery, for the delivered rows the outbox keeps.")
    latency.add_metric([], cumulative, sum_value=sum(outbox.latencies))
    yield latency
