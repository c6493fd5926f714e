"""Feature weights from config, or from the champion's logged feature importances in MLflow (SQLite)."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import pytest

from config.basics.clock import SimulatedClock
from monitor.risk.importances import FeatureWeightsProvider, normalise
from retrain import MlflowRegistry
from tests.monitor.judge_support import T0, model

pytestmark = pytest.mark.integration


def version(registry: MlflowRegistry, metrics: dict[str, float], artifact: dict[str, float] | None = None) -> str:
    client = registry.client
    if not client.search_registered_models("name = 'churn'"):
        client.create_registered_model("churn")
    experiment = client.get_experiment_by_name("weights")
    uri = registry.tracking_uri.removeprefix("sqlite:///")
    experiment_id = (experiment.experiment_id if experiment is not None else
                     client.create_experiment("weights", artifact_location=str(Path(uri).parent / "art")))
    run = client.create_run(experiment_id)
    for key, value in metrics.items():
        client.log_metric(run.info.run_id, key, value)
    if artifact is not None:
        path = Path(uri).parent / "feature_importances.json"
        path.write_text(json.dumps(artifact))
        client.log_artifact(run.info.run_id, str(path))
    client.set_terminated(run.info.run_id)
    done = client.create_model_version("churn", f"{run.info.artifact_uri}/model", run.info.run_id)
    client.set_registered_model_alias("churn", "champion", done.version)
    return str(done.version)


def test_importances_from_run_metrics_then_from_an_artifact_and_config_wins(tmp_path: Path) -> None:
    registry = MlflowRegistry(f"sqlite:///{tmp_path}/mlflow.db")
    clock = SimulatedClock(T0)
    provider = FeatureWeightsProvider(registry, clock)
    # Nothing to read yet: no weights, and a poll never fails for it.
    assert provider.weights(model(feature_weights={"registered_model": "nothing-here"})) == {}
    assert provider.weights(model()) == {}  # no registered model named anywhere: MLflow is not asked
    assert provider.weights(model(feature_weights={"from_mlflow": False, "weights": {"a": 0.5}})) == {"a": 0.5}
    m = model(feature_weights={"registered_model": "churn", "weights": {"age": 1.0}})
    version(registry, {"feature_importance.tenure": 0.5, "feature_importance_contract": 0.05, "accuracy": 0.9})
    assert provider.weights(m) == {"tenure": 1.0, "contract": 0.2, "age": 1.0}  # 0.05/0.5 floored at min_weight
    version(registry, {}, artifact={"tenure": 2.0, "contract": 1.0})
    assert provider.weights(m)["contract"] == 0.2  # cached until `refresh` (1h) has passed
    clock.set(T0 + timedelta(hours=1))
    assert provider.weights(m) == {"tenure": 1.0, "contract": 0.5, "age": 1.0}


def test_normalise() -> None:
    assert normalise({"a": -4.0, "b": 1.0, "c": 0.0}, 0.1) == {"a": 1.0, "b": 0.25, "c": 0.1}
    assert normalise({"a": 0.0}, 0.1) == {}
