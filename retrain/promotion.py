"""Promotion: move the aliases so the validated version becomes champion, once, and safely.

Order: set ``challenger`` on the new version, keep the old champion under ``previous_champion``,
move ``champion`` to the new version (one ``set_alias``, so the model always has a champion), then
remove ``challenger`` (Databricks' MLOps Stacks pattern). Each move is recorded through ``record``
as soon as it is done, so a restart skips what was done; and each move first reads the alias, so a
move made just before a crash (and not yet recorded) is not made again.

If the champion alias points to neither the champion seen when the job started nor the new version,
someone else moved it: the promotion stops, puts ``previous_champion`` back and removes its own
``challenger``, and leaves ``champion`` where that someone put it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from config.lifecycle import PromoteStep
from retrain.registry import ModelRegistry

# In a run's decision when a rollback left the champion alias on the rolled-back version: it pages.
FIRST_ROLLBACK_KEPT = "CHAMPION KEPT ON ROLLED-BACK VERSION"


@dataclass(frozen=True)
class PromotionResult:
    ok: bool
    message: str


def describe_version(value: str | None) -> str:
    """``version 3``, or ``none`` when an alias points nowhere."""
    return "none" if value is None else f"version {value}"


def promote(
    registry: ModelRegistry,
    model: str,
    version: str,
    *,
    expected_champion: str | None,
    aliases: PromoteStep,
    progress: Mapping[str, Any],
    record: Callable[[dict[str, Any]], None],
) -> PromotionResult:
    """Promote ``version`` of ``model``; ``progress`` is what earlier attempts recorded."""
    done = dict(progress)

    def mark(key: str, value: Any = True) -> None:
        done[key] = value
        record({key: value})

    def champion_moved_by_someone() -> str | None:
        current = registry.get_alias(model, aliases.champion_alias)
        return None if current in (expected_champion, version) else current

    def abandon(found: str | None) -> PromotionResult:
        if registry.get_alias(model, aliases.challenger_alias) == version:
            registry.delete_alias(model, aliases.challenger_alias)
        if done.get("previous_set"):
            before = done.get("previous_before")
            if before is None:
                registry.delete_alias(model, aliases.previous_alias)
            else:
                registry.set_alias(model, aliases.previous_alias, str(before))
        return PromotionResult(
            False,
            f"alias {aliases.champion_alias} of {model} was moved by someone else: expected "
            f"{describe_version(expected_champion)}, found {describe_version(found)}; promotion of "
            f"version {version} abandoned and {aliases.champion_alias} left at {describe_version(found)}",
        )

    if not done.get("champion_moved"):
        if (found := champion_moved_by_someone()) is not None:
            return abandon(found)
        if "previous_before" not in done:
            mark("previous_before", registry.get_alias(model, aliases.previous_alias))
        if not done.get("challenger_set"):
            # Each move reads first: a move done just before a crash is not made a second time.
            if registry.get_alias(model, aliases.challenger_alias) != version:
                registry.set_alias(model, aliases.challenger_alias, version)
            mark("challenger_set")
        if expected_champion is not None and not done.get("previous_set"):
            if registry.get_alias(model, aliases.previous_alias) != expected_champion:
                registry.set_alias(model, aliases.previous_alias, expected_champion)
            mark("previous_set")
        current = registry.get_alias(model, aliases.champion_alias)
        if current not in (expected_champion, version):
            return abandon(current)
        if current != version:
            registry.set_alias(model, aliases.champion_alias, version)
        mark("champion_moved")
    if not done.get("challenger_cleared"):
        if registry.get_alias(model, aliases.challenger_alias) == version:
            registry.delete_alias(model, aliases.challenger_alias)
        mark("challenger_cleared")
    kept = (
        f"; version {expected_champion} kept as {aliases.previous_alias}"
        if expected_champion is not None
        else ""
    )
    return PromotionResult(True, f"version {version} is now {aliases.champion_alias} of {model}{kept}")


def revert(
    registry: ModelRegistry,
    model: str,
    version: str,
    *,
    expected_champion: str | None,
    aliases: PromoteStep,
    progress: Mapping[str, Any],
) -> str:
    """Put back what :func:`promote` moved for ``version`` (a rollback); each move reads first. What was done."""
    done = []
    if progress.get("champion_moved") and registry.get_alias(model, aliases.champion_alias) == version:
        if expected_champion is not None:
            registry.set_alias(model, aliases.champion_alias, expected_champion)
            done.append(f"{aliases.champion_alias} back to version {expected_champion}")
        elif aliases.first_rollback == "remove_champion":
            registry.delete_alias(model, aliases.champion_alias)
            done.append(f"{aliases.champion_alias} removed: there was no champion before (promote.first_rollback)")
        else:
            done.append(f"{FIRST_ROLLBACK_KEPT}: {aliases.champion_alias} kept at version {version}, there was no "
                        "champion before (promote.first_rollback: keep_and_page)")
    if progress.get("previous_set"):
        before = progress.get("previous_before")
        current = registry.get_alias(model, aliases.previous_alias)
        if before is None and current is not None:
            registry.delete_alias(model, aliases.previous_alias)
        elif before is not None and current != str(before):
            registry.set_alias(model, aliases.previous_alias, str(before))
    if registry.get_alias(model, aliases.challenger_alias) == version:
        registry.delete_alias(model, aliases.challenger_alias)
    return "; ".join(done) or "no alias had moved"
