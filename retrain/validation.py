"""The validation gate: the challenger's holdout metric against the champion's on the same holdout."""

from __future__ import annotations

import enum
import math
from collections.abc import Mapping
from dataclasses import dataclass

from config.lifecycle import ValidateStep


class Outcome(enum.Enum):
    PASSED = "passed"
    REJECTED = "rejected"  # the challenger is not better enough
    INVALID = "invalid"  # the metrics needed to judge are missing: the run fails


@dataclass(frozen=True)
class Verdict:
    outcome: Outcome
    message: str


def _metric(metrics: Mapping[str, float], name: str) -> float | None:
    value = metrics.get(name)
    return value if value is not None and math.isfinite(value) else None


def judge(
    metrics: Mapping[str, float], settings: ValidateStep, version: str, champion: str | None
) -> Verdict:
    """Judge ``version`` from the metrics on its run; ``champion`` is the champion's version, if any.

    Passes when ``challenger - champion >= min_improvement`` (``champion - challenger`` when lower is
    better). With no champion the challenger passes on its own, as long as its metric exists.
    """
    name = f"holdout_{settings.metric}"
    challenger_value = _metric(metrics, name)
    if challenger_value is None:
        return Verdict(Outcome.INVALID, f"version {version} has no finite {name} metric on its MLflow run")
    if champion is None:
        return Verdict(
            Outcome.PASSED, f"no champion yet; {name} of version {version} is {challenger_value:.4f}"
        )
    champion_name = f"champion_{name}"
    champion_value = _metric(metrics, champion_name)
    if champion_value is None:
        return Verdict(
            Outcome.INVALID,
            f"version {version} has no finite {champion_name} metric although version {champion} "
            "is champion: the job must score the champion on the same holdout",
        )
    gain = challenger_value - champion_value
    if not settings.greater_is_better:
        gain = -gain
    comparison = (
        f"{name} {challenger_value:.4f} (version {version}) vs {champion_value:.4f} "
        f"(champion version {champion}), improvement {gain:+.4f}, required {settings.min_improvement:.4f}"
    )
    if gain >= settings.min_improvement:
        return Verdict(Outcome.PASSED, f"challenger is better: {comparison}")
    return Verdict(Outcome.REJECTED, f"challenger is not better enough: {comparison}")
