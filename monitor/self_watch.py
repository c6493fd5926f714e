"""lakewarden watches itself: the watchdog and the missed-page alerts, in the alert scope ``lakewarden``.

``self_alerts`` is the pure part: from the settings (``config.self_alerts``), each model's run of
failed polls and the outbox summary (``alerts.outboxview.outbox_health``), the alerts that fire now.
``SelfWatch`` keeps the runs of failed polls (in memory: a restart starts them again from zero) and,
on the daemon's tick, syncs those alerts through the ordinary pipeline, so they are routed, grouped,
repeated and resolved like any other; an alert whose condition cleared resolves at that tick.

The state database is checked first with a write that changes nothing. When it cannot be written,
no alert can say so (the outbox is in it): the tick logs ``state_database_unwritable`` at error level
and fails ``/readyz`` with the reason until a later tick succeeds.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

import sqlalchemy as sa
import structlog

from alerts import Alert, AlertService
from alerts.outboxview import OutboxHealth
from alerts.routing import resolve_routes
from config.basics.clock import Clock
from config.durations import format_duration
from config.matchers import Op
from config.self_alerts import SelfAlertSettings
from config.settings import Settings

log = structlog.get_logger(__name__)

SCOPE = "lakewarden"
WATCHDOG = "Watchdog"
POLLS_FAILING = "LakewardenPollsFailing"
OUTBOX_BACKLOG = "LakewardenOutboxBacklog"
DEAD_LETTERS = "LakewardenDeadLetters"
WATCHDOG_LABELS = {"alertname": WATCHDOG, "severity": "none"}


@dataclass(frozen=True)
class FailedPolls:
    """A model's polls that failed in a row: how many, since when, and the last error."""

    count: int
    since: datetime
    error: str


def self_alerts(cfg: SelfAlertSettings, failing: Mapping[str, FailedPolls], outbox: OutboxHealth,
                now: datetime) -> list[Alert]:
    """The self-alerts that fire at ``now`` (the watchdog first, when it is on)."""
    firing = []
    if cfg.watchdog:
        firing.append(Alert(labels=WATCHDOG_LABELS, starts_at=now, annotations={
            "summary": "lakewarden is running: this alert always fires (a dead man's switch)",
            "description": "Route it to a heartbeat receiver; its repeats are the heartbeat, and when they "
                           "stop, lakewarden or its notifications are down."}))
    polls = cfg.polls_failing
    for model, run in sorted(failing.items()):
        if polls.enabled and run.count >= polls.after:
            firing.append(Alert(
                labels={"alertname": POLLS_FAILING, "severity": polls.severity, "model": model},
                starts_at=run.since,
                annotations={
                    "summary": f"{model} is not being watched: its last {run.count} polls failed, so its risk "
                               "alerts cannot fire",
                    "error": run.error,
                    "failing_since": run.since.isoformat(),
                    "what_to_do": f"fix what the error names (table, grant, warehouse, network); "
                                  f"`lakewarden check` and /readyz show it for {model}"}))
    backlog = cfg.outbox_backlog
    oldest = outbox.oldest_undelivered
    if backlog.enabled and oldest is not None and now - oldest >= backlog.older_than:
        firing.append(Alert(
            labels={"alertname": OUTBOX_BACKLOG, "severity": backlog.severity}, starts_at=now,
            annotations={
                "summary": f"notifications are late: {outbox.undelivered} waiting, the oldest since "
                           f"{oldest:%Y-%m-%d %H:%M:%S}Z (more than {format_duration(backlog.older_than)})",
                "receivers": ", ".join(outbox.waiting_receivers),
                "what_to_do": "`lakewarden alerts outbox` shows each waiting row and its last error; fix the "
                              "receiver (URL, credentials, rate limit) or the network to it"}))
    dead = cfg.dead_letters
    if dead.enabled and outbox.unseen_dead:
        firing.append(Alert(
            labels={"alertname": DEAD_LETTERS, "severity": dead.severity}, starts_at=now,
            annotations={
                "summary": f"{outbox.unseen_dead} notifications could not be delivered in the last "
                           f"{format_duration(dead.within)} and no fallback receiver was told",
                "receivers": ", ".join(outbox.dead_receivers),
                "what_to_do": "`lakewarden alerts outbox` shows the dead rows and why; fix the receiver, and set "
                              "alerting.fallback_receiver so each dead letter raises a NotificationDeadLettered "
                              "alert"}))
    return firing


class StateHealth(Protocol):
    """The part of ``monitor.health.Health`` the self-check reports to."""

    def state_ok(self) -> None: ...
    def state_failed(self, error: str) -> None: ...


class SelfWatch:
    def __init__(self, settings: Settings, alerts: AlertService, outbox: Callable[[datetime], OutboxHealth],
                 probe: Callable[[], None], health: StateHealth, clock: Clock) -> None:
        """``outbox(since)``: the outbox summary, dead letters counted from ``since``; ``probe``: a write
        that changes nothing (``StateStore.probe_write``)."""
        self._cfg = settings.service.self_alerts
        self._alerts = alerts
        self._outbox = outbox
        self._probe = probe
        self._health = health
        self._clock = clock
        self._failing: dict[str, FailedPolls] = {}

    def polled(self, model: str, error: str | None) -> None:
        """A poll of ``model`` ended: ``error`` None when every source was read."""
        if error is None:
            self._failing.pop(model, None)
            return
        run = self._failing.get(model)
        self._failing[model] = FailedPolls(1 if run is None else run.count + 1,
                                           self._clock() if run is None else run.since, error)

    def tick(self) -> list[Alert] | None:
        """Check the state database, then sync the self-alerts; the firing ones, or None when the state
        database failed."""
        now = self._clock()
        try:
            self._probe()
            firing = self_alerts(self._cfg, self._failing, self._outbox(now - self._cfg.dead_letters.within), now)
            self._alerts.sync(SCOPE, firing)
        except sa.exc.SQLAlchemyError as exc:
            reason = f"the state database cannot be written: {getattr(exc, 'orig', None) or exc}"
            log.error("state_database_unwritable", error=reason,
                      what_to_do="nothing can be judged, stored or notified until it is: check the disk, the "
                                 "file's permissions or the database server (state.url); /readyz fails meanwhile")
            self._health.state_failed(reason)
            return None
        self._health.state_ok()
        return firing


def watchdog_route_warning(settings: Settings) -> str | None:
    """A warning when the watchdog is on but no route names ``alertname`` to catch it: it would fall
    to a catch-all route (the root receiver) and repeat there, noise instead of a heartbeat."""
    if not settings.service.self_alerts.watchdog:
        return None
    for resolved in resolve_routes(settings.route, WATCHDOG_LABELS):
        node, named = settings.route, False
        for index in resolved.path:
            node = node.routes[index]
            named = named or any(m.name == "alertname" and m.op in (Op.EQ, Op.RE) for m in node.matchers)
        if named:
            return None
    return ("service.self_alerts.watchdog is on, but no route matches alertname=\"Watchdog\": it goes to "
            f"{settings.route.receiver!r} (the root receiver) every repeat_interval. Add a route such as "
            "{matchers: ['alertname=\"Watchdog\"'], receiver: heartbeat, repeat_interval: 5m}")
