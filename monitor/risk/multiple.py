"""Benjamini-Hochberg: p-values adjusted for testing many columns at once (false discovery rate).

A column is significant at false discovery rate ``alpha`` when its adjusted p-value is at most
``alpha``; that is the step-up procedure of Benjamini and Hochberg (1995), equal to
``scipy.stats.false_discovery_control(p, method="bh")``.
"""

from __future__ import annotations

from collections.abc import Sequence


def benjamini_hochberg(pvalues: Sequence[float]) -> list[float]:
    """Adjusted p-values in the order given: min over k >= rank of p_(k) * m / k, capped at 1."""
    m = len(pvalues)
    order = sorted(range(m), key=lambda i: pvalues[i])
    adjusted = [0.0] * m
    running = 1.0
    for rank in range(m, 0, -1):
        index = order[rank - 1]
        running = min(running, pvalues[index] * m / rank)
        adjusted[index] = min(1.0, running)
    return adjusted
