"""Escalation policies: what happens while a firing alert group stays unacknowledged.

A route names a policy (``escalation: NAME``; not inherited by child routes). Once the route has
notified a group that fires, step 1 runs after its ``wait``, each later step after its own ``wait``
from the previous one; each step notifies its ``receiver``. With ``repeat: N`` the whole list runs
up to N more times. Acknowledging the group (CLI or state store) or its resolving stops it.
"""

from __future__ import annotations

from datetime import timedelta

from pydantic import Field, field_validator

from config.base import Strict
from config.durations import Duration


class EscalationStep(Strict):
    wait: Duration
    receiver: str = Field(min_length=1)

    @field_validator("wait")
    @classmethod
    def _positive(cls, value: timedelta) -> timedelta:
        if value.total_seconds() <= 0:
            raise ValueError("a wait greater than 0, such as 15m")
        return value


class EscalationPolicy(Strict):
    name: str = Field(min_length=1)
    steps: tuple[EscalationStep, ...] = Field(min_length=1)
    repeat: int = Field(default=0, ge=0, le=20)
