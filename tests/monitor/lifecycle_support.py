"""Builders for the monitor side of the lifecycle: settings, a migrated state database, recorded windows.

Windows are judged by the real judge and stored by the real ``AssessmentStore`` on a SQLite state
database migrated with every package's migrations (``monitor.app.package_migrations``).
"""

from __future__ import annotations

import atexit
import copy
import functools
import shutil
import tempfile
from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any

from config.models import ModelSettings
from monitor.app import package_migrations
from monitor.assessments import AssessmentStore
from monitor.observations import ColumnDrift, ColumnProfile
from monitor.risk import Assessment, judge
from monitor.state import StateStore, open_store
from tests.monitor.judge_support import T0, drift, table, window

LIFECYCLE: dict[str, Any] = {
    "enabled": True,
    "registered_model": "churn",
    "retrain": {"module": "monitor.demo.train"},
}
QUIET = drift("prediction", js_distance=0.01)       # ok
LOW = drift("prediction", js_distance=0.12)         # low
MEDIUM = drift("prediction", js_distance=0.15)      # medium
HIGH = drift("prediction", js_distance=0.25)        # high (risk 75)
CRITICAL = drift("prediction", js_distance=0.6)     # critical (risk 100)
F1 = "f1_score.macro"


def merged(base: Mapping[str, Any], changes: Mapping[str, Any]) -> dict[str, Any]:
    out = copy.deepcopy(dict(base))
    for key, value in changes.items():
        if isinstance(value, Mapping) and isinstance(out.get(key), Mapping):
            out[key] = merged(out[key], value)
        else:
            out[key] = value
    return out


def model_settings(lifecycle: Mapping[str, Any] | None = None, **fields: Any) -> ModelSettings:
    """Model ``churn`` on ``main.ml.t`` with its lifecycle enabled (``lifecycle`` merged in)."""
    return ModelSettings.model_validate({
        "name": "churn", "sources": {"lakehouse": {"table": "main.ml.t", "label_column": "label"}},
        "lifecycle": merged(LIFECYCLE, lifecycle or {}), **fields})


@functools.cache
def _mlflow_template() -> Path:
    """An MLflow database with its tables made once per test process (seconds per database)."""
    from mlflow import MlflowClient

    path = Path(tempfile.mkdtemp(prefix="lifecycle-mlflow-")) / "mlflow.db"
    atexit.register(shutil.rmtree, path.parent, True)
    client = MlflowClient(tracking_uri=f"sqlite:///{path}", registry_uri=f"sqlite:///{path}")
    client.search_experiments()
    client.search_registered_models()
    return path


def mlflow_db(tmp_path: Path) -> str:
    """A fresh MLflow database (tracking and registry) under ``tmp_path``, as a SQLAlchemy URI."""
    shutil.copyfile(_mlflow_template(), tmp_path / "mlflow.db")
    return f"sqlite:///{tmp_path}/mlflow.db"


def state(tmp_path: Path) -> StateStore:
    return open_store(f"sqlite:///{tmp_path}/state.db", package_migrations())  # type: ignore[arg-type]


def quality(f1: float | None, baseline: float = 0.9) -> tuple[ColumnProfile, ...]:
    """A ``:table`` profile row with macro F1 (None: no labelled rows), and its baseline row."""
    return (table(**{F1: f1, "accuracy_score": f1}),
            table(log_type="BASELINE", **{F1: baseline, "accuracy_score": baseline}))


def record(store: AssessmentStore, model: ModelSettings, index: int, *rows: ColumnDrift | ColumnProfile,
           source: str = "lakehouse", version: str | None = None) -> Assessment:
    """Window ``index`` (hours after T0) judged and stored; the assessment as the store returned it."""
    drifts = [r for r in rows if isinstance(r, ColumnDrift)]
    profiles = [r for r in rows if isinstance(r, ColumnProfile) and r.log_type != "BASELINE"]
    baseline = tuple(r for r in rows if isinstance(r, ColumnProfile) and r.log_type == "BASELINE")
    w = window(*drifts, *profiles, baseline=baseline, index=index, source=source)
    w = replace(w, version=version or w.version)
    history = store.prior(model.name, w.stream, w.window_start, 10)
    done = store.record(judge(model, w, history), model.risk)
    assert done is not None, f"window {index} was stored already"
    return done.assessment


__all__ = ["T0", "mlflow_db", "model_settings", "quality", "record", "state"]
