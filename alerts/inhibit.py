"""Inhibition rules: firing source alerts mute matching target alerts (Alertmanager's semantics).

A target is muted by a rule when it matches ``target_matchers`` and some *firing* alert matches
``source_matchers`` with the same values for every ``equal`` label (absent on both counts as
equal). An alert that matches both sides is not inhibited by alerts that also match both sides, so
two critical alerts of one model do not mute each other.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime

import sqlalchemy as sa

from alerts.schema import alerts_state as s
from config.matchers import matches_all
from config.routing import InhibitRule


@dataclass
class _RuleSources:
    rule: InhibitRule
    # equal-label values -> labels of firing sources, and whether each matches the target side too
    by_equal: dict[tuple[str, ...], list[tuple[Mapping[str, str], bool]]] = field(default_factory=dict)


class Inhibitor:
    def __init__(self, rules: Sequence[InhibitRule]) -> None:
        self._rules = [_RuleSources(rule) for rule in rules]

    def refresh(self, conn: sa.Connection, now: datetime) -> None:
        """Read the firing alerts: the possible sources."""
        if not self._rules:
            return
        rows = conn.execute(sa.select(s.c.labels, s.c.fingerprint).where(s.c.status == "firing"))
        self.load([row.labels for row in rows])

    def load(self, firing: Sequence[Mapping[str, str]]) -> None:
        for entry in self._rules:
            entry.by_equal = {}
            for labels in firing:
                if matches_all(entry.rule.source_matchers, labels):
                    key = tuple(labels.get(name, "") for name in entry.rule.equal)
                    both = matches_all(entry.rule.target_matchers, labels)
                    entry.by_equal.setdefault(key, []).append((labels, both))

    def mutes(self, labels: Mapping[str, str]) -> bool:
        for entry in self._rules:
            rule = entry.rule
            if not matches_all(rule.target_matchers, labels):
                continue
            sources = entry.by_equal.get(tuple(labels.get(name, "") for name in rule.equal), ())
            if not sources:
                continue
            two_sided = matches_all(rule.source_matchers, labels)
            own = dict(labels)
            for source, source_both in sources:
                if source == own or (two_sided and source_both):
                    continue  # an alert does not inhibit itself, nor a two-sided one another
                return True
        return False
