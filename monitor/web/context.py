"""What the web app reads and writes, built once by the daemon (``WebState.build``) and shared by its routes."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

import sqlalchemy as sa

from alerts.listing import AlertListing
from alerts.silences import SilenceStore
from config.basics.clock import Clock
from config.settings import Settings
from monitor.assessments import AssessmentStore
from retrain import RunBook


@dataclass(frozen=True)
class WebState:
    """The state database's readers and writers, and the daemon's live counters (none outside a daemon)."""

    settings: Settings
    engine: sa.Engine
    clock: Clock
    assessments: AssessmentStore
    listing: AlertListing
    silences: SilenceStore
    runbook: RunBook
    skipped_polls: Callable[[], Mapping[str, int]] = field(default=dict)

    @classmethod
    def build(cls, settings: Settings, engine: sa.Engine, clock: Clock,
              skipped_polls: Callable[[], Mapping[str, int]] = dict) -> WebState:
        return cls(settings, engine, clock, AssessmentStore(engine, clock),
                   AlertListing(engine, settings.route, settings.inhibit_rules, clock),
                   SilenceStore(engine, clock, settings.alerting.silence_retention),
                   RunBook(engine, {m.name: m.lifecycle for m in settings.models}, clock), skipped_polls)

    def model_names(self) -> list[str]:
        return [m.name for m in self.settings.models]
