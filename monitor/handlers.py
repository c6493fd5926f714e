"""What the daemon does with each message: read and judge, alert, start lifecycle runs."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol

import structlog

from alerts import Alert, AlertService
from config.basics.clock import Clock
from config.basics.fence import FenceLost, always
from config.basics.severity import at_least
from config.models import ModelSettings
from config.settings import Settings
from monitor import lifecycle_notices
from monitor.assessments import AssessmentStore
from monitor.bus import Message
from monitor.engines.base import EngineError
from monitor.lifecycle_triggers import emergency_trigger, historical, policy_trigger, schedule_trigger
from monitor.messages import (
    AdvanceLifecycle,
    AlertsEnqueued,
    AssessmentMade,
    LifecycleProgressed,
    PollDue,
    SourceFailed,
)
from monitor.observations import WindowMetrics
from monitor.risk import history_needed, judge
from monitor.risk.freshness_rules import SIGNAL as STALE_DATA
from monitor.risk.importances import FeatureWeightsProvider
from monitor.sources import FRESHNESS, Source, SourceError, Stream
from monitor.sources.base import read_streams
from monitor.translate import alert_annotations, alert_labels, alert_scope
from retrain import Lifecycle, RunState, StartReason, Step

log = structlog.get_logger(__name__)
SCHEDULE_RETRY = timedelta(minutes=10)  # a schedule whose run was blocked asks again after this
ORPHANS = "(removed models)"  # the lease (``model:...``) under which runs of models no longer configured end


@dataclass(frozen=True)
class SourceRead:
    """One source's part of a poll: its windows (in stream order, each stream's oldest first) or its error."""

    kind: str
    streams: tuple[Stream, ...]
    prepare_error: str | None
    windows: tuple[tuple[Stream, WindowMetrics], ...]
    error: str | None = None


@dataclass(frozen=True)
class ModelReads:
    """What a model's sources gave (``Handlers.read``), how long reading took, or what reading raised."""

    sources: tuple[SourceRead, ...] = ()
    seconds: float = 0.0
    raised: BaseException | None = None


class HealthReporter(Protocol):
    """The part of ``monitor.health.Health`` the handlers use."""

    def model_ok(self, name: str, stale: Sequence[str] = ()) -> None: ...
    def model_failed(self, name: str, error: str, stale: Sequence[str] = ()) -> None: ...


class Handlers:
    def __init__(self, settings: Settings, sources: Sequence[Source], assessments: AssessmentStore,
                 alerts: AlertService, lifecycle: Lifecycle, health: HealthReporter,
                 clock: Clock, weights: FeatureWeightsProvider | None = None,
                 model_gate: Callable[[str], AbstractContextManager[bool]] = lambda _model: always()) -> None:
        self.settings = settings
        self.sources = tuple(sources)
        self.assessments = assessments
        self.alerts = alerts
        self.lifecycle = lifecycle
        self.health = health
        self.clock = clock
        self.weights = weights
        self._schedule_next: dict[str, datetime] = {}  # model -> when its schedule is asked again
        # Enter before acting for a model: False means another replica holds it (``monitor.leases``).
        self.model_gate = model_gate

    def read(self, name: str) -> ModelReads:
        """Read every stream of every source of the model (no state written: safe on a pool thread).

        One failing source does not stop the others: its error is kept for ``poll`` to report."""
        started = time.monotonic()
        model = self.settings.model(name)
        out = []
        for source in self.sources:
            streams = source.streams(model)
            if not streams:
                continue
            prepare_error = None
            try:
                source.prepare(model)  # e.g. unpacking payloads: its failure must not hide the serving metrics
            except (SourceError, EngineError) as exc:
                prepare_error = str(exc)
            try:
                windows = read_streams(source, model, streams, {
                    stream.name: self.assessments.versions(model.name, stream.name, source.horizon(model))
                    for stream in streams})
            except (SourceError, EngineError) as exc:
                out.append(SourceRead(source.kind, tuple(streams), prepare_error, (), str(exc)))
                continue
            out.append(SourceRead(source.kind, tuple(streams), prepare_error, tuple(windows)))
        return ModelReads(tuple(out), time.monotonic() - started)

    def poll(self, message: PollDue) -> Iterator[Message]:
        """Judge the new and rewritten windows of every stream of the model, oldest first.

        The sources are read here, or were read beforehand on the poll pool (``message.reads``,
        ``monitor.poll_pool``): either way the judgements and state writes happen here, on the bus.
        A failing source is reported (``SourceFailed``, readiness) and the next poll tries again.
        Stale streams (the newest freshness window's ``stale_data`` findings) are listed in readiness too.
        """
        model = self.settings.model(message.model)
        reads = message.reads if message.reads is not None else self.read(model.name)
        if reads.raised is not None:
            raise reads.raised
        weights = self.weights.weights(model) if self.weights is not None else {}
        errors: list[str] = []
        stale: list[str] = []
        for read in reads.sources:
            for error in (read.prepare_error, read.error):
                if error is not None:
                    log.warning("source_failed", model=model.name, source=read.kind, error=error)
                    errors.append(error)
                    yield SourceFailed(model.name, error)
            if read.error is not None:
                continue
            for stream, window in read.windows:
                yield from self._judge(model, stream.name, window, weights)
            if read.kind == FRESHNESS:
                stale += self._stale(model, read.streams)
        if errors:
            self.health.model_failed(model.name, "; ".join(errors), stale)
        else:
            self.health.model_ok(model.name, stale)

    def _stale(self, model: ModelSettings, streams: Sequence[Stream]) -> list[str]:
        """The ``stale_data`` findings of the newest judged freshness window, without what to do (for /readyz)."""
        return [str(finding.get("detail", "")).split("; ")[0]
                for stream in streams for row in self.assessments.history(model.name, limit=1, stream=stream.name)
                for finding in row.findings if finding.get("signal") == STALE_DATA]

    def _judge(self, model: ModelSettings, stream: str, window: WindowMetrics,
               weights: dict[str, float]) -> Iterator[Message]:
        try:
            history = self.assessments.prior(model.name, stream, window.window_start, history_needed(model, window))
            recorded = self.assessments.record(judge(model, window, history, weights), model.risk)
        except FenceLost:
            raise  # another replica holds the model now: it judges the window; this poll stops here
        except Exception:
            # A window the judge cannot handle is a bug to fix, not a reason to stop the cycle: it is not
            # stored, so the next poll tries it again, and the other windows and models go on.
            log.exception("judge_failed", model=model.name, stream=stream, window_start=window.window_start.isoformat())
            return
        if recorded is None:
            return
        a = recorded.assessment
        log.info("assessment_made", model=model.name, stream=stream, window_start=window.window_start.isoformat(),
                 risk=a.risk, severity=a.severity, alert_severity=a.alert_severity, rewrite=recorded.rewrite,
                 state=a.state.reason, findings=len(a.findings), top=[f.describe() for f in a.top()])
        yield AssessmentMade(a, recorded.previous_alert_severity)

    def raise_alerts(self, message: AssessmentMade) -> Iterator[Message]:
        """Fire the model's risk alert at its current severity, or resolve it when it recovered."""
        assessment = message.assessment
        model = self.settings.model(assessment.model)
        if (not assessment.state.firing and assessment.alert_severity == message.previous_severity
                and at_least(assessment.alert_severity, model.risk.alert_from)):
            return  # another stream fires, unchanged: this quiet window must not replace its findings in the text
        firing = []
        # alert_severity: after M-of-N persistence, the worst firing stream of the model ("ok": none).
        if at_least(assessment.alert_severity, model.risk.alert_from):
            firing.append(Alert(labels=alert_labels(model, assessment.alert_severity),
                                annotations=alert_annotations(model, assessment),
                                starts_at=self.clock(), ends_at=None))
        sent = self.alerts.sync(alert_scope(model.name), firing)
        if sent:
            yield AlertsEnqueued(model.name, tuple(
                {"status": n.status, "receiver": n.receiver, "labels": dict(n.labels)} for n in sent))

    def consider_lifecycle(self, message: AssessmentMade) -> Iterator[Message]:
        """Start a lifecycle run when the model's trigger policy asks (``monitor.lifecycle_triggers``)."""
        assessment = message.assessment
        model = self.settings.model(assessment.model)
        if not model.lifecycle.enabled or historical(self.assessments, assessment):
            return
        emergency = emergency_trigger(model, assessment)
        if emergency is not None and not self._after_emergency(model):
            decision = self.lifecycle.emergency(emergency)
            log.warning("lifecycle_emergency_considered", model=model.name, decision=decision.reason.value,
                        message=decision.message)
            if decision.run_id is not None:
                yield LifecycleProgressed(decision.run_id, model.name, "emergency", decision.message)
            return
        trigger = policy_trigger(model, assessment, self.assessments)
        if trigger is None:
            return
        decision = self.lifecycle.consider(trigger)
        log.info("lifecycle_considered", model=model.name, decision=str(decision.reason))
        if decision.started and decision.run_id is not None:
            yield LifecycleProgressed(decision.run_id, model.name, "requested", trigger.reason)

    def _after_emergency(self, model: ModelSettings) -> bool:
        """An emergency incident of the model is open: its emergency ran, and nothing ended the incident since.

        An incident starts with an emergency run and lasts until the model recovers (a window judged
        after the emergency is below the emergency's level and the model's alert is below ``critical``,
        so neither a persistence delay nor another stream still critical ends it) or a later run
        succeeds (a new champion). Within it the previous champion serves and no alias names a model
        before it, so another emergency would only fail and page again, once per cooldown cycle
        after each rejected retrain; the trigger policy decides instead. The next incident pages again.
        """
        runs = self.lifecycle.runs(model.name)
        last = next((run for run in runs if run.plan == (Step.EMERGENCY,)), None)
        if last is None or not last.state.final:
            return False
        if any(run.state is RunState.SUCCEEDED and run.created_at > last.created_at for run in runs):
            return False
        floor = model.lifecycle.emergency.min_risk
        history = self.assessments.history(model.name, limit=200)
        return not any(a.created_at > last.created_at and (a.severity != "critical" or a.risk < floor)
                       and a.alert_severity != "critical" for a in history)

    def advance_lifecycle(self, _message: AdvanceLifecycle) -> Iterator[Message]:
        """Ask each model's schedule and move its runs on, for the models this replica holds."""
        unfinished = {run.model for run in self.lifecycle.unfinished()}
        for model in self.settings.models:
            with self.model_gate(model.name) as held:
                if held:
                    yield from self._advance_model(model, model.name in unfinished)
        configured = {m.name for m in self.settings.models}
        orphans = sorted(unfinished - configured)  # models removed from the config: their runs end
        if orphans:
            with self.model_gate(ORPHANS) as held:
                for event in self.lifecycle.advance(models=orphans) if held else ():
                    yield LifecycleProgressed(event.run_id, event.model, str(event.kind), event.message)

    def _advance_model(self, model: ModelSettings, unfinished: bool) -> Iterator[Message]:
        now = self.clock()
        # Every answer is an audit row: a period's run is asked for once it started (or had), a
        # blocked ask (in flight, cooldown, paused...) again after a pause, not on every tick.
        if now >= self._schedule_next.get(model.name, now):
            trigger = schedule_trigger(model, self.assessments, now)
            if trigger is not None and trigger.window_end is not None:
                decision = self.lifecycle.consider(trigger)
                answered = decision.reason in (StartReason.STARTED, StartReason.DUPLICATE)
                self._schedule_next[model.name] = trigger.window_end if answered else now + SCHEDULE_RETRY
                unfinished = unfinished or decision.started
                if decision.started and decision.run_id is not None:
                    yield LifecycleProgressed(decision.run_id, model.name, "requested", trigger.reason)
        if not unfinished:
            return
        for event in self.lifecycle.advance(models=(model.name,)):
            log.info("lifecycle_progressed", run_id=event.run_id, model=event.model, kind=str(event.kind),
                     message=event.message)
            yield LifecycleProgressed(event.run_id, event.model, str(event.kind), event.message)

    def notify_lifecycle(self, message: LifecycleProgressed) -> Iterator[Message]:
        """The run's state as an alert in the model's lifecycle scope (``monitor.lifecycle_notices``)."""
        run = self.lifecycle.get(message.run_id)
        # One advance can carry a run through several events: the ones before its end are history by now.
        if run is None or (run.state.final and message.kind not in (run.state.value, "emergency")):
            return
        model = self.settings.model(run.model)
        sent = []
        with self.model_gate(model.name) as held:  # after the advance's gate: fenced again
            for firing in lifecycle_notices.alert_sets(model, run, message.message, self.clock()) if held else ():
                sent += self.alerts.sync(lifecycle_notices.scope(model.name), firing)
        if sent:
            yield AlertsEnqueued(model.name, tuple(
                {"status": n.status, "receiver": n.receiver, "labels": dict(n.labels)} for n in sent))
