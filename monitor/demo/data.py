"""Seeded churn-like demo data: training, baseline and scored inference windows with optional drift.

All frames are deterministic functions of their arguments. Drift in [0, 1] moves the population:
shorter tenure, higher monthly charges, more support calls and a contract mix tilted towards
month-to-month. ``age`` and ``payment_method`` never drift (they are the control features).
The churn probability is a fixed logistic function of the features plus a little noise; the
prediction is ``probability > 0.5``; the label is drawn from the probability.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import numpy as np
import numpy.typing as npt
import pyarrow as pa

CONTRACTS = ("month-to-month", "one-year", "two-year")
PAYMENT_METHODS = ("card", "bank", "check", "wallet")
FEATURES = ("tenure_months", "monthly_charges", "support_calls", "age", "contract", "payment_method")
DEFAULT_MODEL_ID = "churn@1"
TRAINING_START = datetime(2025, 1, 1, tzinfo=UTC)

_CONTRACT_BASE = np.array([0.45, 0.30, 0.25])
_CONTRACT_DRIFTED = np.array([0.80, 0.12, 0.08])
_PAYMENT = np.array([0.40, 0.30, 0.12, 0.18])
_TIMESTAMP = pa.timestamp("us", tz="UTC")
_FEATURE_FIELDS = [
    ("tenure_months", pa.float64()), ("monthly_charges", pa.float64()), ("support_calls", pa.int32()),
    ("age", pa.float64()), ("contract", pa.string()), ("payment_method", pa.string()),
]
TRAINING_SCHEMA = pa.schema([*_FEATURE_FIELDS, ("label", pa.int32()), ("timestamp", _TIMESTAMP)])
INFERENCE_SCHEMA = pa.schema([
    ("timestamp", _TIMESTAMP), ("model_id", pa.string()), *_FEATURE_FIELDS,
    ("probability", pa.float64()), ("prediction", pa.int32()), ("label", pa.int32()),
])

# stream ids keep the random sequences of the different frames independent
_TRAINING, _BASELINE, _WINDOW = 1, 2, 3
Array = npt.NDArray[np.float64]


def _rng(seed: int, stream: int, index: int = 0) -> np.random.Generator:
    return np.random.default_rng([seed, stream, index])


def _features(rng: np.random.Generator, n: int, drift: float) -> dict[str, npt.NDArray[np.generic]]:
    if not 0.0 <= drift <= 1.0:
        raise ValueError(f"drift must be within [0, 1], got {drift}")
    tenure = np.clip(rng.gamma(2.0, 16.0 * (1.0 - 0.5 * drift), n), 0.0, 72.0)
    charges = np.clip(rng.normal(65.0 + 18.0 * drift, 18.0, n), 18.0, 160.0)
    calls = rng.poisson(1.2 + 1.3 * drift, n).astype(np.int32)
    age = np.clip(rng.normal(45.0, 14.0, n), 18.0, 90.0)
    mix = (1.0 - drift) * _CONTRACT_BASE + drift * _CONTRACT_DRIFTED
    contract = rng.choice(np.array(CONTRACTS), size=n, p=mix)
    payment = rng.choice(np.array(PAYMENT_METHODS), size=n, p=_PAYMENT)
    return {"tenure_months": np.round(tenure, 1), "monthly_charges": np.round(charges, 2),
            "support_calls": calls, "age": np.round(age, 0), "contract": contract, "payment_method": payment}


def churn_logit(features: dict[str, npt.NDArray[np.generic]]) -> Array:
    """The fixed ground-truth logit of churn."""
    tenure = np.asarray(features["tenure_months"], dtype=np.float64)
    charges = np.asarray(features["monthly_charges"], dtype=np.float64)
    calls = np.asarray(features["support_calls"], dtype=np.float64)
    age = np.asarray(features["age"], dtype=np.float64)
    contract = np.asarray(features["contract"])
    payment = np.asarray(features["payment_method"])
    logit: Array = (-1.6 - 0.05 * (tenure - 24.0) + 0.035 * (charges - 65.0) + 0.45 * (calls - 1.2)
                    + 0.9 * (contract == "month-to-month") - 0.8 * (contract == "two-year")
                    + 0.35 * (payment == "check") - 0.01 * (age - 45.0))
    return logit


def _scored(rng: np.random.Generator, features: dict[str, npt.NDArray[np.generic]]
            ) -> tuple[Array, npt.NDArray[np.int32], npt.NDArray[np.int32]]:
    n = len(features["age"])
    probability = 1.0 / (1.0 + np.exp(-(churn_logit(features) + rng.normal(0.0, 0.25, n))))
    prediction = (probability > 0.5).astype(np.int32)
    label = (rng.random(n) < probability).astype(np.int32)
    return np.round(probability, 6), prediction, label


def _timestamps(rng: np.random.Generator, n: int, start: datetime, end: datetime) -> pa.Array:
    if start.tzinfo is None or end.tzinfo is None or not start < end:
        raise ValueError("start and end must be timezone-aware UTC times with start < end")
    span_us = int((end - start) / timedelta(microseconds=1))
    offsets = np.sort(rng.integers(0, span_us, n))
    base = int((start - datetime(1970, 1, 1, tzinfo=UTC)) / timedelta(microseconds=1))
    return pa.array(base + offsets, type=pa.int64()).cast(_TIMESTAMP)


def _inference(rng: np.random.Generator, n: int, start: datetime, end: datetime, *, drift: float,
               model_id: str) -> pa.Table:
    features = _features(rng, n, drift)
    probability, prediction, label = _scored(rng, features)
    columns = {"timestamp": _timestamps(rng, n, start, end), "model_id": pa.array([model_id] * n),
               **features, "probability": probability, "prediction": prediction, "label": label}
    return pa.table({name: columns[name] for name in INFERENCE_SCHEMA.names}, schema=INFERENCE_SCHEMA)


def training_frame(seed: int, n: int, *, start: datetime = TRAINING_START,
                   span: timedelta = timedelta(days=30)) -> pa.Table:
    """Labelled training rows (no drift), timestamps spread over ``span`` from ``start``."""
    rng = _rng(seed, _TRAINING)
    features = _features(rng, n, 0.0)
    _, _, label = _scored(rng, features)
    columns = {**features, "label": label, "timestamp": _timestamps(rng, n, start, start + span)}
    return pa.table({name: columns[name] for name in TRAINING_SCHEMA.names}, schema=TRAINING_SCHEMA)


def baseline_frame(seed: int, n: int, start: datetime, *, span: timedelta = timedelta(days=1),
                   model_id: str = DEFAULT_MODEL_ID) -> pa.Table:
    """The reference period: scored rows without drift, timestamps in [start, start + span)."""
    return _inference(_rng(seed, _BASELINE), n, start, start + span, drift=0.0, model_id=model_id)


def window_frame(seed: int, index: int, start: datetime, end: datetime, n: int, drift: float,
                 *, model_id: str = DEFAULT_MODEL_ID) -> pa.Table:
    """Scored traffic of window ``index`` in [start, end) with the given drift level."""
    return _inference(_rng(seed, _WINDOW, index), n, start, end, drift=drift, model_id=model_id)


@dataclass(frozen=True)
class DemoScenario:
    """The demo's timeline: hourly windows, drift switched on for a stretch, then recovery."""

    start: datetime = datetime(2025, 3, 3, tzinfo=UTC)
    windows: int = 14
    window_length: timedelta = timedelta(hours=1)
    rows_per_window: int = 2_000
    drift_from: int = 5  # first drifted window
    drift_until: int = 10  # first recovered window
    drift_level: float = 1.0
    baseline_rows: int = 5_000
    training_rows: int = 5_000
    baseline_span: timedelta = timedelta(days=1)
    seed: int = 7
    model_id: str = DEFAULT_MODEL_ID
    granularity: str = "1 hour"

    def drift_at(self, index: int) -> float:
        return self.drift_level if self.drift_from <= index < self.drift_until else 0.0

    def window(self, index: int) -> tuple[datetime, datetime]:
        start = self.start + index * self.window_length
        return start, start + self.window_length

    @property
    def baseline_start(self) -> datetime:
        return self.start - self.baseline_span

    def baseline(self) -> pa.Table:
        return baseline_frame(self.seed, self.baseline_rows, self.baseline_start, span=self.baseline_span,
                              model_id=self.model_id)

    def frame(self, index: int) -> pa.Table:
        start, end = self.window(index)
        return window_frame(self.seed, index, start, end, self.rows_per_window, self.drift_at(index),
                            model_id=self.model_id)
