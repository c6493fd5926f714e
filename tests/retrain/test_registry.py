"""MlflowRegistry against a real MLflow registry on SQLite."""

from __future__ import annotations

import pytest
from lw_support import make_version

from retrain.registry import MlflowRegistry

pytestmark = pytest.mark.integration


@pytest.fixture
def registry(mlflow_uri: str) -> MlflowRegistry:
    return MlflowRegistry(mlflow_uri)


def test_find_version_by_tag(registry: MlflowRegistry) -> None:
    make_version(registry, "churn", tags={"lakewarden.run_id": "a"})
    second = make_version(registry, "churn", tags={"lakewarden.run_id": "b"})
    make_version(registry, "other", tags={"lakewarden.run_id": "b"})
    assert registry.find_version_by_tag("churn", "lakewarden.run_id", "b") == second
    assert registry.find_version_by_tag("churn", "lakewarden.run_id", "c") is None
    assert registry.find_version_by_tag("missing", "lakewarden.run_id", "b") is None


def test_search_values_with_quotes_are_refused(registry: MlflowRegistry) -> None:
    with pytest.raises(ValueError, match="quotes"):
        registry.find_version_by_tag("churn", "lakewarden.run_id", "x' or name = 'y")


def test_version_metrics_come_from_the_versions_run(registry: MlflowRegistry) -> None:
    version = make_version(registry, "churn", {"holdout_roc_auc": 0.8, "champion_holdout_roc_auc": 0.75})
    assert registry.version_metrics("churn", version) == {
        "holdout_roc_auc": 0.8,
        "champion_holdout_roc_auc": 0.75,
    }


def test_aliases_are_strings_and_missing_ones_are_none(registry: MlflowRegistry) -> None:
    assert registry.get_alias("churn", "champion") is None  # no such model yet
    version = make_version(registry, "churn")
    assert registry.get_alias("churn", "champion") is None
    registry.set_alias("churn", "champion", version)
    assert registry.get_alias("churn", "champion") == version == "1"
    registry.delete_alias("churn", "champion")
    registry.delete_alias("churn", "champion")  # absent: fine
    assert registry.get_alias("churn", "champion") is None


def test_version_tags(registry: MlflowRegistry) -> None:
    version = make_version(registry, "churn")
    registry.set_version_tag("churn", version, "lakewarden.validation", "passed")
    assert registry.find_version_by_tag("churn", "lakewarden.validation", "passed") == version
