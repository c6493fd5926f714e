"""Named time intervals at an instant (Alertmanager's rules), and routes muted by them."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
import sqlalchemy as sa

from alerts.timeintervals import interval_active, spec_contains
from config.routing import TimeInterval, TimeSpec
from tests.alerts.alert_kit import alert, file_receiver, lines, make_settings, notifier, sent

if TYPE_CHECKING:
    from config.basics.clock import SimulatedClock


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC) if "+" not in text else datetime.fromisoformat(text)


CASES: list[tuple[str, dict[str, Any], str, bool]] = [
    ("empty spec matches always", {}, "2025-03-01T03:00:00", True),
    ("start inclusive", {"times": [{"start_time": "09:00", "end_time": "17:00"}]}, "2025-03-03T09:00:00", True),
    ("end exclusive", {"times": [{"start_time": "09:00", "end_time": "17:00"}]}, "2025-03-03T17:00:00", False),
    ("either range", {"times": [{"start_time": "00:00", "end_time": "06:00"},
                                {"start_time": "22:00", "end_time": "24:00"}]}, "2025-03-03T23:30:00", True),
    ("weekday range", {"weekdays": ["monday:friday"]}, "2025-03-03T12:00:00", True),  # a monday
    ("weekend is not", {"weekdays": ["monday:friday"]}, "2025-03-02T12:00:00", False),  # a sunday
    ("sunday alone", {"weekdays": ["sunday"]}, "2025-03-02T12:00:00", True),
    ("last day of month", {"days_of_month": ["-1"]}, "2025-02-28T12:00:00", True),
    ("last three days", {"days_of_month": ["-3:-1"]}, "2025-03-29T12:00:00", True),
    ("not yet the last three", {"days_of_month": ["-3:-1"]}, "2025-03-28T12:00:00", False),
    ("day 31 clamps in a short month", {"days_of_month": ["30:31"]}, "2025-04-30T12:00:00", True),
    ("day past the month end never", {"days_of_month": ["31"]}, "2025-04-30T12:00:00", False),
    ("month by name", {"months": ["january:february"]}, "2025-02-10T00:00:00", True),
    ("year range", {"years": ["2024:2025"]}, "2026-01-01T00:00:00", False),
    ("all fields must match", {"weekdays": ["saturday"], "times": [{"start_time": "09:00", "end_time": "10:00"}]},
     "2025-03-01T11:00:00", False),
    ("location shifts the day", {"weekdays": ["saturday"], "location": "Asia/Tokyo"}, "2025-02-28T16:00:00", True),
    ("location shifts the time", {"times": [{"start_time": "09:00", "end_time": "18:00"}],
                                  "location": "Europe/Amsterdam"}, "2025-07-01T07:30:00", True),
]


@pytest.mark.parametrize(("case", "spec", "when", "expected"), CASES, ids=[c[0] for c in CASES])
def test_time_spec_table(case: str, spec: dict[str, Any], when: str, expected: bool) -> None:
    assert spec_contains(TimeSpec.model_validate(spec), at(when)) is expected, case


def test_an_interval_matches_when_any_spec_does() -> None:
    interval = TimeInterval.model_validate({"name": "off-hours", "time_intervals": [
        {"weekdays": ["sunday", "saturday"]}, {"times": [{"start_time": "18:00", "end_time": "24:00"}]}]})
    assert interval_active(interval, at("2025-03-01T10:00:00"))  # saturday
    assert interval_active(interval, at("2025-03-03T19:00:00"))  # monday evening
    assert not interval_active(interval, at("2025-03-03T10:00:00"))


SETTINGS: dict[str, Any] = {
    "time_intervals": [{"name": "weekend", "time_intervals": [{"weekdays": ["sunday", "saturday"]}]},
                       {"name": "office", "time_intervals": [{"times": [{"start_time": "09:00",
                                                                         "end_time": "17:00"}]}]}],
}


def route(tmp_path: Path) -> Any:
    return make_settings({
        "receiver": "ops", "group_wait": "0s", "group_interval": "1h",
        "mute_time_intervals": [],
        "routes": [
            {"matchers": ['team="ml"'], "receiver": "ml", "mute_time_intervals": ["weekend"],
             "routes": [{"matchers": ['severity="critical"']}]},  # inherits ml, not the mute
            {"matchers": ['team="biz"'], "receiver": "biz", "active_time_intervals": ["office"]},
        ]}, [file_receiver(tmp_path, "ops"), file_receiver(tmp_path, "ml"), file_receiver(tmp_path, "biz")],
        **SETTINGS)


def test_mute_time_intervals_mute_the_route_and_are_not_inherited(engine: sa.Engine, clock: SimulatedClock,
                                                                   tmp_path: Path) -> None:
    clock.now = at("2025-03-01T12:00:00")  # a saturday
    n = notifier(engine, clock, route(tmp_path))
    n.service.sync("a", [alert(clock, team="ml", severity="high")])
    n.service.sync("b", [alert(clock, team="ml", severity="critical")])
    n.run_once()
    assert [x["commonLabels"]["severity"] for x in lines(tmp_path / "ml.jsonl")] == ["critical"]
    assert n.dispatcher.counts["muted_by_time"] == 1
    clock.now = at("2025-03-03T00:00:00")  # monday: the muted group goes out at its next tick
    n.run_once()
    firsts = [x["commonLabels"]["severity"] for x in lines(tmp_path / "ml.jsonl") if x["reason"] == "first"]
    assert firsts == ["critical", "high"]


def test_active_time_intervals_send_only_inside_them(engine: sa.Engine, clock: SimulatedClock, tmp_path: Path) -> None:
    clock.now = at("2025-03-03T08:00:00")
    n = notifier(engine, clock, route(tmp_path))
    n.service.sync("a", [alert(clock, team="biz")])
    n.run_once()
    assert sent(tmp_path / "biz.jsonl") == []
    clock.now = at("2025-03-03T09:00:00")  # the group's next tick, inside office hours
    n.run_once()
    assert sent(tmp_path / "biz.jsonl") == [("first", "firing", 1)]
