"""Drift between the statistics of one column in two groups (reference and current).

Rules (also in the README):
- A side with no values (an empty window, an all-null or all-NaN column) gives no distribution
  statistics: every one is None (NULL in the table); deltas of moments are None when either is.
- Numeric columns: JS and PSI over the reference deciles (snapped to the sketch grid, repeats
  dropped: a constant reference has one bin); KS and Wasserstein over the fine sketch grid, KS with
  its error bound; Wasserstein normed by the reference standard deviation (None when it is 0).
- Categorical columns: categories are the union of both sides; one unseen in the reference stays in
  the chi-square test (finite) and is counted in ``unseen_categories``; values folded into "other"
  (more than 10,000 categories) form one extra category.
- Tiny windows are computed like any other: the p-values account for the sample size, and the
  decision to ignore a window with too few rows belongs to the signal rules (minimum sample size).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from monitor.profile import stats
from monitor.profile.partials import CategoricalStats, NumericStats
from monitor.profile.sketch import binned, decile_cuts

OTHER = "\x00other"


@dataclass(frozen=True)
class ColumnComparison:
    """Every statistic lakewarden computes for a column; the tables hold the Lakehouse subset."""

    js_distance: float | None = None
    hellinger: float | None = None
    ks: stats.KSResult | None = None
    wasserstein: float | None = None
    wasserstein_normed: float | None = None
    psi: float | None = None
    chi_square: stats.ChiSquareResult | None = None
    tv_distance: float | None = None
    l_infinity: float | None = None


def numeric_drift(ref: NumericStats, cur: NumericStats) -> ColumnComparison:
    if ref.hist.total <= 0 or cur.hist.total <= 0:
        return ColumnComparison()
    cuts = decile_cuts(ref.hist)
    p, q = binned(ref.hist, cuts), binned(cur.hist, cuts)
    distance = stats.wasserstein_from_histograms(ref.hist, cur.hist)
    return ColumnComparison(js_distance=stats.js_distance(p, q), hellinger=stats.hellinger_distance(p, q),
                            ks=stats.ks_from_histograms(ref.hist, cur.hist), wasserstein=distance,
                            wasserstein_normed=stats.normed(distance, ref.moments.stddev), psi=stats.psi(p, q))


def category_counts(ref: CategoricalStats, cur: CategoricalStats) -> tuple[list[str], np.ndarray, np.ndarray]:
    """Both sides' counts over the sorted union of categories (plus "other" when values were folded)."""
    a, b = dict(ref.counts), dict(cur.counts)
    if ref.other or cur.other:
        a[OTHER], b[OTHER] = ref.other, cur.other
    keys, p, q = stats.align_categories(a, b)
    return keys, p, q


def categorical_drift(ref: CategoricalStats, cur: CategoricalStats) -> ColumnComparison:
    if ref.non_null <= 0 or cur.non_null <= 0:
        return ColumnComparison()
    _, p, q = category_counts(ref, cur)
    return ColumnComparison(js_distance=stats.js_distance(p, q), hellinger=stats.hellinger_distance(p, q),
                            chi_square=stats.chi_square(p, q), tv_distance=stats.tv_distance(p, q),
                            l_infinity=stats.l_infinity_distance(p, q))


def column_drift(ref: NumericStats | CategoricalStats, cur: NumericStats | CategoricalStats) -> ColumnComparison:
    if isinstance(ref, NumericStats) and isinstance(cur, NumericStats):
        return numeric_drift(ref, cur)
    if isinstance(ref, CategoricalStats) and isinstance(cur, CategoricalStats):
        return categorical_drift(ref, cur)
    raise TypeError("reference and current statistics of a column must be of the same kind")
