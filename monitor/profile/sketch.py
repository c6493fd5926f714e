"""A mergeable histogram of float values on a fixed logarithmic grid (relative width at most 2**-7).

A value's bucket key is its IEEE-754 bit pattern, made order-preserving and shifted right so that
``MANTISSA_BITS`` bits of the mantissa remain: every binade [2**e, 2**(e+1)) holds 128 buckets and a
bucket is at most 0.78 % of its values wide. The grid is the same for every column, table and window,
so histograms of the baseline, of a window and of the previous window line up without a first pass
over the data, counts merge by adding, and every coarser bin whose edges are bucket bounds (reference
deciles, see :func:`decile_cuts`) gets exact counts by summing buckets.

Only finite values go in; the caller counts NaN, infinities and nulls. ``-0.0`` and ``0.0`` share the
bucket of zero. A batch costs about three vectorised passes (bit view, shift, ``bincount``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

MANTISSA_BITS = 7
_SHIFT = 52 - MANTISSA_BITS
_LOW_BITS = np.int64(0x7FFFFFFFFFFFFFFF)

Ints = npt.NDArray[np.int64]
Floats = npt.NDArray[np.float64]


def bucket_keys(values: Floats) -> Ints:
    """Order-preserving bucket keys of finite ``values`` (a larger value never gets a smaller key)."""
    bits = (values + 0.0).view(np.int64)  # + 0.0 turns -0.0 into 0.0
    ordered = bits ^ ((bits >> 63) & _LOW_BITS)
    return ordered >> _SHIFT


def key_lower_bounds(keys: Ints) -> Floats:
    """The smallest value of each bucket (the inverse of :func:`bucket_keys` at the bucket's start)."""
    ordered = keys << _SHIFT
    bits = ordered ^ ((ordered >> 63) & _LOW_BITS)
    lower: Floats = bits.view(np.float64).copy()
    return lower


def key_bounds(keys: Ints) -> tuple[Floats, Floats]:
    """(lower, upper) value bounds of each bucket; consecutive keys share a bound."""
    return key_lower_bounds(keys), key_lower_bounds(keys + 1)


@dataclass(frozen=True)
class Histogram:
    """Sorted unique bucket keys and their positive counts."""

    keys: Ints
    counts: Ints

    @staticmethod
    def empty() -> Histogram:
        return Histogram(np.zeros(0, np.int64), np.zeros(0, np.int64))

    @staticmethod
    def of(values: Floats) -> Histogram:
        """The histogram of finite ``values``."""
        if values.size == 0:
            return Histogram.empty()
        keys = bucket_keys(values)
        lo, hi = int(keys.min()), int(keys.max())
        if hi - lo < _dense_span(values.size):
            dense = np.bincount(keys - lo)
            present = np.flatnonzero(dense)
            return Histogram(present.astype(np.int64) + lo, dense[present].astype(np.int64))
        if lo < 0 <= hi:
            return _folded(keys)
        # one sign, keys far apart (tiny and huge magnitudes): count the sorted keys
        found, counts = np.unique(keys, return_counts=True)
        return Histogram(found.astype(np.int64), counts.astype(np.int64))

    @property
    def total(self) -> int:
        return int(self.counts.sum())

    def merge(self, other: Histogram) -> Histogram:
        if self.keys.size == 0:
            return other
        if other.keys.size == 0:
            return self
        keys, inverse = np.unique(np.concatenate([self.keys, other.keys]), return_inverse=True)
        counts = np.bincount(inverse, weights=np.concatenate([self.counts, other.counts]).astype(np.float64))
        return Histogram(keys.astype(np.int64), np.rint(counts).astype(np.int64))

    def quantiles(self, probs: Floats, lo: float, hi: float) -> Floats:
        """Quantiles at ``probs``, linear inside a bucket, clamped to the observed [lo, hi]."""
        if self.keys.size == 0:
            return np.full(len(probs), np.nan)
        lower, upper = key_bounds(self.keys)
        cum = np.cumsum(self.counts, dtype=np.float64)
        total = cum[-1]
        target = np.asarray(probs, dtype=np.float64) * total
        index = np.minimum(np.searchsorted(cum, target, side="left"), cum.size - 1)
        before = np.where(index > 0, cum[np.maximum(index - 1, 0)], 0.0)
        inside = np.clip((target - before) / self.counts[index], 0.0, 1.0)
        values: Floats = np.clip(lower[index] + inside * (upper[index] - lower[index]), lo, hi)
        return values


def _dense_span(size: int) -> int:
    """Widest key range counted with one dense ``bincount`` (its cost grows with the range; beyond it
    a batch's keys are sorted instead)."""
    return max(1 << 12, 4 * size)


def _folded(keys: Ints) -> Histogram:
    """Keys of both signs: negative keys are ``-1 - k`` for the magnitude's key ``k``, so the keys of
    values around zero are far apart (every binade down to the smallest magnitude lies between them).
    Folding each key to ``2 k + sign`` puts both signs in the range of the magnitudes' keys."""
    sign = keys >> 63  # -1 for negative keys, 0 otherwise
    folded = keys ^ sign  # the magnitude's key
    folded <<= 1
    folded -= sign
    lo, hi = int(folded.min()), int(folded.max())
    if hi - lo >= _dense_span(keys.size):  # tiny and huge magnitudes: count the sorted keys
        found, counts = np.unique(keys, return_counts=True)
        return Histogram(found.astype(np.int64), counts.astype(np.int64))
    dense = np.bincount(folded - lo)
    present = np.flatnonzero(dense).astype(np.int64) + lo
    unfolded = (present >> 1) ^ -(present & 1)
    order = np.argsort(unfolded)
    return Histogram(unfolded[order], dense[present[order] - lo].astype(np.int64))


def aligned(a: Histogram, b: Histogram) -> tuple[Ints, Floats, Floats]:
    """The union of both histograms' keys and each side's counts over it (zeros where absent)."""
    keys = np.union1d(a.keys, b.keys).astype(np.int64)
    p = np.zeros(keys.size)
    q = np.zeros(keys.size)
    p[np.searchsorted(keys, a.keys)] = a.counts
    q[np.searchsorted(keys, b.keys)] = b.counts
    return keys, p, q


def decile_cuts(reference: Histogram, bins: int = 10) -> Ints:
    """Bucket keys after which each reference-quantile bin ends: a bin holds buckets (cut[i-1], cut[i]].

    The bins are the reference's ``bins``-quantiles snapped to bucket bounds, without repeats (a
    constant column has one bin). The last bin is open: it holds every key above the last cut.
    """
    if reference.keys.size == 0:
        return np.zeros(0, np.int64)
    cum = np.cumsum(reference.counts, dtype=np.float64)
    targets = cum[-1] * np.arange(1, bins) / bins
    index = np.searchsorted(cum, targets, side="left")
    cuts = np.unique(reference.keys[np.minimum(index, reference.keys.size - 1)])
    kept: Ints = cuts[cuts < reference.keys[-1]].astype(np.int64)
    return kept


def binned(hist: Histogram, cuts: Ints) -> Floats:
    """Counts of ``hist`` in the bins ending at ``cuts`` (plus the open last bin)."""
    index = np.searchsorted(cuts, hist.keys, side="left")
    counts = np.bincount(index, weights=hist.counts.astype(np.float64), minlength=cuts.size + 1)
    return counts.astype(np.float64)

