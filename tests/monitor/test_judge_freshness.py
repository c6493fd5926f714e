"""stale_data: each stream's newest window against its cadence, at the time the facts were read."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import pytest
from pydantic import ValidationError

from config.freshness_signals import FreshnessSignal
from monitor.health import Health
from monitor.observations import Freshness, Newest, WindowMetrics
from monitor.observations_codec import window_from_json, window_to_json
from monitor.risk import judge
from monitor.risk.freshness_rules import format_age
from tests.monitor.judge_support import HOUR, T0, model

NOW = T0 + timedelta(hours=12, minutes=5)  # 2026-01-01T12:05Z


def _newest(stream: str, table: str, age: timedelta | None, length: timedelta = HOUR) -> Newest:
    granularity = stream.split(":", 1)[1]
    if age is None:
        return Newest(stream, table, granularity)
    return Newest(stream, table, granularity, NOW - age - length, NOW - age)


def _window(*newest: Newest) -> WindowMetrics:
    return WindowMetrics("churn", "freshness", "1h", T0 + 12 * HOUR, T0 + 13 * HOUR, None, None, version="v",
                         freshness=Freshness(NOW, newest))


@dataclass(frozen=True)
class Case:
    name: str
    newest: Newest
    signals: dict[str, Any]
    detail: str | None  # the stale_data finding's detail; None: fresh
    reason: str | None = None  # the not-raised reason when fresh


DAY = timedelta(days=1)
CASES = [
    Case("fresh hour", _newest("lakehouse:1 hour", "main.ml.t_drift_metrics", timedelta(minutes=65)), {}, None,
         "fresh: the newest window of main.ml.t_drift_metrics (2026-01-01T10:00Z to 2026-01-01T11:00Z, "
         "lakehouse:1 hour) ended 1h5m ago, within 2h (2 x cadence 1h)"),
    Case("stale hour", _newest("lakehouse:1 hour", "main.ml.t_drift_metrics", timedelta(hours=2, minutes=1)), {},
         "the newest window of main.ml.t_drift_metrics (2026-01-01T09:04Z to 2026-01-01T10:04Z, lakehouse:1 hour) "
         "ended 2h1m ago, more than 2h (2 x cadence 1h); check the monitor's refresh schedule and its latest "
         "refreshes (or the job that writes the metric tables, e.g. lakewarden profile)"),
    Case("day within two days", _newest("lakehouse:1 day", "main.ml.t_profile_metrics", 47 * HOUR, DAY), {}, None,
         "fresh: the newest window of main.ml.t_profile_metrics (2025-12-29T13:05Z to 2025-12-30T13:05Z, "
         "lakehouse:1 day) ended 47h ago, within 2d (2 x cadence 1d)"),
    Case("a month is 31 days", _newest("lakehouse:1 month", "main.ml.t_drift_metrics", 63 * DAY, 31 * DAY), {},
         "the newest window of main.ml.t_drift_metrics (2025-09-29T12:05Z to 2025-10-30T12:05Z, lakehouse:1 month) "
         "ended 63d ago, more than 62d (2 x cadence 31d)"),
    Case("cadence override", _newest("lakehouse:1 hour", "main.ml.t_drift_metrics", 5 * HOUR),
         {"cadence": "6h", "multiple": 1}, None,
         "fresh: the newest window of main.ml.t_drift_metrics (2026-01-01T06:05Z to 2026-01-01T07:05Z, "
         "lakehouse:1 hour) ended 5h ago, within 6h (1 x cadence 6h)"),
    Case("empty table", _newest("lakehouse:1 hour", "main.ml.t_drift_metrics", None), {},
         "main.ml.t_drift_metrics holds no window for granularity 1 hour (lakehouse:1 hour); check the monitor's "
         "refresh schedule"),
    Case("silent endpoint", _newest("inference:1 hour", "main.ml.payload", 3 * HOUR), {},
         "the newest window of main.ml.payload (2026-01-01T08:05Z to 2026-01-01T09:05Z, inference:1 hour) ended 3h "
         "ago, more than 2h (2 x cadence 1h); check that the serving endpoint gets traffic and that its inference "
         "table still logs requests"),
]


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_the_newest_window_against_its_cadence(case: Case) -> None:
    a = judge(model(freshness=case.signals), _window(case.newest))
    stale = [f for f in a.findings if f.signal == "stale_data"]
    if case.detail is None:
        assert stale == [] and a.severity == "ok"
        assert [n.reason for n in a.not_raised if n.signal == "stale_data"] == [case.reason]
    else:
        (finding,) = stale
        assert finding.detail.startswith(case.detail), finding.detail
        assert (finding.tier, finding.weight, finding.column) == ("medium", 1.0, ":table")
        assert (a.severity, a.risk) == ("medium", 50)  # alone enough to reach the alerts (alert_from medium)
        assert finding.describe().startswith("stale data (medium): ")


def test_tier_weight_and_off_are_settings() -> None:
    stale = _window(_newest("lakehouse:1 hour", "main.ml.t_drift_metrics", 3 * HOUR))
    high = judge(model(freshness={"tier": "high", "weight": 0.8}), stale)
    assert (high.findings[0].tier, high.risk, high.severity) == ("high", 60, "medium")
    off = judge(model(freshness={"enabled": False}), stale)
    assert off.findings == () and off.not_raised == ()


def test_every_stale_stream_is_named() -> None:
    a = judge(model(), _window(_newest("lakehouse:1 hour", "main.ml.t_drift_metrics", 3 * HOUR),
                               _newest("inference:1 hour", "main.ml.payload", None)))
    details = sorted(f.detail for f in a.findings)
    assert details[0].startswith("main.ml.payload holds no window for granularity 1 hour (inference:1 hour)")
    assert details[1].startswith("the newest window of main.ml.t_drift_metrics")
    assert a.risk == 50  # one problem (stale data), counted once


def test_the_facts_survive_json_and_replay_the_same() -> None:
    w = _window(_newest("lakehouse:1 hour", "main.ml.t_drift_metrics", 3 * HOUR),
                _newest("lakehouse:1 day", "main.ml.t_drift_metrics", None))
    back = window_from_json(json.loads(json.dumps(window_to_json(w))))
    assert back == w
    assert judge(model(), back).findings == judge(model(), w).findings


@pytest.mark.parametrize(("age", "text"), [
    (timedelta(seconds=20), "0m"), (timedelta(minutes=45), "45m"), (timedelta(hours=2), "2h"),
    (timedelta(hours=5, minutes=10), "5h10m"), (timedelta(hours=47, minutes=59), "47h59m"),
    (timedelta(days=2, minutes=20), "2d"), (timedelta(days=281, hours=3, minutes=40), "281d3h"),
    (timedelta(minutes=-5), "0m"),
])
def test_ages_read_well(age: timedelta, text: str) -> None:
    assert format_age(age) == text


@pytest.mark.parametrize(("settings", "problem"), [
    ({"multiple": 0.5}, "greater than or equal to 1"), ({"window": "30s"}, "at least 1m"),
    ({"cadence": "10s"}, "at least 1m"), ({"tier": "ok"}, "low"), ({"weight": 2}, "less than or equal to 1"),
])
def test_bad_settings_are_refused(settings: dict[str, Any], problem: str) -> None:
    with pytest.raises(ValidationError, match=problem):
        FreshnessSignal.model_validate(settings)


def test_defaults() -> None:
    signal = FreshnessSignal()
    assert (signal.enabled, signal.tier, signal.weight, signal.multiple) == (True, "medium", 1.0, 2.0)
    assert [signal.stale_after(g) for g in ("5 minutes", "1 hour", "1 day", "1 week", "1 month")] == [
        timedelta(minutes=10), 2 * HOUR, 2 * DAY, timedelta(weeks=2), 62 * DAY]


# -- /readyz ---------------------------------------------------------------------------------------------


def test_readyz_stays_ready_but_never_says_ok_over_stale_data() -> None:
    health = Health(clock=lambda: datetime(2026, 1, 1, tzinfo=NOW.tzinfo))
    health.set_started()
    health.model_ok("fraud")
    health.model_ok("churn", ["the newest window of main.ml.t_drift_metrics ... ended 3h ago"])
    ready, details = health.readiness()
    assert ready and details["status"] == "stale"
    assert details["models"]["churn"]["stale"] == ["the newest window of main.ml.t_drift_metrics ... ended 3h ago"]
    assert "stale" not in details["models"]["fraud"]

    health.model_failed("fraud", "table main.ml.x does not exist", ["main.ml.y holds no window"])
    assert health.readiness()[1]["status"] == "degraded"  # a failure says more than staleness
    assert health.readiness()[1]["models"]["fraud"]["stale"] == ["main.ml.y holds no window"]

    health.model_ok("churn")
    health.model_ok("fraud")
    assert health.readiness()[1]["status"] == "ok"
