"""Classification model quality from confusion counts (scikit-learn's definitions, zero_division=0)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass


@dataclass(frozen=True)
class Averaged:
    macro: float
    weighted: float

    def as_struct(self) -> dict[str, float]:
        return {"macro": self.macro, "weighted": self.weighted}


@dataclass(frozen=True)
class ClassificationQuality:
    accuracy: float
    precision: Averaged
    recall: Averaged
    f1: Averaged


def _ratio(numerator: float, denominator: float) -> float:
    return numerator / denominator if denominator > 0 else 0.0


def classification_quality(confusion: Mapping[tuple[str, str], int]) -> ClassificationQuality | None:
    """Metrics from counts keyed by (prediction, label); None when there are no labelled rows.

    Classes are the union of predicted and true values. Macro averages weigh classes equally,
    weighted averages by their true support, as ``sklearn.metrics.precision_recall_fscore_support``.
    """
    total = sum(confusion.values())
    if total <= 0:
        return None
    classes = sorted({pred for pred, _ in confusion} | {label for _, label in confusion})
    correct = sum(count for (pred, label), count in confusion.items() if pred == label)
    precision: list[float] = []
    recall: list[float] = []
    f1: list[float] = []
    support: list[int] = []
    for cls in classes:
        tp = confusion.get((cls, cls), 0)
        predicted = sum(count for (pred, _), count in confusion.items() if pred == cls)
        actual = sum(count for (_, label), count in confusion.items() if label == cls)
        p, r = _ratio(tp, predicted), _ratio(tp, actual)
        precision.append(p)
        recall.append(r)
        f1.append(_ratio(2 * p * r, p + r))
        support.append(actual)

    def average(values: list[float]) -> Averaged:
        macro = sum(values) / len(values)
        weighted = _ratio(sum(v * s for v, s in zip(values, support, strict=True)), sum(support))
        return Averaged(macro=macro, weighted=weighted)

    return ClassificationQuality(accuracy=correct / total, precision=average(precision),
                                 recall=average(recall), f1=average(f1))
