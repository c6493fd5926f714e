"""Unity Catalog aliases through the real databricks-sdk, versions normalised to text."""

from __future__ import annotations

import pytest

from retrain.databricks import UnityCatalogRegistry, WorkspaceError
from retrain.registry import MlflowRegistry

pytestmark = pytest.mark.integration

MODEL = "main.ml.churn"


@pytest.fixture
def registry(workspace, emulator, tmp_path) -> UnityCatalogRegistry:  # type: ignore[no-untyped-def]
    emulator.registry.add_version(MODEL)
    emulator.registry.add_version(MODEL)
    return UnityCatalogRegistry(workspace, MlflowRegistry(f"sqlite:///{tmp_path}/unused.db"))


def test_set_get_and_delete_an_alias_with_text_versions(registry: UnityCatalogRegistry, emulator) -> None:  # type: ignore[no-untyped-def]
    assert registry.get_alias(MODEL, "champion") is None
    registry.set_alias(MODEL, "champion", "2")
    assert registry.get_alias(MODEL, "champion") == "2"
    (put,) = emulator.router.requests("PUT", "/aliases/champion")
    assert put.body == {"version_num": 2}  # the SDK's integer on the wire
    registry.delete_alias(MODEL, "champion")
    assert registry.get_alias(MODEL, "champion") is None
    registry.delete_alias(MODEL, "champion")  # deleting what is not there is fine


def test_an_unknown_model_has_no_alias_and_a_missing_version_is_an_error(registry: UnityCatalogRegistry) -> None:
    assert registry.get_alias("main.ml.nope", "champion") is None
    with pytest.raises(WorkspaceError, match=r"version 7 .*does not exist"):
        registry.set_alias(MODEL, "champion", "7")
