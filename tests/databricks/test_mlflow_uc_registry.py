"""MLflow's Unity Catalog registry and Databricks tracking clients against the emulator, with lakewarden's registries.

``MlflowRegistry("databricks", "databricks-uc")`` (the real ``MlflowClient``, credentials from
DATABRICKS_HOST/DATABRICKS_TOKEN as ``monitor.workspace.export_mlflow_credentials`` sets them) finds a
version by its lakewarden tag, reads its run's metrics and tags the version; ``UnityCatalogRegistry``
moves aliases through databricks-sdk, and each client sees what the other did.
"""

from __future__ import annotations

import os

import pytest

from monitor.workspace import export_mlflow_credentials
from retrain.databricks import UnityCatalogRegistry
from retrain.registry import MlflowRegistry
from tests.databricks.dbx_support import TOKEN, settings_for

pytestmark = pytest.mark.integration

MODEL = "main.ml.churn"
_NAMES = ("DATABRICKS_HOST", "DATABRICKS_TOKEN", "DATABRICKS_CLIENT_ID", "DATABRICKS_CLIENT_SECRET",
          "DATABRICKS_CONFIG_PROFILE", "DATABRICKS_AUTH_TYPE", "MLFLOW_TRACKING_URI", "MLFLOW_REGISTRY_URI")


@pytest.fixture
def mlflow_env(emulator, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    """The workspace's credentials in the environment, as the daemon exports them; all gone afterwards."""
    for name in _NAMES:
        monkeypatch.setenv(name, "")  # recorded, so the teardown restores (or removes) each one
        monkeypatch.delenv(name)
    settings = settings_for(emulator.url).model_copy(update={"mlflow_tracking_uri": "databricks",
                                                             "mlflow_registry_uri": "databricks-uc"})
    export_mlflow_credentials(settings)
    assert os.environ["DATABRICKS_HOST"] == emulator.url and os.environ["DATABRICKS_TOKEN"] == TOKEN


@pytest.fixture
def versions(mlflow_env: None) -> MlflowRegistry:
    return MlflowRegistry("databricks", "databricks-uc")


@pytest.fixture
def registry(workspace, versions: MlflowRegistry) -> UnityCatalogRegistry:  # type: ignore[no-untyped-def]
    return UnityCatalogRegistry(workspace, versions)


def seed(emulator) -> tuple[int, int, str]:  # type: ignore[no-untyped-def]
    """v1 from an older run, v2 from the lifecycle run lc-7 (with holdout metrics), v3 untagged."""
    emulator.registry.add_version(MODEL, run_metrics={"f1": 0.80}, tags={"lakewarden.run_id": "lc-6"})
    run_id = emulator.registry.add_run({"f1": 0.91, "roc_auc": 0.95}, params={"alpha": "0.1"})
    v2 = emulator.registry.add_version(MODEL, run_id, tags={"lakewarden.run_id": "lc-7"}, description="retrained")
    v3 = emulator.registry.add_version(MODEL, run_metrics={"f1": 0.5})
    return v2, v3, run_id


def test_a_version_is_found_by_its_lakewarden_tag_and_its_run_metrics_read(registry: UnityCatalogRegistry,
                                                                           emulator) -> None:  # type: ignore[no-untyped-def]
    v2, _, run_id = seed(emulator)
    assert registry.find_version_by_tag(MODEL, "lakewarden.run_id", "lc-7") == str(v2)
    assert registry.find_version_by_tag(MODEL, "lakewarden.run_id", "lc-99") is None
    assert registry.version_metrics(MODEL, str(v2)) == {"f1": 0.91, "roc_auc": 0.95}
    info = registry.version_info(MODEL, str(v2))
    assert info.description == "retrained" and info.tags == {"lakewarden.run_id": "lc-7"}
    # It went through MLflow's UC registry client and its Databricks tracking client, over HTTP.
    (search, *_) = emulator.router.requests("GET", "/api/2.0/mlflow/unity-catalog/model-versions/search$")
    assert search.query["filter"].startswith(f"name = '{MODEL}'")
    (get_run,) = emulator.router.requests("GET", "/api/2.0/mlflow/runs/get$")
    assert get_run.query["run_id"] == run_id
    assert get_run.headers["authorization"] == f"Bearer {TOKEN}"


def test_a_version_tag_set_through_mlflow_is_stored(registry: UnityCatalogRegistry, emulator) -> None:  # type: ignore[no-untyped-def]
    v2, _, _ = seed(emulator)
    registry.set_version_tag(MODEL, str(v2), "lakewarden.validation", "passed")
    assert emulator.registry.version(MODEL, v2)["tags"] == {"lakewarden.run_id": "lc-7",
                                                            "lakewarden.validation": "passed"}
    assert registry.version_info(MODEL, str(v2)).tags["lakewarden.validation"] == "passed"


def test_aliases_moved_by_one_client_are_seen_by_the_other(registry: UnityCatalogRegistry,  # type: ignore[no-untyped-def]
                                                           versions: MlflowRegistry, emulator) -> None:
    v2, v3, _ = seed(emulator)
    registry.set_alias(MODEL, "champion", str(v2))  # databricks-sdk, /api/2.1/unity-catalog
    assert versions.get_alias(MODEL, "champion") == str(v2)  # MLflow's UC client, /api/2.0/mlflow/unity-catalog
    versions.set_alias(MODEL, "challenger", str(v3))
    assert registry.get_alias(MODEL, "challenger") == str(v3)
    assert emulator.registry.aliases(MODEL) == {"champion": v2, "challenger": v3}
    versions.delete_alias(MODEL, "challenger")
    assert registry.get_alias(MODEL, "challenger") is None
    registry.delete_alias(MODEL, "champion")
    assert versions.get_alias(MODEL, "champion") is None


def test_an_unknown_model_has_no_alias_and_no_tagged_version(versions: MlflowRegistry) -> None:
    assert versions.get_alias("main.ml.nope", "champion") is None
    assert versions.find_version_by_tag("main.ml.nope", "lakewarden.run_id", "lc-1") is None


def test_the_emulator_refuses_a_tag_filter_as_unity_catalog_does(versions: MlflowRegistry, emulator) -> None:  # type: ignore[no-untyped-def]
    from mlflow.exceptions import MlflowException

    seed(emulator)
    with pytest.raises(MlflowException, match="Unsupported filter query"):
        versions.client.search_model_versions(f"name = '{MODEL}' and tags.`lakewarden.run_id` = 'lc-7'")
    found = versions.client.search_model_versions("name = 'main.ml.churn'")
    assert [v.version for v in found] == ["3", "2", "1"]
    with pytest.raises(Exception, match="do not have tags"):  # UC search results carry no tags: MLflow says so
        found[0].tags()  # type: ignore[operator]


def test_the_tagged_version_is_found_past_the_first_page(versions: MlflowRegistry, emulator) -> None:  # type: ignore[no-untyped-def]
    emulator.registry.add_version(MODEL, tags={"lakewarden.run_id": "lc-1"})
    for _ in range(100):
        emulator.registry.add_version(MODEL)
    assert versions.find_version_by_tag(MODEL, "lakewarden.run_id", "lc-1") == "1"
    pages = emulator.router.requests("GET", "/model-versions/search$")[1:]  # after the refused tag filter
    assert [r.query.get("page_token") for r in pages] == [None, "100"]
