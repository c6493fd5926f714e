"""The notification path in one screen: ``build_pipeline`` reads top to bottom as an alert travels.

sync (state, groups) -> at each due group: time intervals -> inhibition -> silences -> dedup against
the notification log -> escalation -> record (log + outbox rows, one transaction) -> delivery:
rate limit -> channel -> retry or dead letter (+ meta-alert to the fallback receiver).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

from alerts.channels.base import Channel
from alerts.channels.registry import ChannelKey
from alerts.deadletter import DeadLetters
from alerts.decision import Reason
from alerts.dedup import DedupStage
from alerts.delivery import DeliveryReport, DeliveryWorker
from alerts.dispatch import Dispatcher
from alerts.escalation import EscalationStage, Escalator
from alerts.inhibit import Inhibitor
from alerts.muting import MuteStage, TimeMuteStage
from alerts.outbox import Outbox
from alerts.ratelimit import RateLimiter
from alerts.record import RecordStage
from alerts.retry import RetryPolicy
from alerts.service import AlertService
from alerts.silences import Silencer
from alerts.stage import Pipeline
from alerts.store import AlertStore
from config.settings import Settings


@dataclass(frozen=True)
class Notifier:
    """Everything the daemon drives: ``service.sync`` on assessments, ``run_once`` on its delivery tick."""

    service: AlertService
    dispatcher: Dispatcher
    outbox: Outbox
    worker: DeliveryWorker

    @property
    def worker_id(self) -> str:
        return self.worker.worker_id

    def run_once(self, limit: int = 50, stop: Callable[[], bool] | None = None) -> DeliveryReport:
        """Judge the due groups, then deliver up to ``limit`` due outbox rows."""
        self.dispatcher.flush()
        return self.worker.run_once(limit=limit, stop=stop)


def build_pipeline(settings: Settings, store: AlertStore, channels: Mapping[ChannelKey, Channel],
                   worker_id: str = "worker") -> Notifier:
    receivers = {r.name: r for r in settings.receivers}
    policies = {p.name: p for p in settings.alerting.escalation_policies}
    inhibitor = Inhibitor(settings.inhibit_rules)
    silencer = Silencer(store.silences(settings.alerting.silence_retention))
    flush = Pipeline([
        TimeMuteStage({t.name: t for t in settings.time_intervals}),  # muted_by_time
        MuteStage(inhibitor, Reason.INHIBITED),                          # inhibited
        MuteStage(silencer, Reason.SILENCED),                            # silenced
        DedupStage(),                              # first, new_alerts, resolved, all_resolved, repeat, suppressed
        EscalationStage(policies, receivers),      # opens and closes the group's escalation
        RecordStage(receivers),                    # notification log + outbox rows, in the flush transaction
    ])
    escalator = Escalator(policies, receivers, [inhibitor, silencer])
    dispatcher = Dispatcher(store.engine, settings.route, settings.receivers, flush, escalator, store.clock,
                            settings.alerting.flush_batch)
    fallback = receivers.get(settings.alerting.fallback_receiver or "")
    outbox = Outbox(store.engine, store.clock, RetryPolicy.from_settings(settings.alerting.retry),
                    on_dead=DeadLetters(fallback))
    limits = {r.name: r.rate_limit for r in settings.receivers if r.rate_limit is not None}
    worker = DeliveryWorker(outbox, channels, store.clock, worker_id, settings.alerting.lease,
                            RateLimiter(limits, store.clock))
    service = AlertService(store.engine, settings.route, settings.receivers, store.clock,
                           after_sync=dispatcher.flush)
    return Notifier(service, dispatcher, outbox, worker)
