"""Model aliases in Unity Catalog through databricks-sdk, versions always as text.

The SDK speaks integers (``version_num``), the MLflow UC client strings, a local SQLite registry
ints; lakewarden's ``ModelRegistry`` speaks strings, so every version is normalised with ``str()``
here. Finding a version by tag and reading its run's metrics stay with MLflow's Unity Catalog client
(``versions``, an ``MlflowRegistry`` on ``databricks-uc``): databricks-sdk has no model version tags.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from retrain.databricks.client import WorkspaceError, describe_error, is_not_found
from retrain.registry import ModelRegistry, VersionInfo

if TYPE_CHECKING:
    from databricks.sdk import WorkspaceClient


class UnityCatalogRegistry:
    """``ModelRegistry`` whose aliases go through the Unity Catalog API (three-part model names)."""

    def __init__(self, client: WorkspaceClient, versions: ModelRegistry) -> None:
        self._client = client
        self._versions = versions

    @property
    def host(self) -> str:
        return str(self._client.config.host)

    def get_alias(self, model: str, alias: str) -> str | None:
        try:
            version = self._client.model_versions.get_by_alias(model, alias)
        except Exception as exc:
            if is_not_found(exc):
                return None
            raise WorkspaceError(describe_error(exc, f"reading alias {alias} of {model}", self.host)) from exc
        return None if version.version is None else str(version.version)

    def set_alias(self, model: str, alias: str, version: str) -> None:
        try:
            self._client.registered_models.set_alias(model, alias, int(version))
        except Exception as exc:
            raise WorkspaceError(describe_error(exc, f"pointing alias {alias} of {model} at version {version}",
                                                self.host)) from exc

    def delete_alias(self, model: str, alias: str) -> None:
        """Remove the alias; an alias (or model) that is not there is fine."""
        try:
            self._client.registered_models.delete_alias(model, alias)
        except Exception as exc:
            if is_not_found(exc):
                return
            raise WorkspaceError(describe_error(exc, f"deleting alias {alias} of {model}", self.host)) from exc

    def find_version_by_tag(self, model: str, key: str, value: str) -> str | None:
        return self._versions.find_version_by_tag(model, key, value)

    def version_metrics(self, model: str, version: str) -> dict[str, float]:
        return self._versions.version_metrics(model, version)

    def version_info(self, model: str, version: str) -> VersionInfo:
        return self._versions.version_info(model, version)

    def set_version_tag(self, model: str, version: str, key: str, value: str) -> None:
        self._versions.set_version_tag(model, version, key, value)
