"""One canonical log line per poll cycle: ``poll_cycle``.

A cycle is the polls handled back to back. The scheduler has one interval job per model and puts
each model's ``PollDue`` on the daemon's inbox when it is due (models with the same
``poll_interval`` come due together); the daemon handles the inbox one command at a time and closes
the cycle when the inbox runs empty, or when its self-check tick is due (so a daemon that never
catches up still logs). ``lakewarden check`` polls every model once: one cycle, one line.

Fields: ``models`` (polled, in order), ``windows`` (judged, rewrites included), ``newest_window_age_s``
(per model: seconds from the end of its newest stored window to now; None: none stored yet),
``findings`` (raised in the judged windows, by tier), ``failures`` (model: error, for the polls
that failed), ``duration_s`` (seconds spent handling the polls: reading and judging, summed over
models, so with concurrent polls more than the wall time), ``wall_s`` (from the cycle's first poll
to its close), ``statements`` (SQL statements the engine ran in the cycle: the polls', plus any other
query of the cycle's time, e.g. a lifecycle refresh) and ``statements_per_model``.

Each closed cycle's fields also go to the ``observers`` (``/metrics`` counts cycles, their times,
models and statements from them).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import structlog

from config.basics.clock import Clock
from config.basics.severity import ALERT_SEVERITIES
from monitor.assessments import AssessmentStore
from monitor.messages import AssessmentMade, SourceFailed

log = structlog.get_logger(__name__)


@dataclass
class _Open:
    models: list[str] = field(default_factory=list)
    windows: int = 0
    findings: dict[str, int] = field(default_factory=lambda: dict.fromkeys(ALERT_SEVERITIES, 0))
    failures: dict[str, str] = field(default_factory=dict)
    seconds: float = 0.0
    started: float | None = None  # time.monotonic() at the first poll


class PollCycle:
    """Collects a cycle from the bus (``on_assessment``, ``on_failure``) and the daemon (``polled``)."""

    def __init__(self, assessments: AssessmentStore, clock: Clock, statements: Callable[[], int] | None = None) -> None:
        self._assessments = assessments
        self._clock = clock
        self._open = _Open()
        self._statements = statements or (lambda: 0)  # the engine's statement counter
        self._counted = self._statements()  # the counter when the open cycle began
        self._errors: dict[str, list[str]] = {}  # the poll in progress: its sources' errors, by model
        self.observers: list[Callable[[dict[str, Any]], None]] = []  # told each closed cycle's fields (/metrics)

    @property
    def is_open(self) -> bool:
        return bool(self._open.models)

    def on_assessment(self, event: AssessmentMade) -> None:
        self._open.windows += 1
        for finding in event.assessment.findings:
            self._open.findings[finding.tier] = self._open.findings.get(finding.tier, 0) + 1

    def on_failure(self, event: SourceFailed) -> None:
        self._errors.setdefault(event.model, []).append(event.error)

    def polled(self, model: str, seconds: float, raised: str | None = None) -> str | None:
        """A poll of ``model`` was handled in ``seconds``; ``raised``: the error it raised, if any.
        Returns the poll's error (its failed sources', or what it raised), None when it succeeded."""
        errors = self._errors.pop(model, [])
        if raised is not None:
            errors.append(raised)
        error = "; ".join(errors) or None
        self._open.models.append(model)
        self._open.seconds += seconds
        if self._open.started is None:
            self._open.started = time.monotonic() - seconds
        if error is not None:
            self._open.failures[model] = error
        return error

    def close(self) -> dict[str, Any] | None:
        """Log the cycle's ``poll_cycle`` line and start a new cycle; the line's fields, None when no poll ran."""
        cycle, self._open = self._open, _Open()
        counted, self._counted = self._counted, self._statements()
        if not cycle.models:
            return None
        statements = self._counted - counted
        now = self._clock()
        ages: dict[str, float | None] = {}
        for model in dict.fromkeys(cycle.models):
            newest = self._assessments.newest_window_end(model)
            ages[model] = None if newest is None else round((now - newest).total_seconds(), 1)
        fields: dict[str, Any] = {
            "models": cycle.models, "windows": cycle.windows, "newest_window_age_s": ages,
            "findings": cycle.findings, "failures": cycle.failures, "duration_s": round(cycle.seconds, 3),
            "wall_s": round(time.monotonic() - (cycle.started or time.monotonic()), 3), "statements": statements,
            "statements_per_model": round(statements / len(cycle.models), 2)}
        log.info("poll_cycle", **fields)
        for observer in self.observers:
            observer(fields)
        return fields
