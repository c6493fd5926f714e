"""Inhibition rules: firing source alerts mute matching target alerts (Alertmanager's semantics).

A target is muted by a rule when it matches ``target_matchers`` and some *firing* alert matches
``source_matchers`` with the same values for every ``equal`` label (absent on both counts as
equal). An alert that matches both sides is not inhibited by alerts that also match both sides, so
two critical alerts of one model do not mute each other.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime

import sqlalchemy as sa

from alerts import labelcache
from alerts.groups import read_labels
from alerts.model import LabelSet
from alerts.schema import alerts_state as s
from config.matchers import matches_all
from config.routing import InhibitRule


@dataclass
class _RuleSources:
    rule: InhibitRule
    # equal-label values -> labels of firing sources, and whether each matches the target side too
    by_equal: dict[tuple[str, ...], list[tuple[Mapping[str, str], bool]]] = field(default_factory=dict)


# The firing alerts' fingerprints: their labels are known (``alerts.labelcache``) or read once.
_FIRING = sa.select(s.c.fingerprint).where(s.c.status == "firing")


class Inhibitor:
    def __init__(self, rules: Sequence[InhibitRule]) -> None:
        self._rules = [_RuleSources(rule) for rule in rules]
        self._firing: frozenset[str] | None = None  # at the last refresh (None: read them next time)

    def refresh(self, conn: sa.Connection, now: datetime) -> None:
        """Read the firing alerts: the possible sources.

        A fingerprint names one label set for good (it is their hash), so the sources are worked
        out again only when the set of firing alerts changed, and only labels not seen before are
        read."""
        if not self._rules:
            return
        firing = frozenset(conn.execute(_FIRING).scalars().all())
        if firing == self._firing:
            return
        labels = labelcache.lookup(sorted(firing), lambda fps: read_labels(conn, fps))
        self.load(list(labels.values()))
        self._firing = firing

    def load(self, firing: Sequence[Mapping[str, str]]) -> None:
        self._firing = None
        for entry in self._rules:
            entry.by_equal = {}
            for labels in firing:
                if matches_all(entry.rule.source_matchers, labels):
                    key = tuple(labels.get(name, "") for name in entry.rule.equal)
                    both = matches_all(entry.rule.target_matchers, labels)
                    entry.by_equal.setdefault(key, []).append((labels, both))

    def mutes(self, labels: Mapping[str, str]) -> bool:
        return next(self.sources(labels), None) is not None

    def sources(self, labels: Mapping[str, str]) -> Iterator[Mapping[str, str]]:
        """The labels of the firing alerts that inhibit ``labels`` (each once per rule it mutes by)."""
        for entry in self._rules:
            rule = entry.rule
            if not matches_all(rule.target_matchers, labels):
                continue
            sources = entry.by_equal.get(tuple(labels.get(name, "") for name in rule.equal), ())
            if not sources:
                continue
            two_sided = matches_all(rule.source_matchers, labels)
            own = labels if isinstance(labels, LabelSet) else LabelSet(labels)
            for source, source_both in sources:
                if source == own or (two_sided and source_both):
                    continue  # an alert does not inhibit itself, nor a two-sided one another
                yield source
