"""Property tests of every drift statistic: zero on identical inputs, bounds, symmetry, order invariance."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from monitor.profile import stats
from monitor.profile.compare import categorical_drift
from monitor.profile.partials import CategoricalStats

counts = st.lists(st.integers(min_value=0, max_value=5_000), min_size=2, max_size=15)
pairs = st.tuples(counts, counts).map(lambda ab: (ab[0][: min(len(ab[0]), len(ab[1]))],
                                                  ab[1][: min(len(ab[0]), len(ab[1]))]))

SYMMETRIC = {
    "js_distance": stats.js_distance,
    "tv_distance": stats.tv_distance,
    "l_infinity_distance": stats.l_infinity_distance,
    "hellinger_distance": stats.hellinger_distance,
    "psi": stats.psi,
}
BOUNDED = {"js_distance": 1.0, "tv_distance": 1.0, "l_infinity_distance": 1.0, "hellinger_distance": 1.0}


def _arrays(pair: tuple[list[int], list[int]]) -> tuple[np.ndarray, np.ndarray]:
    p, q = np.array(pair[0], float), np.array(pair[1], float)
    assume(p.sum() > 0 and q.sum() > 0)
    return p, q


@pytest.mark.parametrize("name", sorted(SYMMETRIC))
@settings(max_examples=60, deadline=None)
@given(pair=pairs)
def test_zero_on_identical_inputs_and_symmetric(name: str, pair: tuple[list[int], list[int]]) -> None:
    p, q = _arrays(pair)
    statistic = SYMMETRIC[name]
    assert statistic(p, p) == pytest.approx(0.0, abs=1e-7)
    assert statistic(p, 3 * p) == pytest.approx(0.0, abs=1e-7)  # proportions, not counts
    assert statistic(p, q) == pytest.approx(statistic(q, p), rel=1e-9, abs=1e-12)
    assert statistic(p, q) >= 0.0
    if name in BOUNDED:
        assert statistic(p, q) <= BOUNDED[name] + 1e-12


@pytest.mark.parametrize("name", sorted(SYMMETRIC))
@settings(max_examples=40, deadline=None)
@given(pair=pairs, seed=st.integers(0, 2**32 - 1))
def test_invariant_to_the_order_of_bins(name: str, pair: tuple[list[int], list[int]], seed: int) -> None:
    p, q = _arrays(pair)
    order = np.random.default_rng(seed).permutation(p.size)
    assert SYMMETRIC[name](p[order], q[order]) == pytest.approx(SYMMETRIC[name](p, q), rel=1e-9, abs=1e-12)


@settings(max_examples=60, deadline=None)
@given(pair=pairs)
def test_chi_square_is_zero_on_identical_and_its_pvalue_a_probability(pair: tuple[list[int], list[int]]) -> None:
    p, q = _arrays(pair)
    same = stats.chi_square(p, p)
    assert same.statistic == pytest.approx(0.0, abs=1e-9) and same.pvalue == pytest.approx(1.0)
    result = stats.chi_square(p, q)
    assert result.statistic >= 0.0 and 0.0 <= result.pvalue <= 1.0
    assert result.statistic == pytest.approx(stats.chi_square(q, p).statistic, rel=1e-9, abs=1e-9)


@settings(max_examples=60, deadline=None)
@given(pair=pairs)
def test_ks_from_bins_is_a_probability_gap_within_its_bound(pair: tuple[list[int], list[int]]) -> None:
    p, q = _arrays(pair)
    assert stats.ks_from_bins(p, p).statistic == pytest.approx(0.0, abs=1e-12)
    result = stats.ks_from_bins(p, q)
    assert 0.0 <= result.statistic <= 1.0 + 1e-12 and 0.0 <= result.pvalue <= 1.0
    assert 0.0 < result.error_bound <= 1.0
    assert result.statistic == pytest.approx(stats.ks_from_bins(q, p).statistic)


@settings(max_examples=40, deadline=None)
@given(a=st.dictionaries(st.text(min_size=1, max_size=3), st.integers(0, 1000), min_size=1, max_size=8),
       b=st.dictionaries(st.text(min_size=1, max_size=3), st.integers(0, 1000), min_size=1, max_size=8))
def test_categorical_drift_does_not_depend_on_category_order(a: dict[str, int], b: dict[str, int]) -> None:
    assume(sum(a.values()) > 0 and sum(b.values()) > 0)
    forward = categorical_drift(CategoricalStats(counts=a), CategoricalStats(counts=b))
    backward = categorical_drift(CategoricalStats(counts=dict(reversed(list(a.items())))),
                                 CategoricalStats(counts=dict(reversed(list(b.items())))))
    assert forward == backward
    assert forward.js_distance is not None and 0.0 <= forward.js_distance <= 1.0
    assert forward.chi_square is not None and np.isfinite(forward.chi_square.statistic)
    unseen = sum(1 for k, n in b.items() if n > 0 and a.get(k, 0) == 0)
    assert forward.chi_square.unseen_categories == unseen
