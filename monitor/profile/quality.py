"""Model quality from sufficient statistics, with scikit-learn's definitions.

Classification from (prediction, label) counts (zero_division=0), ROC AUC from score histograms per
label, regression from error sums.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from monitor.profile.partials import RegressionStats
from monitor.profile.sketch import Histogram, aligned


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


def roc_auc(scores: Mapping[str, Histogram], positive: str | None = None) -> float | None:
    """ROC AUC of a binary classifier from histograms of its score per true label.

    The positive class is ``positive`` or else the larger of the two labels (numerically when both
    are numbers). Scores in the same sketch bucket count as ties (half a win), so the result is within
    half the bucket-level tie mass of sklearn's ``roc_auc_score``; None unless exactly two labels
    have scores.
    """
    labels = [label for label, hist in scores.items() if hist.total > 0]
    if len(labels) != 2:
        return None
    if positive is None or positive not in labels:
        positive = max(labels, key=_label_order)
    negative = next(label for label in labels if label != positive)
    _, pos, neg = aligned(scores[positive], scores[negative])
    below = np.concatenate([[0.0], np.cumsum(neg)[:-1]])
    wins = float(np.sum(pos * (below + 0.5 * neg)))
    return wins / (float(pos.sum()) * float(neg.sum()))


def _label_order(label: str) -> tuple[int, float, str]:
    try:
        return (0, float(label), label)
    except ValueError:
        return (1, 0.0, label)


@dataclass(frozen=True)
class RegressionQuality:
    mean_squared_error: float
    root_mean_squared_error: float
    mean_average_error: float  # mean absolute error, under the name Lakehouse Monitoring uses
    mean_absolute_percentage_error: float | None  # over rows whose label is not 0
    r2_score: float | None  # None when the labels do not vary


def regression_quality(sums: RegressionStats) -> RegressionQuality | None:
    """Regression metrics from sums over rows with a finite prediction and label; None without rows."""
    if sums.n <= 0:
        return None
    mse = sums.sum_sq_error / sums.n
    mape = sums.sum_abs_pct_error / sums.n_pct if sums.n_pct > 0 else None
    r2 = 1.0 - sums.sum_sq_error / sums.label.m2 if sums.label.m2 > 0 else None
    return RegressionQuality(mse, float(np.sqrt(mse)), sums.sum_abs_error / sums.n, mape, r2)
