"""What a channel returns: delivered, retry later (maybe after ``retry_after`` seconds), or give up.

Channels classify their own failures; the retry policy lives in one place (``alerts.outbox``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol


@dataclass(frozen=True)
class Delivered:
    detail: str = ""


@dataclass(frozen=True)
class Retryable:
    reason: str
    retry_after: float | None = None


@dataclass(frozen=True)
class Permanent:
    reason: str


Result = Delivered | Retryable | Permanent


class Channel(Protocol):
    """Sends one notification payload. Must not raise for delivery failures: return a result."""

    def send(self, payload: Mapping[str, Any]) -> Result: ...


@dataclass(frozen=True)
class Attempt:
    """What the outbox knows about this send: the notification's id (its outbox idempotency key, the
    same on every attempt) and, for a resend, when the first attempt of it (or of a notification of
    the same group it replaced) began. ``resend_since`` is None on a first send."""

    notification_id: str
    resend_since: datetime | None = None


class ResendAware(Protocol):
    """A channel that can find what an earlier attempt left behind (Slack's Web API: the message it
    posted) and adopt it instead of sending again. The delivery worker calls ``send_attempt`` instead of
    ``send`` when a channel has it."""

    def send_attempt(self, payload: Mapping[str, Any], attempt: Attempt) -> Result: ...
