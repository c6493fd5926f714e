"""Assessments stored per stream and window: versions, rewrites, persistence state, migration, replay
(on SQLite and PostgreSQL)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import replace

import pytest
import sqlalchemy as sa

from config.signals import RiskSettings
from monitor import schema
from monitor.assessments import AssessmentStore
from monitor.risk import Assessment, judge
from monitor.risk.explain import render, replay
from monitor.state import open_store
from tests.monitor.judge_support import HOUR, T0, drift, model, ops, window

pytestmark = pytest.mark.both_databases

RISK = RiskSettings()
HIGH = drift("prediction", js_distance=0.25)
QUIET = drift("prediction", js_distance=0.01)


def _migrate_monitor(url: str) -> None:
    open_store(url, {"monitor": schema.MIGRATIONS}).close()


@pytest.fixture
def store(migrated_state_url: Callable[[str, Callable[[str], None]], str]) -> Iterator[AssessmentStore]:
    state = open_store(migrated_state_url("monitor", _migrate_monitor), {"monitor": schema.MIGRATIONS})
    yield AssessmentStore(state.engine, lambda: T0)
    state.close()


def record(store: AssessmentStore, index: int, *rows: object, version: str | None = None) -> Assessment | None:
    w = window(*rows, index=index)  # type: ignore[arg-type]
    w = replace(w, version=version or w.version)
    history = store.prior("churn", w.stream, w.window_start, 10)
    done = store.record(judge(model(), w, history), RISK)
    return None if done is None else done.assessment


def test_a_window_is_stored_once_per_version(store: AssessmentStore) -> None:
    first = record(store, 0, HIGH)
    assert first is not None and first.severity == "high"
    assert record(store, 0, HIGH) is None  # same version: nothing new
    assert store.versions("churn", "lakehouse:1 hour", T0) == {(T0, T0 + HOUR): "v0"}
    assert len(store.history("churn")) == 1


def test_persistence_state_and_the_models_alert_severity(store: AssessmentStore) -> None:
    first, second = record(store, 0, HIGH), record(store, 1, HIGH)
    assert first is not None and second is not None
    assert (first.state.firing, first.alert_severity) == (False, "ok")
    assert (second.state.firing, second.alert_severity) == (True, "high")
    assert "2 of the last 2 windows" in second.findings[0].describe()
    record(store, 2, QUIET)
    third = record(store, 3, QUIET)
    assert third is not None and third.alert_severity == "ok"


def test_a_rewritten_window_is_judged_again_in_place_not_counted_twice(store: AssessmentStore) -> None:
    record(store, 0, QUIET)
    record(store, 1, QUIET)
    assert store.model_alert("churn") == "ok"
    rewritten = record(store, 0, HIGH, version="v0-refreshed")
    assert rewritten is not None and rewritten.severity == "high"
    rows = store.history("churn")
    assert len(rows) == 2 and {r.revision for r in rows} == {1, 2}
    old = next(r for r in rows if r.revision == 2)
    assert [r.severity for r in store.revisions(old.id)] == ["ok"]
    again = record(store, 1, HIGH, version="v1-refreshed")  # now two high windows of two
    assert again is not None and again.alert_severity == "high"


def test_rewriting_an_old_window_reruns_the_states_after_it(store: AssessmentStore) -> None:
    for index, row in enumerate((HIGH, QUIET, HIGH)):
        record(store, index, row)
    assert store.model_alert("churn") == "high"  # h . h: two of the last three
    record(store, 0, QUIET, version="v0-refreshed")
    assert store.model_alert("churn") == "ok"  # . . h


def test_the_model_alert_is_the_worst_firing_stream(store: AssessmentStore) -> None:
    record(store, 0, HIGH)
    record(store, 1, HIGH)
    inference = model(inference={})
    w = replace(window(operations=ops(), source="inference"), version="i0")
    done = store.record(judge(inference, w), RISK)
    assert done is not None and done.assessment.stream == "inference:1 hour"
    assert done.assessment.alert_severity == "high"  # the lakehouse stream still fires
    assert store.streams("churn") == ["inference:1 hour", "lakehouse:1 hour"]


def test_history_carries_finding_keys_and_measures(store: AssessmentStore) -> None:
    record(store, 0, HIGH)
    [prior] = store.prior("churn", "lakehouse:1 hour", T0 + 2 * HOUR, 5)
    assert prior.severity == "high" and prior.measures == {"rows": 1000.0}
    assert any(key.startswith("prediction_drift|js_distance|prediction|") for key in prior.finding_keys)


def test_a_stored_assessment_replays_to_the_same_decision(store: AssessmentStore) -> None:
    record(store, 0, HIGH, drift("age", js_distance=0.35, ks_pvalue=0.001))
    row = store.latest("churn")
    assert row is not None
    again = replay(model(), row, [])
    assert again is not None
    assert [f.describe() for f in again.findings] == [_describe(f) for f in row.findings]
    text = render(row, store.model_alert("churn"), replayed=again)
    assert "same findings" in text
    stricter = replay(model(prediction_drift={"thresholds": {"critical": 0.2}}), row, [])
    assert stricter is not None
    assert "now raised: prediction drift: js_distance 0.25" in render(row, "ok", replayed=stricter)


def _describe(data: dict[str, object]) -> str:
    from monitor.risk.explain import finding_from_json

    return finding_from_json(data).describe()  # type: ignore[arg-type]


def test_migration_from_version_1_keeps_assessments_and_adopts_versions(state_url: str) -> None:
    url = state_url
    open_store(url, {"monitor": schema.MIGRATIONS[:1]}).close()
    engine = sa.create_engine(url)
    with engine.begin() as conn:
        conn.execute(sa.insert(schema.assessments).values(
            model="churn", granularity="1 hour", window_start=T0, window_end=window().window_end, risk=80.0,
            severity="high", findings=[], skipped=[], inputs={}, created_at=T0))
    state = open_store(url, {"monitor": schema.MIGRATIONS})
    store = AssessmentStore(state.engine, lambda: T0)
    [row] = store.history("churn")
    assert (row.stream, row.version, row.severity, row.state_firing) == (
        "lakehouse:1 hour", None, "high", True)
    assert record(store, 0, QUIET) is None  # judged by version 1 already: its version is adopted, not re-judged
    assert store.versions("churn", "lakehouse:1 hour", T0)[(T0, row.window_end)] == "v0"
    assert "cannot be replayed" not in render(row, "high")
    assert replay(model(), row, []) is None
    engine.dispose()
    state.close()
