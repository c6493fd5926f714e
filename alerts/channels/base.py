"""What a channel returns: delivered, retry later (maybe after ``retry_after`` seconds), or give up.

Channels classify their own failures; the retry policy lives in one place (``alerts.outbox``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
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
