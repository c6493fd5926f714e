"""Drift statistics as pure functions over small numpy arrays of counts or quantiles.

Conventions (see docs/external/statistics.md):
- ``ref`` is the reference (baseline or previous window), ``cur`` the current window, both counts over
  the same bins or categories.
- PSI: empty bins get a proportion of ``PSI_EPSILON`` (1e-4, no renormalisation) so that the log
  stays finite; bins are the reference deciles.
- Jensen-Shannon is the *distance* (square root of the divergence) with base-2 logs, in [0, 1].
- KS from binned CDFs is exact at the bin edges; the result carries the error bound (largest bin mass).
  On the sketch grid (``ks_from_histograms``) the bins are the fine buckets, so the bound is small.
- Wasserstein-1 from histograms integrates |F_ref - F_cur| with each bucket's mass spread evenly over
  the bucket; "normed" divides by the reference standard deviation (None when it is 0 or unknown).
- Chi-square is the homogeneity test on the 2 x K table (scipy's ``chi2_contingency``, Yates
  correction when K = 2). Categories unseen in the reference stay in the test (their expected counts
  are positive, so the statistic is finite) and are counted in ``unseen_categories`` as a finding of
  their own. Categories absent from both sides are dropped.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from scipy import stats as scipy_stats

from monitor.profile.sketch import Histogram, aligned, key_bounds
from monitor.profile.smirnov import kstwo_sf

Counts = npt.ArrayLike
PSI_EPSILON = 1e-4


@dataclass(frozen=True)
class TestResult:
    statistic: float
    pvalue: float


@dataclass(frozen=True)
class KSResult(TestResult):
    error_bound: float  # the binned statistic is within this of the exact one


@dataclass(frozen=True)
class ChiSquareResult(TestResult):
    dof: int
    unseen_categories: int  # categories with zero reference count and a positive current count


def _pair(ref: Counts, cur: Counts) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    p = np.asarray(ref, dtype=np.float64)
    q = np.asarray(cur, dtype=np.float64)
    if p.shape != q.shape or p.ndim != 1:
        raise ValueError(f"count arrays must be 1-D and of equal length, got {p.shape} and {q.shape}")
    if (p < 0).any() or (q < 0).any():
        raise ValueError("counts must be non-negative")
    return p, q


def proportions(counts: Counts) -> npt.NDArray[np.float64]:
    values = np.asarray(counts, dtype=np.float64)
    total = values.sum()
    if total <= 0:
        raise ValueError("cannot take proportions of an empty distribution")
    result: npt.NDArray[np.float64] = values / total
    return result


def psi(ref: Counts, cur: Counts, epsilon: float = PSI_EPSILON) -> float:
    """Population stability index: sum (q - p) ln(q / p), empty bins set to ``epsilon``."""
    p, q = (np.maximum(proportions(a), epsilon) for a in _pair(ref, cur))
    return float(np.sum((q - p) * np.log(q / p)))


def js_distance(ref: Counts, cur: Counts) -> float:
    """Jensen-Shannon distance with base-2 logs; equals scipy's ``jensenshannon(p, q, base=2)``."""
    p, q = (proportions(a) for a in _pair(ref, cur))
    m = (p + q) / 2.0

    def kl(a: npt.NDArray[np.float64]) -> float:
        mask = a > 0
        return float(np.sum(a[mask] * np.log2(a[mask] / m[mask])))

    return float(np.sqrt(min(max((kl(p) + kl(q)) / 2.0, 0.0), 1.0)))  # rounding must not leave [0, 1]


def ks_pvalue(statistic: float, n_ref: int, n_cur: int) -> float:
    """Two-sided p-value of the two-sample KS statistic (Smirnov's distribution, as ks_2samp 'asymp';
    ``kstwo.sf`` without its cost on large samples, see ``monitor.profile.smirnov``)."""
    big, small = sorted((float(n_ref), float(n_cur)), reverse=True)
    effective = np.round(big * small / (big + small))
    return float(np.clip(kstwo_sf(statistic, int(effective)), 0.0, 1.0))


def ks_from_bins(ref: Counts, cur: Counts) -> KSResult:
    """KS statistic from counts over the same ordered bins, with its p-value and error bound."""
    p_counts, q_counts = _pair(ref, cur)
    p, q = proportions(p_counts), proportions(q_counts)
    statistic = min(float(np.max(np.abs(np.cumsum(p) - np.cumsum(q)))), 1.0)  # cumulative sums can round past 1
    pvalue = ks_pvalue(statistic, int(p_counts.sum()), int(q_counts.sum()))
    return KSResult(statistic=statistic, pvalue=pvalue, error_bound=float(max(p.max(), q.max())))


def ks_from_histograms(ref: Histogram, cur: Histogram) -> KSResult:
    """KS over the common bucket grid of two sketches; exact at bucket bounds, within ``error_bound``."""
    _, p, q = aligned(ref, cur)
    return ks_from_bins(p, q)


def wasserstein_from_histograms(ref: Histogram, cur: Histogram) -> float:
    """Wasserstein-1 between two sketches: the integral of |F_ref - F_cur| over the value axis.

    Inside a bucket both CDFs rise linearly, so the absolute difference is integrated exactly for
    that model; between buckets (where neither side has mass) the CDFs are flat.
    """
    keys, p_counts, q_counts = aligned(ref, cur)
    if keys.size == 0 or p_counts.sum() <= 0 or q_counts.sum() <= 0:
        raise ValueError("Wasserstein needs values on both sides")
    lower, upper = key_bounds(keys)
    d_end = np.cumsum(p_counts / p_counts.sum()) - np.cumsum(q_counts / q_counts.sum())
    d_start = np.concatenate([[0.0], d_end[:-1]])
    width = upper - lower
    a, b = np.abs(d_start), np.abs(d_end)
    same_sign = d_start * d_end >= 0
    crossing = np.divide(d_start**2 + d_end**2, 2.0 * (a + b), out=np.zeros_like(a), where=(a + b) > 0)
    inside = width * np.where(same_sign, (a + b) / 2.0, crossing)
    gaps = np.maximum(lower[1:] - upper[:-1], 0.0) * np.abs(d_end[:-1])
    return float(inside.sum() + gaps.sum())


def normed(distance: float, reference_stddev: float | None) -> float | None:
    """``distance`` in units of the reference standard deviation; None when that is 0 or unknown."""
    if reference_stddev is None or not reference_stddev > 0 or not np.isfinite(reference_stddev):
        return None
    return distance / reference_stddev


def wasserstein_from_quantiles(ref_quantiles: Sequence[float], cur_quantiles: Sequence[float]) -> float:
    """Wasserstein-1 approximated as the mean absolute difference of matched quantiles."""
    a = np.asarray(ref_quantiles, dtype=np.float64)
    b = np.asarray(cur_quantiles, dtype=np.float64)
    if a.shape != b.shape or a.size == 0:
        raise ValueError("quantile arrays must be non-empty and of equal length")
    return float(np.mean(np.abs(a - b)))


def chi_square(ref: Counts, cur: Counts) -> ChiSquareResult:
    """Chi-square test of homogeneity on the 2 x K contingency table of reference and current counts."""
    p, q = _pair(ref, cur)
    keep = (p + q) > 0
    p, q = p[keep], q[keep]
    if p.sum() <= 0 or q.sum() <= 0:
        raise ValueError("chi-square needs counts on both sides")
    unseen = int(np.count_nonzero((p == 0) & (q > 0)))
    if p.size < 2:
        return ChiSquareResult(statistic=0.0, pvalue=1.0, dof=0, unseen_categories=unseen)
    result = scipy_stats.chi2_contingency(np.vstack([p, q]))
    return ChiSquareResult(statistic=float(result.statistic), pvalue=float(result.pvalue),
                           dof=int(result.dof), unseen_categories=unseen)


def tv_distance(ref: Counts, cur: Counts) -> float:
    """Total variation distance: half the L1 distance between the proportions."""
    p, q = (proportions(a) for a in _pair(ref, cur))
    return min(float(0.5 * np.sum(np.abs(p - q))), 1.0)  # disjoint supports can round past 1


def l_infinity_distance(ref: Counts, cur: Counts) -> float:
    p, q = (proportions(a) for a in _pair(ref, cur))
    return float(np.max(np.abs(p - q)))


def hellinger_distance(ref: Counts, cur: Counts) -> float:
    """sqrt(1 - sum sqrt(p q)), computed as ||sqrt(p) - sqrt(q)|| / sqrt(2) (the same value, no cancellation)."""
    p, q = (proportions(a) for a in _pair(ref, cur))
    return float(np.sqrt(0.5 * np.sum((np.sqrt(p) - np.sqrt(q)) ** 2)))


def align_categories(ref: Mapping[str, int], cur: Mapping[str, int]
                     ) -> tuple[list[str], npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    """Counts of both sides over the sorted union of their categories."""
    keys = sorted(set(ref) | set(cur))
    return (keys, np.array([ref.get(k, 0) for k in keys], dtype=np.float64),
            np.array([cur.get(k, 0) for k in keys], dtype=np.float64))


def bin_edges(quantiles: Sequence[float]) -> list[float]:
    """Interior bin edges from reference quantiles: sorted, unique, NaN dropped."""
    values = np.asarray(quantiles, dtype=np.float64)
    return [float(v) for v in np.unique(values[~np.isnan(values)])]


def bin_counts(values: npt.ArrayLike, edges: npt.ArrayLike) -> npt.NDArray[np.int64]:
    """Counts of ``values`` in the bins (-inf, e1], (e1, e2], ..., (ek, inf); same rule as the SQL."""
    data = np.asarray(values, dtype=np.float64)
    data = data[~np.isnan(data)]
    bounds = np.asarray(edges, dtype=np.float64)
    index = np.searchsorted(bounds, data, side="left")
    return np.bincount(index, minlength=bounds.size + 1).astype(np.int64)
