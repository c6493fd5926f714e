"""Severities and threshold tiers: what a value must reach (or fall to) to become a finding of a severity."""

from __future__ import annotations

from itertools import pairwise
from typing import ClassVar

from pydantic import Field, model_validator

from config.base import Strict
from config.basics.severity import ALERT_SEVERITIES, SEVERITIES, AlertSeverity, Severity, severity_rank
from config.durations import Duration

__all__ = ["ALERT_SEVERITIES", "SEVERITIES", "AlertSeverity", "DurationTiers", "Floors", "MofN", "Severity",
           "SignedFloors", "SignedTiers", "Tiers", "severity_rank"]


class _Levels(Strict):
    # Distances, ratios, counts, hours and score drops are never negative: a negative tier is a sign
    # typo that would make every window a finding. Limits on a metric's own value (an r2 floor, a
    # custom metric) may be negative: those blocks use SignedTiers/SignedFloors.
    signed: ClassVar[bool] = False

    low: float | None = None
    medium: float | None = None
    high: float | None = None
    critical: float | None = None

    def items(self) -> list[tuple[AlertSeverity, float | None]]:
        return [("low", self.low), ("medium", self.medium), ("high", self.high), ("critical", self.critical)]

    def given(self) -> list[tuple[AlertSeverity, float]]:
        return [(name, v) for name, v in self.items() if v is not None]

    def threshold(self, tier: AlertSeverity) -> float | None:
        return dict(self.items())[tier]

    def _check(self, rising: bool) -> None:
        given = self.given()
        if not given:
            raise ValueError("give at least one tier (low, medium, high, critical)")
        negative = [f"{name} ({value})" for name, value in given if value < 0]
        if negative and not self.signed:
            raise ValueError(f"tiers of 0 or more: {', '.join(negative)} is negative, which this measure never is")
        for (a, va), (b, vb) in pairwise(given):
            if (vb <= va) if rising else (vb >= va):
                word = "increase" if rising else "decrease"
                raise ValueError(f"tiers must {word}: {b} ({vb}) is not {'above' if rising else 'below'} {a} ({va})")


class Tiers(_Levels):
    """Thresholds, ascending: a value at or above ``high`` (and below ``critical``) is a high finding.

    Leave a tier out to skip it (e.g. no ``critical`` for a noisy metric).
    """

    @model_validator(mode="after")
    def _ascending(self) -> Tiers:
        self._check(rising=True)
        return self

    def tier_of(self, value: float) -> AlertSeverity | None:
        """The highest tier whose threshold ``value`` reaches, or None below every tier."""
        found: AlertSeverity | None = None
        for name, threshold in self.given():
            if value >= threshold:
                found = name
        return found


class Floors(_Levels):
    """Limits for values where lower is worse (accuracy, time left), descending: at or below ``high`` is high."""

    @model_validator(mode="after")
    def _descending(self) -> Floors:
        self._check(rising=False)
        return self

    def tier_of(self, value: float) -> AlertSeverity | None:
        """The highest tier whose floor ``value`` is at or below, or None above every floor."""
        found: AlertSeverity | None = None
        for name, floor in self.given():
            if value <= floor:
                found = name
        return found


class SignedTiers(Tiers):
    """Ascending limits on a metric's own value, which may be negative."""

    signed: ClassVar[bool] = True


class SignedFloors(Floors):
    """Descending limits on a metric's own value (an r2 score can fall below 0)."""

    signed: ClassVar[bool] = True


class DurationTiers(Strict):
    """Tiers written as durations (``2h``); judged in seconds."""

    low: Duration | None = None
    medium: Duration | None = None
    high: Duration | None = None
    critical: Duration | None = None

    @model_validator(mode="after")
    def _valid(self) -> DurationTiers:
        self.as_tiers()
        return self

    def as_tiers(self) -> Tiers:
        def seconds(name: str) -> float | None:
            value = getattr(self, name)
            return None if value is None else value.total_seconds()

        return Tiers(low=seconds("low"), medium=seconds("medium"), high=seconds("high"),
                     critical=seconds("critical"))


class MofN(Strict):
    """At least ``m`` of the last ``n`` windows (the newest included)."""

    m: int = Field(ge=1)
    n: int = Field(ge=1, le=100)

    @model_validator(mode="after")
    def _m_within_n(self) -> MofN:
        if self.m > self.n:
            raise ValueError(f"at most n ({self.n}) for m, not {self.m}: m of the last n windows")
        return self
