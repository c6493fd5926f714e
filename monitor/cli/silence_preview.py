"""What a silence would do before it is written: the alerts firing now that it mutes, and the label
names in its matchers that nothing uses (a typo such as ``modle="churn"`` would otherwise mute nothing,
silently).

Known label names: the ones lakewarden puts on its alerts (``monitor.translate``,
``monitor.lifecycle_notices``, ``monitor.self_watch``), every model's extra ``labels``, the names the
routing tree and the inhibit rules use, and the labels of every alert in the state database.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from config import Settings
from config.matchers import Matcher
from config.routing import Route

# Set by lakewarden on its own alerts: risk alerts, lifecycle notices, self-alerts.
BUILTIN_LABELS = frozenset({"alertname", "model", "env", "severity", "team", "lifecycle_run"})


@dataclass(frozen=True)
class CurrentAlert:
    labels: Mapping[str, str]
    status: str  # "firing" or "resolved"
    silenced_by: tuple[str, ...] = ()
    inhibited_by: tuple[str, ...] = ()

    def text(self) -> str:
        rest = ",".join(f'{k}="{v}"' for k, v in sorted(self.labels.items()) if k != "alertname")
        already = ([f"already silenced by {','.join(s[:8] for s in self.silenced_by)}"] if self.silenced_by else []) + (
            ["inhibited"] if self.inhibited_by else [])
        return f"{self.labels.get('alertname', '')}{{{rest}}}" + (f" ({'; '.join(already)})" if already else "")


@dataclass(frozen=True)
class Preview:
    mutes: tuple[CurrentAlert, ...]
    warnings: tuple[str, ...]


def preview(matchers: Sequence[Matcher], settings: Settings, alerts: Sequence[CurrentAlert]) -> Preview:
    firing = tuple(a for a in alerts if a.status == "firing" and all(m.matches(a.labels) for m in matchers))
    known = known_label_names(settings, alerts)
    return Preview(firing, tuple(unknown_label_warnings(matchers, known)))


def known_label_names(settings: Settings, alerts: Iterable[CurrentAlert]) -> frozenset[str]:
    names = set(BUILTIN_LABELS)
    for model in settings.models:
        names.update(model.labels)
    names.update(_route_labels(settings.route))
    for rule in settings.inhibit_rules:
        names.update(m.name for m in (*rule.source_matchers, *rule.target_matchers))
        names.update(rule.equal)
    for alert in alerts:
        names.update(alert.labels)
    return frozenset(names)


def _route_labels(route: Route) -> Iterable[str]:
    yield from (m.name for m in route.matchers)
    yield from (name for name in route.group_by or () if name != "...")
    for child in route.routes:
        yield from _route_labels(child)


def unknown_label_warnings(matchers: Sequence[Matcher], known: frozenset[str]) -> Iterable[str]:
    for name in sorted({m.name for m in matchers} - known):
        close = difflib.get_close_matches(name, sorted(known), n=1)
        hint = f' (did you mean "{close[0]}"?)' if close else ""
        yield (f'label "{name}" is on no alert and in no route or inhibit rule{hint}: a matcher on it may never '
               "match; known labels: " + ", ".join(sorted(known)))
