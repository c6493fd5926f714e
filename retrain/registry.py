"""The model registry as the lifecycle sees it: versions found by tag, their metrics, and aliases.

Versions are strings everywhere here (the UC client gives strings, a local SQLite registry ints).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from mlflow import MlflowClient


@dataclass(frozen=True)
class VersionInfo:
    """What the validation gate reads of a version besides metrics."""

    description: str = ""
    tags: dict[str, str] = field(default_factory=dict)


class ModelRegistry(Protocol):
    """What the lifecycle needs from MLflow's registry."""

    def find_version_by_tag(self, model: str, key: str, value: str) -> str | None:
        """The newest version of ``model`` tagged ``key=value``, or None."""
        ...

    def version_metrics(self, model: str, version: str) -> dict[str, float]:
        """The metrics logged on the MLflow run that produced the version (empty without a run)."""
        ...

    def version_info(self, model: str, version: str) -> VersionInfo:
        """The version's description and tags."""
        ...

    def get_alias(self, model: str, alias: str) -> str | None:
        """The version ``alias`` points at, or None (also when the model does not exist yet)."""
        ...

    def set_alias(self, model: str, alias: str, version: str) -> None: ...

    def delete_alias(self, model: str, alias: str) -> None:
        """Remove the alias; an alias that is not set is fine."""
        ...

    def set_version_tag(self, model: str, version: str, key: str, value: str) -> None: ...


def _quoted(value: str) -> str:
    if "'" in value or "`" in value:
        raise ValueError(f"quotes are not allowed in registry search values: {value!r}")
    return f"'{value}'"


class MlflowRegistry:
    """The registry through ``mlflow.MlflowClient``: local SQLite, a tracking server or Unity Catalog."""

    def __init__(self, tracking_uri: str, registry_uri: str | None = None) -> None:
        self.tracking_uri = tracking_uri
        self.registry_uri = registry_uri or tracking_uri
        self._client: MlflowClient | None = None

    @property
    def client(self) -> MlflowClient:
        if self._client is None:
            from mlflow import MlflowClient  # noqa: PLC0415 - mlflow takes ~2 s to import

            self._client = MlflowClient(tracking_uri=self.tracking_uri, registry_uri=self.registry_uri)
        return self._client

    def find_version_by_tag(self, model: str, key: str, value: str) -> str | None:
        from mlflow.exceptions import MlflowException  # noqa: PLC0415 - lazy, see client

        if "`" in key:
            raise ValueError(f"backticks are not allowed in a tag key: {key!r}")
        try:
            found = self.client.search_model_versions(
                f"name = {_quoted(model)} and tags.`{key}` = {_quoted(value)}"
            )
            versions = [str(version.version) for version in found]
        except MlflowException:
            # Unity Catalog searches by name (or run id) only, and its search results carry no tags
            # (reading them raises): read the versions themselves, newest first, until one has the tag.
            for version in sorted(self._all_versions(model), key=int, reverse=True):
                if (self.client.get_model_version(model, version).tags or {}).get(key) == value:
                    return version
            return None
        return max(versions, key=int) if versions else None

    def _all_versions(self, model: str) -> list[str]:
        versions: list[str] = []
        token: str | None = None
        while True:
            page = self.client.search_model_versions(f"name = {_quoted(model)}", page_token=token)
            versions += [str(version.version) for version in page]
            token = page.token
            if not token:
                return versions

    def version_metrics(self, model: str, version: str) -> dict[str, float]:
        model_version = self.client.get_model_version(model, version)
        if not model_version.run_id:
            return {}
        run = self.client.get_run(model_version.run_id)
        return {str(key): float(value) for key, value in run.data.metrics.items()}

    def version_info(self, model: str, version: str) -> VersionInfo:
        found = self.client.get_model_version(model, version)
        return VersionInfo(str(found.description or ""), {str(k): str(v) for k, v in (found.tags or {}).items()})

    def get_alias(self, model: str, alias: str) -> str | None:
        from mlflow.exceptions import MlflowException  # noqa: PLC0415 - lazy, see client

        try:
            registered = self.client.get_registered_model(model)
        except MlflowException as exc:
            if exc.error_code == "RESOURCE_DOES_NOT_EXIST":
                return None
            raise
        version = registered.aliases.get(alias)
        return None if version is None else str(version)

    def set_alias(self, model: str, alias: str, version: str) -> None:
        self.client.set_registered_model_alias(model, alias, version)

    def delete_alias(self, model: str, alias: str) -> None:
        if self.get_alias(model, alias) is not None:
            self.client.delete_registered_model_alias(model, alias)

    def set_version_tag(self, model: str, version: str, key: str, value: str) -> None:
        self.client.set_model_version_tag(model, version, key, value)
