"""Commands and events on the daemon's bus."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from monitor.bus import Command, Event
from monitor.risk import Assessment


@dataclass(frozen=True)
class PollDue(Command):
    """Time to read a model's sources (published by the scheduler, or once per model by ``check``).

    ``reads``: what the model's sources gave, when they were read beforehand on the poll pool
    (``monitor.poll_pool``, a ``monitor.handlers.ModelReads``); None: the handler reads them itself."""

    model: str
    reads: Any = field(default=None, compare=False, repr=False)


@dataclass(frozen=True)
class AdvanceLifecycle(Command):
    """Time to move running lifecycle runs forward."""


@dataclass(frozen=True)
class AssessmentMade(Event):
    assessment: Assessment
    previous_severity: str | None


@dataclass(frozen=True)
class SourceFailed(Event):
    model: str
    error: str


@dataclass(frozen=True)
class LifecycleProgressed(Event):
    run_id: str
    model: str
    kind: str
    message: str


@dataclass(frozen=True)
class AlertsEnqueued(Event):
    model: str
    notifications: tuple[dict[str, Any], ...]
