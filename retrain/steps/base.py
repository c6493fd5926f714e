"""What a step is: a function from a run's context to an outcome, and the context it gets.

A step handler never blocks. It reads what earlier attempts recorded (``ctx.get``), does at most the
next side effect, records it at once (``ctx.save``) and says how the run goes on:

- :class:`Wait`: nothing more to do now (a job runs, an endpoint updates, windows are awaited);
- :class:`Next`: the step is done, the run moves to the next step of its plan;
- :class:`End`: the run ends in ``state`` (production was not changed by it);
- :class:`Revert`: production was changed: roll it back, then end in ``state``.

Every side effect is guarded by a read of what is already in place, so a step resumed after a
crash between the side effect and its record does not repeat it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from config.basics.clock import Clock
from config.lifecycle import LifecycleSettings
from retrain.backends.base import JobBackend
from retrain.ports import AssessmentReader, MonitorRefresher
from retrain.registry import ModelRegistry
from retrain.runs import RunRecord, RunState
from retrain.serving import ServingBackend

RUN_ID_TAG = "lakewarden.run_id"
VALIDATION_TAG = "lakewarden.validation"
VALIDATION_REASON_TAG = "lakewarden.validation_reason"
ROLLED_BACK_TAG = "lakewarden.rolled_back"


@dataclass(frozen=True)
class Wait:
    """Nothing more now. ``announce``: the note is news (a canary went live) and becomes an event."""

    note: str = ""
    announce: bool = False


@dataclass(frozen=True)
class Next:
    message: str
    external: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class End:
    state: RunState
    reason: str


@dataclass(frozen=True)
class Revert:
    state: RunState
    reason: str


Outcome = Wait | Next | End | Revert


@dataclass(frozen=True)
class Deps:
    """The backends a step may use; ``serving``, ``monitors`` and ``verdicts`` exist where configured."""

    jobs: JobBackend
    registry: ModelRegistry
    clock: Clock
    serving: ServingBackend | None = None
    monitors: MonitorRefresher | None = None
    verdicts: AssessmentReader | None = None
    owner: str = ""  # this lakewarden process (host/pid/random), the watcher of the jobs it starts or adopts


class StepContext:
    """One run at one step: its settings, the backends, and what was recorded so far."""

    def __init__(self, run: RunRecord, settings: LifecycleSettings, deps: Deps,
                 save: Callable[[dict[str, Any]], None]) -> None:
        self.run = run
        self.settings = settings
        self.deps = deps
        self.external: dict[str, Any] = dict(run.external)
        self._save = save

    @property
    def now(self) -> datetime:
        return self.deps.clock()

    @property
    def model(self) -> str:
        """The registered model's name."""
        return self.run.registered_model

    def get(self, key: str, default: Any = None) -> Any:
        return self.external.get(key, default)

    def save(self, **values: Any) -> None:
        """Record values in the run at once (before anything else happens)."""
        self.external.update(values)
        self._save(values)

    def started(self, key: str) -> datetime:
        """When ``key`` was first recorded as started (recorded now if it never was)."""
        if self.get(key) is None:
            self.save(**{key: self.now.isoformat()})
        return datetime.fromisoformat(str(self.get(key)))

    def overdue(self, key: str, timeout: timedelta) -> bool:
        return self.now - self.started(key) > timeout

    @property
    def production_touched(self) -> bool:
        return production_touched(self.external)


def production_touched(external: Mapping[str, Any]) -> bool:
    """Whether a run changed an alias or an endpoint that a rollback would have to put back."""
    promotion = external.get("promotion") or {}
    return bool(promotion.get("champion_moved") or promotion.get("challenger_set")
                or external.get("rollout_put") or external.get("rollout_full_put"))


StepHandler = Callable[[StepContext], Outcome]
