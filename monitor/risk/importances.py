"""Feature weights for feature drift: from config, else from the model's logged feature importances in MLflow.

The importances of the model version behind ``registered_model@alias`` are read from its run: the
metrics ``feature_importance.<feature>`` (or ``feature_importance_<feature>``), else a
``feature_importances.json`` artifact ``{feature: importance}``. Each weight is the feature's
absolute importance over the largest one, never below ``min_weight``; configured ``weights`` win.
Reads are cached for ``refresh``; a registry that cannot answer gives no weights (every feature
counts fully) and says so once in the logs, never failing a poll.
"""

from __future__ import annotations

import json
import tempfile
from collections.abc import Mapping
from datetime import datetime
from pathlib import Path
from typing import Any

import structlog

from config.basics.clock import Clock
from config.models import ModelSettings
from retrain import MlflowRegistry

log = structlog.get_logger(__name__)
METRIC_PREFIXES = ("feature_importance.", "feature_importance_")
ARTIFACT = "feature_importances.json"


def normalise(importances: Mapping[str, float], min_weight: float) -> dict[str, float]:
    """Importance over the largest absolute importance, floored at ``min_weight``."""
    top = max((abs(v) for v in importances.values()), default=0.0)
    if top <= 0:
        return {}
    return {name: max(min_weight, abs(value) / top) for name, value in importances.items()}


class FeatureWeightsProvider:
    def __init__(self, registry: MlflowRegistry | None, clock: Clock) -> None:
        self._registry = registry
        self._clock = clock
        self._cache: dict[str, tuple[datetime, dict[str, float]]] = {}

    def weights(self, model: ModelSettings) -> dict[str, float]:
        cfg = model.signals.feature_weights
        found: dict[str, float] = {}
        name = cfg.registered_model or model.lifecycle.registered_model
        if cfg.from_mlflow and name and self._registry is not None:
            now, key = self._clock(), f"{name}@{cfg.alias}"
            cached = self._cache.get(key)
            if cached is None or now - cached[0] >= cfg.refresh:
                cached = (now, normalise(self._importances(name, cfg.alias), cfg.min_weight))
                self._cache[key] = cached
            found = dict(cached[1])
        found.update(cfg.weights)
        return found

    def _importances(self, name: str, alias: str) -> dict[str, float]:
        registry = self._registry
        if registry is None:
            return {}
        try:
            version = registry.get_alias(name, alias)
            if version is None:
                return {}
            metrics = registry.version_metrics(name, version)
            found = {key[len(prefix):]: value for key, value in metrics.items()
                     for prefix in METRIC_PREFIXES if key.startswith(prefix)}
            return found or self._artifact(registry, name, version)
        except Exception as exc:  # the registry is optional here: any failure means "no weights"
            log.info("feature_importances_unavailable", model=name, alias=alias, error=str(exc)[:300])
            return {}

    @staticmethod
    def _artifact(registry: MlflowRegistry, name: str, version: str) -> dict[str, float]:
        run_id = registry.client.get_model_version(name, version).run_id
        if not run_id:
            return {}
        with tempfile.TemporaryDirectory() as tmp:
            try:
                path = registry.client.download_artifacts(run_id, ARTIFACT, tmp)
            except Exception:  # no such artifact: this model logged no importances
                return {}
            data: Any = json.loads(Path(path).read_text(encoding="utf-8"))
        if not isinstance(data, dict):
            return {}
        return {str(k): float(v) for k, v in data.items() if isinstance(v, (int, float))}
