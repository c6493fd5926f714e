"""How notifications are kept and retried: the ``alerting:`` block.

``fallback_receiver`` hears about every dead-lettered notification (a meta-alert
``NotificationDeadLettered``); without one, dead letters are only logged and listed by
``lakewarden alerts outbox``. ``retry`` is the one retry policy of every channel.
"""

from __future__ import annotations

from datetime import timedelta

from pydantic import Field, field_validator

from config.base import Strict
from config.durations import Duration
from config.escalation import EscalationPolicy


class RetrySettings(Strict):
    """Exponential backoff with jitter, capped; ``Retry-After`` from a channel is never undercut."""

    initial_delay: Duration = timedelta(seconds=10)
    multiplier: float = Field(default=2.0, ge=1.0)
    max_delay: Duration = timedelta(minutes=15)
    jitter: float = Field(default=0.2, ge=0.0, lt=1.0)
    max_attempts: int = Field(default=25, ge=1)
    max_age: Duration = timedelta(hours=24)

    @field_validator("initial_delay", "max_delay", "max_age")
    @classmethod
    def _positive(cls, value: timedelta) -> timedelta:
        if value.total_seconds() <= 0:
            raise ValueError("a duration greater than 0")
        return value


class AlertingSettings(Strict):
    fallback_receiver: str | None = None
    retry: RetrySettings = Field(default_factory=RetrySettings)
    # The lease of the one row a worker is sending, renewed every third of it while the send runs: after
    # a crash that row waits at most this long for another worker (none for the same instance_id).
    lease: Duration = timedelta(seconds=30)
    # This process's identity in the outbox (alerts.instance): default $LAKEWARDEN_INSTANCE_ID, else
    # hostname + a hash of the state URL. Distinct for every process sharing one state database.
    instance_id: str | None = Field(default=None, min_length=1, max_length=200)
    flush_batch: int = Field(default=500, ge=1)
    silence_retention: Duration = timedelta(days=5)
    escalation_policies: tuple[EscalationPolicy, ...] = ()

    @field_validator("lease")
    @classmethod
    def _lease(cls, value: timedelta) -> timedelta:
        if value.total_seconds() < 10:
            raise ValueError("a lease of at least 10s (longer than one send at its channel timeout)")
        return value
