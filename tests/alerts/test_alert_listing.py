"""alerts.listing: the firing alerts with Alertmanager's status (silenced by, inhibited by), and its filters."""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING

import pytest
import sqlalchemy as sa

from alerts.listing import AlertFilter, AlertListing, AlertState, muted_by
from alerts.model import fingerprint
from alerts.routing import resolve_routes
from alerts.service import AlertService
from alerts.silences import SilenceStore
from config.matchers import Matcher
from config.settings import Settings
from tests.alerts.alert_kit import alert, make_settings

if TYPE_CHECKING:
    from config.basics.clock import SimulatedClock

RECEIVERS = [{"name": "ops", "webhook_configs": [{"url": "http://127.0.0.1:9/x"}]},
             {"name": "pager", "webhook_configs": [{"url": "http://127.0.0.1:9/y"}]}]
ROUTE = {"receiver": "ops", "group_by": ["model"],
         "routes": [{"matchers": ['severity="critical"'], "receiver": "pager", "continue": True,
                     "mute_time_intervals": ["always"]},
                    {"matchers": ['model=~".+"'], "receiver": "ops"}]}
INHIBIT = [{"source_matchers": ['severity="critical"'], "target_matchers": ['severity="high"'], "equal": ["model"]}]


@pytest.fixture
def settings() -> Settings:
    return make_settings(ROUTE, RECEIVERS, inhibit_rules=INHIBIT,
                         time_intervals=[{"name": "always", "time_intervals": [{}]}])


@pytest.fixture
def listing(engine: sa.Engine, clock: SimulatedClock, settings: Settings) -> AlertListing:
    service = AlertService(engine, settings.route, settings.receivers, clock)
    service.sync("churn", [alert(clock, model="churn", severity="critical"),
                           alert(clock, model="churn", severity="high")])
    service.sync("fraud", [alert(clock, model="fraud", severity="high")])
    service.sync("gone", [alert(clock, model="gone", severity="low")])
    service.sync("gone", [])  # resolved: never listed
    return AlertListing(engine, settings.route, settings.inhibit_rules, clock)


def by_model(items: list) -> dict[tuple[str, str], object]:  # type: ignore[type-arg]
    return {(x.alert.labels["model"], x.alert.labels["severity"]): x for x in items}


def test_each_firing_alert_has_its_receivers_and_status(listing: AlertListing, engine: sa.Engine,
                                                        clock: SimulatedClock) -> None:
    silence = SilenceStore(engine, clock).add([Matcher.parse('model="fraud"')], clock() + timedelta(hours=1),
                                              created_by="ana", comment="deploy")
    found = by_model(listing.query())
    assert sorted(found) == [("churn", "critical"), ("churn", "high"), ("fraud", "high")]
    critical, high, fraud = found[("churn", "critical")], found[("churn", "high")], found[("fraud", "high")]
    assert critical.receivers == ("pager", "ops")  # type: ignore[attr-defined]
    assert critical.status.state is AlertState.ACTIVE  # type: ignore[attr-defined]
    assert high.status.state is AlertState.SUPPRESSED  # type: ignore[attr-defined]
    assert high.status.inhibited_by == (critical.fingerprint,)  # type: ignore[attr-defined]
    assert high.status.silenced_by == ()  # type: ignore[attr-defined]
    assert fraud.status.silenced_by == (silence.id,)  # type: ignore[attr-defined]
    assert fraud.status.inhibited_by == ()  # type: ignore[attr-defined]
    assert fraud.scope == "fraud" and fraud.fingerprint == fingerprint(fraud.alert.labels)  # type: ignore[attr-defined]


def test_pending_and_expired_silences_do_not_silence(listing: AlertListing, engine: sa.Engine,
                                                     clock: SimulatedClock) -> None:
    store = SilenceStore(engine, clock)
    later = store.add([Matcher.parse('model="fraud"')], clock() + timedelta(hours=2), created_by="ana",
                      comment="later", starts_at=clock() + timedelta(hours=1))
    expired = store.add([Matcher.parse('model="fraud"')], clock() + timedelta(hours=2), created_by="ana", comment="x")
    store.expire(expired.id)
    fraud = by_model(listing.query())[("fraud", "high")]
    assert fraud.status.state is AlertState.ACTIVE  # type: ignore[attr-defined]
    clock.advance(hours=1)
    assert by_model(listing.query())[("fraud", "high")].status.silenced_by == (later.id,)  # type: ignore[attr-defined]


@pytest.mark.parametrize(("where", "expected"), [
    (AlertFilter.parse(['model="churn"']), {("churn", "critical"), ("churn", "high")}),
    (AlertFilter.parse(['{model="churn", severity!="critical"}']), {("churn", "high")}),
    (AlertFilter.parse(['severity=~"hi.*"', 'model!~"churn"']), {("fraud", "high")}),
    (AlertFilter.parse(inhibited=False), {("churn", "critical"), ("fraud", "high")}),
    (AlertFilter.parse(silenced=False), {("churn", "critical"), ("churn", "high")}),
    (AlertFilter.parse(active=False), {("churn", "high"), ("fraud", "high")}),
    (AlertFilter.parse(active=False, inhibited=False), {("fraud", "high")}),
    (AlertFilter.parse(receiver="pag.*"), {("churn", "critical")}),
    (AlertFilter.parse(receiver="pag"), set()),  # anchored, as Alertmanager's receiver parameter
], ids=["eq", "list", "regex", "no-inhibited", "no-silenced", "no-active", "suppressed-by-silence-only",
        "receiver", "receiver-anchored"])
def test_filters(listing: AlertListing, engine: sa.Engine, clock: SimulatedClock, where: AlertFilter,
                 expected: set[tuple[str, str]]) -> None:
    SilenceStore(engine, clock).add([Matcher.parse('model="fraud"')], clock() + timedelta(hours=1),
                                    created_by="ana", comment="deploy")
    assert set(by_model(listing.query(where))) == expected


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"filters": ["model"]}, "filter 'model' is not a valid matcher"),
    ({"filters": ['model=~"("']}, "is not a valid matcher"),
    ({"receiver": "("}, "receiver '(' is not a valid regular expression"),
])
def test_a_bad_filter_names_itself(kwargs: dict, message: str) -> None:  # type: ignore[type-arg]
    filters = kwargs.pop("filters", ())
    with pytest.raises(ValueError, match=message.replace("(", r"\(")):
        AlertFilter.parse(filters, **kwargs)


def test_silences_matching_previews_which_silences_hold(listing: AlertListing, engine: sa.Engine,
                                                        clock: SimulatedClock) -> None:
    silence = SilenceStore(engine, clock).add([Matcher.parse('team="ml"')], clock() + timedelta(hours=1),
                                              created_by="ana", comment="x")
    assert [x.id for x in listing.silences_matching({"team": "ml", "model": "a"})] == [silence.id]
    assert listing.silences_matching({"team": "data"}) == []


def test_muted_by_names_the_time_intervals_muting_a_route(settings: Settings, clock: SimulatedClock) -> None:
    intervals = {t.name: t for t in settings.time_intervals}
    routes = resolve_routes(settings.route, {"severity": "critical", "model": "churn"})
    assert [muted_by(r, intervals, clock()) for r in routes] == [("always",), ()]
