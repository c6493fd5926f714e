"""The validation gate: the challenger against the champion on the same evaluation data, then the rules.

In order, the first that fails decides: the primary metric (``validate.metric``), each business
metric (``validate.business_metrics``, e.g. expected loss, lower is better), the absolute floors,
then the version's description and required tags. Missing or non-finite metrics make the run
``invalid`` (it fails: the job broke its contract); a gate the challenger does not pass rejects it.
"""

from __future__ import annotations

import enum
import math
from collections.abc import Mapping
from dataclasses import dataclass

from config.lifecycle import MetricGate, ValidateStep
from retrain.registry import VersionInfo


class ValidationOutcome(enum.Enum):
    PASSED = "passed"
    REJECTED = "rejected"  # the challenger is not good enough
    INVALID = "invalid"  # the metrics needed to judge are missing: the run fails


@dataclass(frozen=True)
class Verdict:
    outcome: ValidationOutcome
    message: str


def _metric(metrics: Mapping[str, float], name: str) -> float | None:
    value = metrics.get(name)
    return value if value is not None and math.isfinite(value) else None


def _compare(metrics: Mapping[str, float], gate: MetricGate, version: str, champion: str | None) -> Verdict:
    name = f"holdout_{gate.metric}"
    challenger_value = _metric(metrics, name)
    if challenger_value is None:
        return Verdict(ValidationOutcome.INVALID, f"version {version} has no finite {name} metric on its MLflow run")
    if champion is None:
        return Verdict(ValidationOutcome.PASSED,
                       f"no champion yet; {name} of version {version} is {challenger_value:.4f}")
    champion_name = f"champion_{name}"
    champion_value = _metric(metrics, champion_name)
    if champion_value is None:
        return Verdict(
            ValidationOutcome.INVALID,
            f"version {version} has no finite {champion_name} metric although version {champion} "
            "is champion: the job must score the champion on the same holdout",
        )
    gain = challenger_value - champion_value
    if not gate.greater_is_better:
        gain = -gain
    required = gate.min_improvement - gate.tolerance
    comparison = (
        f"{name} {challenger_value:.4f} (version {version}) vs {champion_value:.4f} "
        f"(champion version {champion}), improvement {gain:+.4f}, required {required:+.4f}"
    )
    if gain >= required - 1e-12:
        return Verdict(ValidationOutcome.PASSED, f"challenger is better or within tolerance: {comparison}")
    return Verdict(ValidationOutcome.REJECTED, f"challenger is not better enough: {comparison}")


def _floors(metrics: Mapping[str, float], settings: ValidateStep, version: str) -> Verdict | None:
    for metric, floor in sorted(settings.floors.items()):
        name = f"holdout_{metric}"
        value = _metric(metrics, name)
        if value is None:
            return Verdict(ValidationOutcome.INVALID, f"version {version} has no finite {name} metric for its floor")
        if floor.min is not None and value < floor.min:
            return Verdict(ValidationOutcome.REJECTED,
                           f"{name} {value:.4f} of version {version} is below its floor {floor.min}")
        if floor.max is not None and value > floor.max:
            return Verdict(ValidationOutcome.REJECTED,
                           f"{name} {value:.4f} of version {version} is above its limit {floor.max}")
    return None


def _metadata(info: VersionInfo, settings: ValidateStep, version: str) -> Verdict | None:
    if settings.require_description and not info.description.strip():
        return Verdict(ValidationOutcome.REJECTED,
                       f"version {version} has no description (validate.require_description)")
    missing = [tag for tag in settings.required_tags if not info.tags.get(tag)]
    if missing:
        return Verdict(ValidationOutcome.REJECTED, f"version {version} lacks required tag(s) {', '.join(missing)}")
    return None


def judge(metrics: Mapping[str, float], settings: ValidateStep, version: str, champion: str | None,
          info: VersionInfo | None = None) -> Verdict:
    """Judge ``version`` from the metrics on its run; ``champion`` is the champion's version, if any."""
    primary = _compare(metrics, settings, version, champion)
    if primary.outcome is not ValidationOutcome.PASSED:
        return primary
    passed = [primary.message]
    for gate in settings.business_metrics:
        verdict = _compare(metrics, gate, version, champion)
        if verdict.outcome is not ValidationOutcome.PASSED:
            return verdict
        passed.append(verdict.message)
    blocked = _floors(metrics, settings, version) or _metadata(info or VersionInfo(), settings, version)
    if blocked is not None:
        return blocked
    return Verdict(ValidationOutcome.PASSED, "; ".join(passed))
