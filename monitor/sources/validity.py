"""What a valid value of each metric-table statistic is, and the checks every value read goes through.

One table (``RANGES``, by flat name as ``contract`` reads it) says what each statistic can be: counts
are at least 0, p-values and the bounded distances lie in [0, 1], percentages in [0, 100]
(``PERCENT_SCALE``, the scale the judge assumes), and every one of them is a finite number. A value
outside its range cannot be right (a p-value of -3, a JS distance of 7.5): it is left out of what the
judge sees, so it is judged neither as drift nor as a small window, and recorded as an
``InvalidValue`` that the ``invalid_metrics`` rule reports. Statistics not in the table (averages,
extremes, custom metrics) are data, where NaN or a negative number can be right: they are kept.

Column types are checked before any row is read (``wrong_types``): a statistic stored as a string is
a source error naming the table, the column, its type and the type expected.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from monitor.observations import PERCENT_SCALE, InvalidValue, Scope
from monitor.sources.contract import is_numeric, struct_fields

# Floating-point slack at a range's ends: a distance of 1 + 2e-16 between disjoint distributions is
# rounding, not a broken table, and must not raise a finding.
ROUNDING = 1e-9


@dataclass(frozen=True)
class Range:
    """Finite, and within [low, high] where given (give or take rounding); ``rule`` says so in words."""

    rule: str
    low: float | None = None
    high: float | None = None

    def holds(self, value: float) -> bool:
        if not math.isfinite(value):
            return False
        low_ok = self.low is None or value >= self.low - ROUNDING * max(1.0, abs(self.low))
        return low_ok and (self.high is None or value <= self.high + ROUNDING * max(1.0, abs(self.high)))


COUNT = Range("a count >= 0", 0.0)
PERCENT = Range(f"a percentage in [0, {PERCENT_SCALE:g}]", 0.0, PERCENT_SCALE)
PERCENT_DELTA = Range(f"a difference of percentages in [-{PERCENT_SCALE:g}, {PERCENT_SCALE:g}]",
                      -PERCENT_SCALE, PERCENT_SCALE)
PVALUE = Range("a p-value in [0, 1]", 0.0, 1.0)
UNIT_DISTANCE = Range("a distance in [0, 1]", 0.0, 1.0)
DISTANCE = Range("a distance >= 0", 0.0)
FINITE = Range("a finite number")
LATENCY = Range("a latency in ms >= 0", 0.0)

# Flat name (``contract.DRIFT_FIELDS`` / ``PROFILE_FIELDS`` values) -> what a valid value is.
RANGES: dict[str, Range] = {
    # profile metrics table
    "row_count": COUNT,
    "num_nulls": COUNT,
    "num_nan": COUNT,
    "num_zeros": COUNT,
    "distinct_count": COUNT,
    "frequent_items.count": COUNT,
    "percent_null": PERCENT,
    "percent_nan": PERCENT,
    "percent_zeros": PERCENT,
    # Distinct counts are estimates (HyperLogLog, here and on Databricks): an all-distinct column can
    # read a little over 100%, which is no broken table.
    "percent_distinct": Range("a percentage >= 0", 0.0),
    "stddev": Range("a standard deviation >= 0", 0.0),
    "min_length": Range("a length >= 0", 0.0),
    "max_length": Range("a length >= 0", 0.0),
    "avg_length": Range("a length >= 0", 0.0),
    # drift metrics table
    "count_delta": FINITE,  # a difference of counts: negative when the window shrank
    "percent_null_delta": PERCENT_DELTA,
    "percent_zeros_delta": PERCENT_DELTA,
    "percent_distinct_delta": PERCENT_DELTA,
    "columns_added": COUNT,
    "columns_missing": COUNT,
    "js_distance": Range("a distance in [0, 1] (base-2 Jensen-Shannon)", 0.0, 1.0),
    "tv_distance": UNIT_DISTANCE,
    "l_infinity_distance": UNIT_DISTANCE,
    "ks_statistic": Range("a KS statistic in [0, 1]", 0.0, 1.0),
    "ks_pvalue": PVALUE,
    "chi_squared_pvalue": PVALUE,
    "population_stability_index": Range("a PSI >= 0", 0.0),
    "chi_squared_statistic": Range("a chi-squared statistic >= 0", 0.0),
    "wasserstein_distance": DISTANCE,
    # inference (payload) table, as the inference source measures it
    "latency_p50": LATENCY,
    "latency_p90": LATENCY,
    "latency_p99": LATENCY,
    "estimated_requests": COUNT,
}

# Contract fields that are not numbers: their types are not checked here.
NOT_NUMBERS = frozenset({"data_type", "non_null_columns", "frequent_items"})
NUMBER_TYPES = "a number (tinyint, smallint, int, bigint, float, double or decimal)"


def path_type(columns: dict[str, str], path: str) -> str | None:
    """The type of column ``a`` or struct field ``a.b`` in ``columns`` (lower-cased name -> type), else None."""
    head, _, field = path.lower().partition(".")
    kind = columns.get(head)
    if kind is None or not field:
        return kind
    return next((t for name, t in struct_fields(kind) or [] if name.lower() == field), None)


def _item_count_type(kind: str) -> str | None:
    """The type of ``count`` in ``array<struct<item:...,count:...>>``; None when it has none."""
    text = kind.strip()
    if not text.lower().startswith("array<") or not text.endswith(">"):
        return None
    return next((t for name, t in struct_fields(text[6:-1]) or [] if name.lower() == "count"), None)


def wrong_types(table: str, columns: dict[str, str], fields: dict[str, str]) -> list[str]:
    """Why ``table``'s contract statistics (``fields``: path -> flat name) cannot be read as numbers, if any."""
    lower = {k.lower(): v for k, v in columns.items()}
    out = []
    for path, alias in fields.items():
        kind = path_type(lower, path)
        if kind is None:
            continue
        if alias == "frequent_items":
            count = _item_count_type(kind)
            if count is not None and not is_numeric(count):
                out.append(f"column {path}'s count of {table} has type {count}, expected {NUMBER_TYPES}")
        elif alias not in NOT_NUMBERS and not is_numeric(kind):
            read_as = "" if alias == path else f" (read as {alias})"
            out.append(f"column {path}{read_as} of {table} has type {kind}, expected {NUMBER_TYPES}")
    return out


@dataclass(frozen=True)
class Where:
    """The metric row a value comes from."""

    column: str
    scope: Scope
    window_start: datetime | None
    baseline: bool = False


class Checker:
    """Reads the numbers of one table's rows, leaving out and recording those outside their range."""

    def __init__(self, table: str) -> None:
        self.table = table
        self.found: list[InvalidValue] = []

    def number(self, value: Any, statistic: str, where: Where) -> float | None:
        """``value`` as a float, or None when NULL or invalid (then recorded)."""
        if value is None:
            return None
        number = float(value)
        found = RANGES.get(statistic)
        if found is None or found.holds(number):
            return number
        self.found.append(InvalidValue(self.table, where.column, statistic, number, found.rule, where.scope,
                                       where.window_start, where.baseline))
        return None

    def count(self, value: Any, statistic: str, where: Where) -> int | None:
        number = self.number(value, statistic, where)
        return None if number is None else int(number)

    def of_window(self, start: datetime | None, *, baseline: bool = False) -> tuple[InvalidValue, ...]:
        """What was found in the rows of the window starting at ``start`` (or in the baseline's rows)."""
        return tuple(r for r in self.found if r.window_start == start and r.baseline == baseline)
