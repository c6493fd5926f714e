from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta

import numpy as np
import pyarrow as pa
import pytest
from scipy.spatial.distance import jensenshannon

from monitor.demo.data import (
    INFERENCE_SCHEMA,
    TRAINING_SCHEMA,
    DemoScenario,
    baseline_frame,
    training_frame,
    window_frame,
)
from monitor.profile.stats import bin_counts, bin_edges, psi

START = datetime(2025, 3, 3, tzinfo=UTC)
END = START + timedelta(hours=1)
NUMERIC = ("tenure_months", "monthly_charges", "support_calls", "age", "probability")


def _numeric_psi_js(reference: pa.Table, current: pa.Table, column: str) -> tuple[float, float]:
    ref = np.asarray(reference.column(column).to_numpy(), dtype=float)
    cur = np.asarray(current.column(column).to_numpy(), dtype=float)
    edges = bin_edges(np.quantile(ref, np.arange(1, 10) / 10))
    p, q = bin_counts(ref, edges), bin_counts(cur, edges)
    return psi(p, q), float(jensenshannon(p, q, base=2))


def _categorical_js(reference: pa.Table, current: pa.Table, column: str) -> float:
    ref, cur = Counter(reference.column(column).to_pylist()), Counter(current.column(column).to_pylist())
    keys = sorted(set(ref) | set(cur))
    return float(jensenshannon([ref[k] for k in keys], [cur[k] for k in keys], base=2))


@pytest.fixture(scope="module")
def baseline() -> pa.Table:
    return baseline_frame(7, 5_000, START - timedelta(days=1))


def test_frames_have_the_shared_schema() -> None:
    assert training_frame(1, 50).schema == TRAINING_SCHEMA
    assert baseline_frame(1, 50, START).schema == INFERENCE_SCHEMA
    assert window_frame(1, 0, START, END, 50, 0.5).schema == INFERENCE_SCHEMA
    assert INFERENCE_SCHEMA.names == ["timestamp", "model_id", "tenure_months", "monthly_charges",
                                      "support_calls", "age", "contract", "payment_method", "probability",
                                      "prediction", "label"]


def test_frames_are_deterministic_per_seed_and_window() -> None:
    assert window_frame(7, 3, START, END, 500, 0.0).equals(window_frame(7, 3, START, END, 500, 0.0))
    assert training_frame(7, 200).equals(training_frame(7, 200))
    assert not window_frame(7, 3, START, END, 500, 0.0).equals(window_frame(8, 3, START, END, 500, 0.0))
    assert not window_frame(7, 3, START, END, 500, 0.0).equals(window_frame(7, 4, START, END, 500, 0.0))


def test_scores_follow_the_probability() -> None:
    frame = window_frame(7, 0, START, END, 2_000, 0.3)
    probability = np.asarray(frame.column("probability").to_numpy())
    prediction = np.asarray(frame.column("prediction").to_numpy())
    assert (prediction == (probability > 0.5)).all()
    assert frame.column("label").null_count == 0
    assert set(frame.column("label").to_pylist()) == {0, 1}
    timestamps = frame.column("timestamp").to_pylist()
    assert all(START <= t < END for t in timestamps)
    assert set(frame.column("contract").to_pylist()) <= {"month-to-month", "one-year", "two-year"}
    assert set(frame.column("payment_method").to_pylist()) <= {"card", "bank", "check", "wallet"}


def test_no_drift_stays_small(baseline: pa.Table) -> None:
    current = window_frame(7, 0, START, END, 2_000, 0.0)
    for column in NUMERIC:
        value, _ = _numeric_psi_js(baseline, current, column)
        assert value < 0.05, column
    assert _categorical_js(baseline, current, "prediction") < 0.1


def test_full_drift_is_clearly_visible(baseline: pa.Table) -> None:
    current = window_frame(7, 5, START, END, 2_000, 1.0)
    assert _categorical_js(baseline, current, "prediction") > 0.2
    assert _categorical_js(baseline, current, "contract") > 0.2
    _, probability_js = _numeric_psi_js(baseline, current, "probability")
    assert probability_js > 0.2
    drifted = [c for c in ("tenure_months", "monthly_charges", "support_calls")
               if _numeric_psi_js(baseline, current, c)[0] > 0.25 and _numeric_psi_js(baseline, current, c)[1] > 0.2]
    assert drifted == ["tenure_months", "monthly_charges", "support_calls"]
    age_psi, _ = _numeric_psi_js(baseline, current, "age")
    assert age_psi < 0.05  # the control feature does not drift


def test_drift_outside_unit_interval_is_refused() -> None:
    with pytest.raises(ValueError, match="drift"):
        window_frame(7, 0, START, END, 10, 1.5)


def test_scenario_schedules_drift_then_recovery() -> None:
    scenario = DemoScenario()
    assert scenario.windows == 14
    assert [scenario.drift_at(i) for i in range(14)] == [0.0] * 5 + [1.0] * 5 + [0.0] * 4
    assert scenario.window(1) == (scenario.start + timedelta(hours=1), scenario.start + timedelta(hours=2))
    frame = scenario.frame(6)
    assert frame.num_rows == scenario.rows_per_window
    assert frame.equals(window_frame(scenario.seed, 6, *scenario.window(6), scenario.rows_per_window, 1.0))
    assert scenario.baseline().column("timestamp").to_pylist()[-1] < scenario.start
