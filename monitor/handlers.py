"""What the daemon does with each message: read and judge, alert, start lifecycle runs."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import datetime
from typing import Protocol

import structlog

from alerts import Alert, AlertService
from config.settings import Settings
from monitor.assessments import AssessmentStore
from monitor.bus import Message
from monitor.engines.base import EngineError
from monitor.messages import (
    AdvanceLifecycle,
    AlertsEnqueued,
    AssessmentMade,
    LifecycleProgressed,
    PollDue,
    SourceFailed,
)
from monitor.risk import judge
from monitor.sources import LakehouseMetricsSource, SourceError
from monitor.translate import alert_annotations, alert_labels, alert_scope, at_least
from retrain import Lifecycle, Trigger

log = structlog.get_logger(__name__)


class HealthReporter(Protocol):
    """The part of ``monitor.http.Health`` the handlers use."""

    def model_ok(self, name: str) -> None: ...
    def model_failed(self, name: str, error: str) -> None: ...


class Handlers:
    def __init__(self, settings: Settings, source: LakehouseMetricsSource, assessments: AssessmentStore,
                 alerts: AlertService, lifecycle: Lifecycle, health: HealthReporter,
                 clock: Callable[[], datetime]) -> None:
        self.settings = settings
        self.source = source
        self.assessments = assessments
        self.alerts = alerts
        self.lifecycle = lifecycle
        self.health = health
        self.clock = clock

    def poll(self, message: PollDue) -> Iterator[Message]:
        model = self.settings.model(message.model)
        source = self.source.name(model)
        try:
            windows = self.source.read(model, self.assessments.watermark(model.name, source))
        except (SourceError, EngineError) as exc:
            log.warning("source_failed", model=model.name, error=str(exc))
            self.health.model_failed(model.name, str(exc))
            yield SourceFailed(model.name, str(exc))
            return
        self.health.model_ok(model.name)
        for window in windows:
            previous = self.assessments.latest(model.name)
            assessment = judge(model, window)
            if not self.assessments.save(assessment, source):
                continue
            log.info("assessment_made", model=model.name, window_start=window.window_start.isoformat(),
                     risk=assessment.risk, severity=assessment.severity, findings=len(assessment.findings),
                     top=[f.describe() for f in assessment.top()])
            yield AssessmentMade(assessment, previous["severity"] if previous else None)

    def raise_alerts(self, message: AssessmentMade) -> Iterator[Message]:
        """Fire the model's risk alert at its current severity, or resolve it when it recovered."""
        assessment = message.assessment
        model = self.settings.model(assessment.model)
        firing = []
        if at_least(assessment.severity, model.risk.alert_from):
            firing.append(Alert(labels=alert_labels(model, assessment.severity),
                                annotations=alert_annotations(model, assessment),
                                starts_at=self.clock(), ends_at=None))
        sent = self.alerts.sync(alert_scope(model.name), firing)
        if sent:
            yield AlertsEnqueued(model.name, tuple(
                {"status": n.status, "receiver": n.receiver, "labels": dict(n.labels)} for n in sent))

    def consider_lifecycle(self, message: AssessmentMade) -> Iterator[Message]:
        assessment = message.assessment
        model = self.settings.model(assessment.model)
        if not model.lifecycle.enabled or assessment.severity == "ok":
            return
        top = assessment.findings[0].describe() if assessment.findings else "no findings"
        trigger = Trigger(model=model.name, reason=f"risk {assessment.risk:.0f} ({assessment.severity}): {top}",
                          severity=assessment.severity, window_start=assessment.window_start,
                          window_end=assessment.window_end)
        decision = self.lifecycle.consider(trigger)
        log.info("lifecycle_considered", model=model.name, decision=str(decision.reason))
        if decision.started and decision.run_id is not None:
            yield LifecycleProgressed(decision.run_id, model.name, "requested", trigger.reason)

    def advance_lifecycle(self, _message: AdvanceLifecycle) -> Iterator[Message]:
        for event in self.lifecycle.advance():
            log.info("lifecycle_progressed", run_id=event.run_id, model=event.model, kind=str(event.kind),
                     message=event.message)
            yield LifecycleProgressed(event.run_id, event.model, str(event.kind), event.message)
