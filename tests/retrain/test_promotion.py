"""Promotion against a real MLflow registry: alias order, resume, and an alias moved by someone else."""

from __future__ import annotations

from typing import Any

import pytest
from lw_support import make_version

from config.lifecycle import PromoteStep
from retrain.promotion import promote
from retrain.registry import MlflowRegistry

pytestmark = pytest.mark.integration

ALIASES = PromoteStep()


@pytest.fixture
def registry(mlflow_uri: str) -> MlflowRegistry:
    return MlflowRegistry(mlflow_uri)


def aliases(registry: MlflowRegistry) -> dict[str, str]:
    return {str(k): str(v) for k, v in registry.client.get_registered_model("churn").aliases.items()}


class Recorder:
    """Collects what promote() records, the way the lifecycle stores it."""

    def __init__(self, progress: dict[str, Any] | None = None) -> None:
        self.progress: dict[str, Any] = dict(progress or {})

    def __call__(self, done: dict[str, Any]) -> None:
        self.progress.update(done)


def test_new_version_becomes_champion_and_the_old_one_is_kept(registry: MlflowRegistry) -> None:
    old, new = make_version(registry, "churn"), make_version(registry, "churn")
    registry.set_alias("churn", "champion", old)
    record = Recorder()
    result = promote(
        registry, "churn", new, expected_champion=old, aliases=ALIASES, progress={}, record=record
    )
    assert result.ok, result.message
    assert aliases(registry) == {"champion": new, "previous_champion": old}
    assert record.progress == {
        "previous_before": None,
        "challenger_set": True,
        "previous_set": True,
        "champion_moved": True,
        "challenger_cleared": True,
    }


def test_first_champion_has_no_previous(registry: MlflowRegistry) -> None:
    new = make_version(registry, "churn")
    result = promote(
        registry, "churn", new, expected_champion=None, aliases=ALIASES, progress={}, record=Recorder()
    )
    assert result.ok
    assert aliases(registry) == {"champion": new}


def test_resume_after_the_champion_moved_but_before_it_was_recorded(registry: MlflowRegistry) -> None:
    old, new = make_version(registry, "churn"), make_version(registry, "churn")
    # State left by a crash: every alias moved, only the first two moves recorded.
    registry.set_alias("churn", "champion", new)
    registry.set_alias("churn", "previous_champion", old)
    registry.set_alias("churn", "challenger", new)
    progress = {"previous_before": None, "challenger_set": True, "previous_set": True}
    record = Recorder(progress)
    result = promote(
        registry, "churn", new, expected_champion=old, aliases=ALIASES, progress=progress, record=record
    )
    assert result.ok, result.message
    assert aliases(registry) == {"champion": new, "previous_champion": old}


def test_a_finished_promotion_moves_nothing_again(registry: MlflowRegistry) -> None:
    old, new, later = (make_version(registry, "churn") for _ in range(3))
    done = {"previous_before": None, "challenger_set": True, "previous_set": True, "champion_moved": True}
    done["challenger_cleared"] = True
    registry.set_alias("churn", "champion", later)  # someone promoted another version since
    result = promote(
        registry, "churn", new, expected_champion=old, aliases=ALIASES, progress=done, record=Recorder()
    )
    assert result.ok
    assert aliases(registry) == {"champion": later}


def test_champion_moved_by_someone_else_stops_the_promotion(registry: MlflowRegistry) -> None:
    old, new, theirs = (make_version(registry, "churn") for _ in range(3))
    registry.set_alias("churn", "champion", theirs)
    registry.set_alias("churn", "previous_champion", "1")
    result = promote(
        registry, "churn", new, expected_champion=old, aliases=ALIASES, progress={}, record=Recorder()
    )
    assert not result.ok
    assert f"expected version {old}, found version {theirs}" in result.message
    assert aliases(registry) == {"champion": theirs, "previous_champion": "1"}


class MovesChampionAfterPrevious(MlflowRegistry):
    """A registry where someone moves the champion right after we set previous_champion."""

    def __init__(self, uri: str, theirs: str) -> None:
        super().__init__(uri)
        self.theirs = theirs

    def set_alias(self, model: str, alias: str, version: str) -> None:
        super().set_alias(model, alias, version)
        if alias == "previous_champion":
            super().set_alias(model, "champion", self.theirs)


def test_champion_moved_during_promotion_restores_the_other_aliases(mlflow_uri: str) -> None:
    setup = MlflowRegistry(mlflow_uri)
    old, new, theirs, before = (make_version(setup, "churn") for _ in range(4))
    setup.set_alias("churn", "champion", old)
    setup.set_alias("churn", "previous_champion", before)
    registry = MovesChampionAfterPrevious(mlflow_uri, theirs)
    result = promote(
        registry, "churn", new, expected_champion=old, aliases=ALIASES, progress={}, record=Recorder()
    )
    assert not result.ok
    assert aliases(setup) == {"champion": theirs, "previous_champion": before}
