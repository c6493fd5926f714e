"""What the decision path remembers gives the answers it would compute: routes per values of the
labels the tree reads, group keys per route and group_by values, labels per fingerprint, inhibition
sources per set of firing alerts, muters per flush; and groups are joined right without being read
first."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
import sqlalchemy as sa

from alerts import labelcache
from alerts.groups import read_labels
from alerts.inhibit import Inhibitor
from alerts.model import Alert, LabelSet, fingerprint
from alerts.routecache import RouteCache, matcher_names
from alerts.routing import resolve_routes
from alerts.schema import alerts_groups
from alerts.service import AlertService
from config.routing import InhibitRule, Route
from tests.alerts.alert_kit import alert, file_receiver, make_settings, notifier

if TYPE_CHECKING:
    from config.basics.clock import SimulatedClock

TREE = Route.model_validate({
    "receiver": "ops", "group_by": ["model"],
    "routes": [
        {"matchers": ['severity="critical"'], "receiver": "pager", "continue": True, "group_by": ["model", "team"]},
        {"matchers": ['team=~"ml-.*"', 'env!=""'], "receiver": "ml", "group_by": ["..."]},
        {"matchers": ['team="data"'], "receiver": "data", "group_by": []},
    ],
})

LABELS = [
    {"alertname": "A", "model": "churn", "severity": "critical", "team": "ml-core", "env": "prod"},
    {"alertname": "A", "model": "fraud", "severity": "critical", "team": "ml-core", "env": "prod"},
    {"alertname": "A", "model": "churn", "severity": "low", "team": "ml-core"},  # env missing: equals ""
    {"alertname": "A", "model": "churn", "severity": "low", "team": "ml-core", "env": ""},
    {"alertname": "A", "model": "churn", "severity": "critical"},  # team missing: the same group key as ""
    {"alertname": "A", "model": "churn", "severity": "critical", "team": ""},
    {"alertname": "B", "model": "churn", "team": "data", "severity": "high"},
    {"alertname": "A", "severity": "low"},
]


def test_matcher_names_are_every_label_the_tree_reads() -> None:
    assert matcher_names(TREE) == ("env", "severity", "team")


def test_remembered_routes_and_group_keys_equal_computed_ones() -> None:
    cache = RouteCache(TREE)
    for _ in range(2):  # the second pass answers from memory
        for labels in LABELS:
            label_set = LabelSet(labels)
            expected = resolve_routes(TREE, label_set)
            assert cache.routes(label_set) == expected, labels
            assert [cache.group_key(r, label_set) for r in expected] == [r.group_key(label_set) for r in expected]


def test_a_missing_group_by_label_and_an_empty_one_share_a_group_key_as_in_alertmanager() -> None:
    cache = RouteCache(TREE)
    missing, empty = LabelSet(LABELS[4]), LabelSet(LABELS[5])
    pager = cache.routes(missing)[0]
    assert pager.receiver == "pager" and cache.routes(empty)[0] == pager
    assert cache.group_key(pager, missing) == cache.group_key(pager, empty) == pager.group_key(missing)


@pytest.fixture
def fresh_labels() -> Iterator[None]:
    labelcache._KNOWN.clear()
    yield
    labelcache._KNOWN.clear()


def test_labels_are_read_once_per_fingerprint(fresh_labels: None) -> None:
    asked: list[list[str]] = []

    def read(fps: list[str]) -> list[tuple[str, dict[str, str]]]:
        asked.append(sorted(fps))
        return [(fp, {"fp": fp}) for fp in fps]

    labelcache.remember("known", LabelSet({"a": "1"}))
    first = labelcache.lookup(["known", "x", "y"], read)
    second = labelcache.lookup(["x", "y", "z"], read)
    assert asked == [["x", "y"], ["z"]]
    assert first["known"] == {"a": "1"} and first["x"] == {"fp": "x"} and second["z"] == {"fp": "z"}
    assert isinstance(second["x"], LabelSet)


CRITICAL_MUTES_HIGH = InhibitRule.model_validate({
    "source_matchers": ['severity="critical"'], "target_matchers": ['severity="high"'], "equal": ["model"]})


def label_reads(engine: sa.Engine) -> list[str]:
    seen: list[str] = []

    @sa.event.listens_for(engine, "before_cursor_execute")
    def _note(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        if "alerts_state.labels" in statement:
            seen.append(statement)

    return seen


def test_inhibition_sources_follow_the_firing_alerts_and_labels_are_read_once(
        engine: sa.Engine, clock: SimulatedClock, tmp_path: Path, fresh_labels: None) -> None:
    settings = make_settings({"receiver": "ops"}, [file_receiver(tmp_path, "ops")])
    service = AlertService(engine, settings.route, settings.receivers, clock)
    other_process = AlertService(engine, settings.route, settings.receivers, clock)
    high = {"model": "churn", "severity": "high"}
    inhibitor = Inhibitor([CRITICAL_MUTES_HIGH])
    reads = label_reads(engine)

    def refreshed() -> bool:
        with engine.begin() as conn:
            inhibitor.refresh(conn, clock())
        return inhibitor.mutes(high)

    assert refreshed() is False
    other_process.sync("churn", [alert(clock, model="churn", severity="critical")])
    labelcache._KNOWN.clear()  # as if another process had synced it: its labels are read from the state
    assert refreshed() is True
    assert len(reads) == 1
    assert refreshed() is True and len(reads) == 1  # nothing changed: nothing read again
    service.sync("churn", [])  # the source resolves
    assert refreshed() is False
    service.sync("churn", [alert(clock, model="churn", severity="critical")])  # fires again: labels known
    assert refreshed() is True and len(reads) == 1


def test_read_labels_reads_in_chunks(engine: sa.Engine, clock: SimulatedClock, tmp_path: Path) -> None:
    settings = make_settings({"receiver": "ops", "group_by": ["n"]}, [file_receiver(tmp_path, "ops")])
    service = AlertService(engine, settings.route, settings.receivers, clock)
    alerts = [Alert({"alertname": "A", "n": str(i)}, {}, clock()) for i in range(1203)]
    service.sync("many", alerts)
    with engine.connect() as conn:
        got = dict(read_labels(conn, [a.fingerprint for a in alerts] + ["absent"]))
    assert len(got) == 1203 and got[fingerprint({"alertname": "A", "n": "7"})] == {"alertname": "A", "n": "7"}


def group_rows(engine: sa.Engine) -> dict[str, tuple[Any, Any]]:
    with engine.connect() as conn:
        rows = conn.execute(sa.select(alerts_groups.c.group_key, alerts_groups.c.next_flush_at,
                                      alerts_groups.c.last_flush_at))
        return {row.group_key: (row.next_flush_at, row.last_flush_at) for row in rows}


def test_one_sync_that_makes_a_group_and_changes_another_times_each_right(
        engine: sa.Engine, clock: SimulatedClock, tmp_path: Path) -> None:
    settings = make_settings({"receiver": "ops", "group_by": ["model"], "group_wait": "30s", "group_interval": "5m",
                              "repeat_interval": "4h"}, [file_receiver(tmp_path, "ops")])
    n = notifier(engine, clock, settings)
    n.service.sync("s", [alert(clock, model="churn", signal="a")])
    clock.advance(seconds=30)
    n.run_once()  # churn's group notified: last flush now, next at the repeat
    flushed_at = clock()
    clock.advance(minutes=1)
    n.service.sync("s", [alert(clock, model="churn", signal="a"), alert(clock, model="churn", signal="b"),
                         alert(clock, model="fraud", signal="a")])
    rows = group_rows(engine)
    churn = next(v for k, v in rows.items() if 'model="churn"' in k)
    fraud = next(v for k, v in rows.items() if 'model="fraud"' in k)
    assert churn == (flushed_at + timedelta(minutes=5), flushed_at)  # changed: group_interval after its flush
    assert fraud == (clock() + timedelta(seconds=30), None)  # new: in its group_wait


def test_a_group_without_group_wait_is_flushed_by_the_sync_that_makes_it(
        engine: sa.Engine, clock: SimulatedClock, tmp_path: Path) -> None:
    settings = make_settings({"receiver": "ops", "group_by": ["model"], "group_wait": "0s"},
                             [file_receiver(tmp_path, "ops")])
    flushed: list[int] = []
    service = AlertService(engine, settings.route, settings.receivers, clock, after_sync=lambda: flushed.append(1))
    service.sync("s", [alert(clock, model="churn")])
    assert flushed == [1]
    service.sync("s", [alert(clock, model="churn")])  # the group exists, nothing changed: no flush
    assert flushed == [1]


def test_muters_are_read_once_per_flush_for_all_of_its_batches(
        engine: sa.Engine, clock: SimulatedClock, tmp_path: Path) -> None:
    settings = make_settings({"receiver": "ops", "group_by": ["model"], "group_wait": "30s"},
                             [file_receiver(tmp_path, "ops")], alerting={"flush_batch": 1})
    n = notifier(engine, clock, settings)
    for model in ("churn", "fraud", "sales"):
        n.service.sync(model, [alert(clock, model=model)])
    silence_reads: list[str] = []

    @sa.event.listens_for(engine, "before_cursor_execute")
    def _note(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        if statement.lstrip().startswith("SELECT") and "FROM alerts_silences" in statement:
            silence_reads.append(statement)

    clock.advance(seconds=30)
    report = n.dispatcher.flush()
    assert report.groups == 3 and report.notified == 3  # three batches of one group
    assert len(silence_reads) == 1
    n.dispatcher.flush()  # nothing due: nothing read
    assert len(silence_reads) == 1
