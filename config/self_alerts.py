"""lakewarden's alerts about itself (``service.self_alerts``): the watchdog and the missed-page alerts.

They go through the ordinary alert pipeline in the scope ``lakewarden``, so the route tree decides
who hears them (route them with ``alertname=~"Lakewarden.*"`` to a receiver other than the ones they
watch). README "Watching lakewarden" says what each means and what to do.

- ``watchdog`` (off by default): an alert that always fires, ``alertname="Watchdog"``,
  ``severity="none"`` (Alertmanager's dead man's switch convention). Route it to a heartbeat
  receiver (a dead man's snitch, healthchecks.io, PagerDuty's heartbeat...) with a short
  ``repeat_interval``: the route's repeats are the heartbeat, and their absence is the page. Off
  unless asked for, because routed nowhere in particular it lands on the root receiver every
  ``repeat_interval``, and noise is how on-call people learn to ignore a channel.
- ``polls_failing`` (``LakewardenPollsFailing``, one per model, default ``high``): the model's poll
  failed ``after`` times in a row (default 3: one failure is often a warehouse starting; three in a
  row is a table, grant or network that stays broken). A model that is not polled cannot raise its
  risk alert, which is as bad as a high risk nobody hears. Resolves at the next good poll.
- ``outbox_backlog`` (``LakewardenOutboxBacklog``, default ``high``): the oldest undelivered
  notification is older than ``older_than`` (default 10m: past a few retries of the default backoff,
  well short of its 24h give-up). Every page queued behind it is late. Resolves when the backlog
  is under the threshold again.
- ``dead_letters`` (``LakewardenDeadLetters``, default ``medium``): a notification died in the last
  ``within`` (default 1h) and nobody was told: no ``alerting.fallback_receiver`` took a
  ``NotificationDeadLettered`` meta-alert for it (none is configured, or the row was the fallback's
  own). Medium: that notification is lost already, nothing pages faster for it now; the receiver
  needs fixing, and the other two alerts cover the pages still to come. Resolves once ``within`` has
  passed without another such dead letter.

``interval`` is how often the daemon checks itself and refreshes these alerts (default 30s).
A state database that cannot be written is not alerted (the outbox lives in it): it is logged at
error level and fails ``/readyz`` with the reason.
"""

from __future__ import annotations

from datetime import timedelta

from pydantic import Field, field_validator

from config.base import Strict
from config.basics.severity import AlertSeverity
from config.durations import Duration


def _at_least_a_second(value: timedelta) -> timedelta:
    if value < timedelta(seconds=1):
        raise ValueError("a duration of at least 1s, such as 30s or 10m")
    return value


class PollsFailing(Strict):
    enabled: bool = True
    after: int = Field(default=3, ge=1, description="consecutive failed polls of one model")
    severity: AlertSeverity = "high"


class OutboxBacklog(Strict):
    enabled: bool = True
    older_than: Duration = Field(default="10m", validate_default=True)
    severity: AlertSeverity = "high"

    _older_than = field_validator("older_than")(_at_least_a_second)


class DeadLetters(Strict):
    enabled: bool = True
    within: Duration = Field(default="1h", validate_default=True)
    severity: AlertSeverity = "medium"

    _within = field_validator("within")(_at_least_a_second)


class SelfAlertSettings(Strict):
    watchdog: bool = False
    polls_failing: PollsFailing = Field(default_factory=PollsFailing)
    outbox_backlog: OutboxBacklog = Field(default_factory=OutboxBacklog)
    dead_letters: DeadLetters = Field(default_factory=DeadLetters)
    interval: Duration = Field(default="30s", validate_default=True)

    _interval = field_validator("interval")(_at_least_a_second)
