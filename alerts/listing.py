"""The alerts firing now, each with its status as Alertmanager's API v2 reports it.

Status is worked out at query time, as Alertmanager's ``GET /api/v2/alerts`` does: ``suppressed``
when an active silence matches the alert (``silenced_by``: the silence ids) or a firing alert
inhibits it (``inhibited_by``: the inhibiting alerts' fingerprints), else ``active``. Alertmanager's
third state, ``unprocessed``, means "not yet seen by the silencer and inhibitor"; a query here always
runs both, so it never occurs. Time intervals mute groups, not alerts (Alertmanager reports them only
on ``/alerts/groups``): :func:`muted_by` gives them per route.

Filters are Alertmanager's: label matchers (our parser, ``config.matchers``), a receiver regex, and the
``active`` / ``silenced`` / ``inhibited`` flags that, when false, leave out active alerts, alerts with a
silence, alerts with an inhibitor. Used by the API (``/api/v2/alerts``, ``/api/v1/alerts``) and the CLI
(``alerts list``, the silence preview).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from enum import StrEnum

import sqlalchemy as sa

from alerts.inhibit import Inhibitor
from alerts.model import Alert, LabelSet, fingerprint
from alerts.routecache import RouteCache
from alerts.routing import ResolvedRoute
from alerts.schema import alerts_silences as sil
from alerts.schema import alerts_state as s
from alerts.silences import Silence
from alerts.timeintervals import any_active
from config.basics.clock import Clock
from config.matchers import Matcher, compile_regex, matches_all
from config.routing import InhibitRule, Route, TimeInterval

__all__ = ["AlertFilter", "AlertListing", "AlertState", "AlertStatus", "ListedAlert", "muted_by"]


class AlertState(StrEnum):
    UNPROCESSED = "unprocessed"
    ACTIVE = "active"
    SUPPRESSED = "suppressed"


@dataclass(frozen=True)
class AlertStatus:
    state: AlertState
    silenced_by: tuple[str, ...] = ()
    inhibited_by: tuple[str, ...] = ()


@dataclass(frozen=True)
class ListedAlert:
    alert: Alert
    scope: str  # the model (or other scope) that fires it
    updated_at: datetime
    receivers: tuple[str, ...]  # of the routes it matches, in route order, each once
    routes: tuple[ResolvedRoute, ...]
    status: AlertStatus

    @property
    def fingerprint(self) -> str:
        return self.alert.fingerprint

    @property
    def silenced(self) -> bool:
        return bool(self.status.silenced_by)

    @property
    def inhibited(self) -> bool:
        return bool(self.status.inhibited_by)


@dataclass(frozen=True)
class AlertFilter:
    """Which alerts to list: all by default (Alertmanager's defaults: every flag true)."""

    matchers: tuple[Matcher, ...] = ()
    receiver: str | None = None  # a regex, anchored at both ends, as Alertmanager's ``receiver`` parameter
    active: bool = True
    silenced: bool = True
    inhibited: bool = True
    _receiver_re: object = field(default=None, compare=False, repr=False)

    @classmethod
    def parse(cls, filters: Sequence[str] = (), *, receiver: str | None = None, active: bool = True,
              silenced: bool = True, inhibited: bool = True) -> AlertFilter:
        """``filters``: matcher strings (each may hold several, ``{a="x",b="y"}``). Raises ``ValueError``
        naming the filter that is not a matcher, or a receiver that is not a regex."""
        matchers: list[Matcher] = []
        for text in filters:
            try:
                matchers.extend(Matcher.parse_list(text))
            except ValueError as exc:
                raise ValueError(f"filter {text!r} is not a valid matcher: {exc}") from None
        regex = None
        if receiver:
            try:
                regex = compile_regex(receiver)
            except ValueError as exc:
                raise ValueError(f"receiver {receiver!r} is not a valid regular expression: {exc}") from None
        return cls(tuple(matchers), receiver or None, active, silenced, inhibited, regex)

    def without_receiver(self) -> AlertFilter:
        """The same filter on labels and status, for every receiver (``/alerts/groups`` filters each
        group by its own route's receiver instead: :meth:`keeps_receivers` with that one name)."""
        return replace(self, receiver=None, _receiver_re=None)

    def keeps_labels(self, labels: Mapping[str, str]) -> bool:
        return matches_all(self.matchers, labels)

    def keeps_receivers(self, receivers: Sequence[str]) -> bool:
        regex = self._receiver_re
        return regex is None or any(regex.search(name) is not None for name in receivers)  # type: ignore[attr-defined]

    def keeps_status(self, status: AlertStatus) -> bool:
        if not self.active and status.state is AlertState.ACTIVE:
            return False
        if not self.silenced and status.silenced_by:
            return False
        return self.inhibited or not status.inhibited_by


_FIRING = sa.select(s.c.fingerprint, s.c.labels, s.c.annotations, s.c.scope, s.c.starts_at, s.c.ends_at,
                    s.c.updated_at).where(s.c.status == "firing").order_by(s.c.scope, s.c.fingerprint)


class AlertListing:
    """Reads the firing alerts and the silences from the state database and judges each alert's status
    the way the notification pipeline would now (same route tree, inhibit rules and silences)."""

    def __init__(self, engine: sa.Engine, route: Route, inhibit_rules: Sequence[InhibitRule], clock: Clock) -> None:
        self._engine = engine
        self._routes = RouteCache(route)
        self._rules = tuple(inhibit_rules)
        self._clock = clock

    def query(self, where: AlertFilter | None = None) -> list[ListedAlert]:
        """The alerts firing now that ``where`` keeps, ordered by scope then fingerprint."""
        where = where or AlertFilter()
        now = self._clock()
        with self._engine.connect() as conn:
            rows = conn.execute(_FIRING).all()
            silences = self._active_silences(conn, now)
        firing = [Alert.restore(LabelSet(row.labels), LabelSet(row.annotations), row.starts_at, row.ends_at,
                                row.fingerprint) for row in rows]
        inhibitor = Inhibitor(self._rules)
        inhibitor.load([a.labels for a in firing])
        out: list[ListedAlert] = []
        for row, alert in zip(rows, firing, strict=True):
            if not where.keeps_labels(alert.labels):
                continue
            routes = tuple(self._routes.routes(alert.labels))
            receivers = tuple(dict.fromkeys(r.receiver for r in routes))
            if not where.keeps_receivers(receivers):
                continue
            status = _status(alert.labels, silences, inhibitor)
            if not where.keeps_status(status):
                continue
            out.append(ListedAlert(alert, row.scope, row.updated_at, receivers, routes, status))
        return out

    def silences_matching(self, labels: Mapping[str, str]) -> list[Silence]:
        """The active silences that match ``labels`` (what a preview of a new alert would show)."""
        now = self._clock()
        with self._engine.connect() as conn:
            return [x for x in self._active_silences(conn, now) if x.matches(labels)]

    @staticmethod
    def _active_silences(conn: sa.Connection, now: datetime) -> list[Silence]:
        rows = conn.execute(sa.select(sil).where(sil.c.starts_at <= now, sil.c.ends_at > now)
                            .order_by(sil.c.starts_at, sil.c.id)).all()
        return [Silence.from_row(row) for row in rows]


def _status(labels: Mapping[str, str], silences: Sequence[Silence], inhibitor: Inhibitor) -> AlertStatus:
    silenced_by = tuple(x.id for x in silences if x.matches(labels))
    inhibited_by = tuple(dict.fromkeys(fingerprint(source) for source in inhibitor.sources(labels)))
    state = AlertState.SUPPRESSED if silenced_by or inhibited_by else AlertState.ACTIVE
    return AlertStatus(state, silenced_by, inhibited_by)


def muted_by(route: ResolvedRoute, intervals: Mapping[str, TimeInterval], now: datetime) -> tuple[str, ...]:
    """The time intervals muting ``route``'s groups at ``now``: its active ``mute_time_intervals``, or
    (when it has ``active_time_intervals`` and none is active) those."""
    muting = tuple(name for name in route.mute_time_intervals if any_active((name,), intervals, now))
    if muting:
        return muting
    if route.active_time_intervals and not any_active(route.active_time_intervals, intervals, now):
        return route.active_time_intervals
    return ()
