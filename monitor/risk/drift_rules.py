"""Feature, prediction and label drift from the drift metrics table.

For each scope (slice and model id) and drift type: the signal's effect size meets its tiers; when
the signal has a ``test``, the test's p-values of all the signal's columns in that scope and drift
type are adjusted with Benjamini-Hochberg, and a finding needs its adjusted p-value at most
``alpha``. A row without a p-value is judged on its effect size alone (said in the finding).
Drift type ``auto``: BASELINE rows where the scope has them in this window, CONSECUTIVE otherwise.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterator

from config.signals import DriftSignal
from monitor.observations import TABLE_COLUMN, ColumnDrift, Scope
from monitor.risk.assessment import Finding, NotRaised
from monitor.risk.context import Context, Outcome, bad_number, fmt, selected, tiered
from monitor.risk.multiple import benjamini_hochberg

PVALUE_OF_TEST = {"ks_test": ("ks_pvalue",), "chi_squared_test": ("chi_squared_pvalue",),
                  "auto": ("ks_pvalue", "chi_squared_pvalue")}


def drift(ctx: Context) -> Iterator[Outcome]:
    families: dict[tuple[str, Scope, str], list[ColumnDrift]] = defaultdict(list)
    for row in _rows(ctx):
        name = _signal_of(ctx, row.column)
        if name is not None and ctx.judged(row.scope):
            families[(name, row.scope, row.drift_type)].append(row)
    for (name, _scope, _type), rows in sorted(families.items(), key=lambda kv: (kv[0][0], kv[0][1].key(), kv[0][2])):
        yield from _family(ctx, name, getattr(ctx.signals, name), rows)


def _rows(ctx: Context) -> list[ColumnDrift]:
    source = ctx.lakehouse
    mode = source.drift_type if source is not None else "auto"
    rows = list(ctx.window.drift)
    if mode in ("BASELINE", "CONSECUTIVE"):
        return [r for r in rows if r.drift_type == mode]
    if mode == "both":
        return rows
    has_baseline = {r.scope for r in rows if r.drift_type == "BASELINE"}
    return [r for r in rows if r.drift_type == "BASELINE" or r.scope not in has_baseline]


def _signal_of(ctx: Context, column: str) -> str | None:
    source = ctx.lakehouse
    if column == TABLE_COLUMN:
        return None  # table-level drift rows hold custom metrics, judged by custom_metrics
    if source is None:
        return "feature_drift"
    if column == source.label_column:
        return "label_drift"
    if column in (source.prediction_column, source.prediction_proba_column):
        return "prediction_drift"
    if column in (source.model_id_column, source.timestamp_column):
        return None
    return "feature_drift"


def _pvalue(signal: DriftSignal, row: ColumnDrift) -> float | None:
    for name in PVALUE_OF_TEST.get(signal.test, ()):
        value = row.statistics.get(name)
        if bad_number(value) is None:
            return value
    return None


def _family(ctx: Context, name: str, signal: DriftSignal, rows: list[ColumnDrift]) -> Iterator[Outcome]:
    if not signal.enabled:
        return
    rows = [r for r in rows if selected(signal.columns, signal.exclude_columns, r.column)]
    judged: list[ColumnDrift] = []
    for row in rows:
        if too_few := ctx.too_few(signal.min_count, row.scope, row.column):
            yield NotRaised(name, row.column, too_few, "skipped", signal.statistic, None, row.scope, row.drift_type)
        elif signal.statistic not in row.statistics:
            yield NotRaised(name, row.column, f"{signal.statistic} is not in the drift metrics table", "skipped",
                            signal.statistic, None, row.scope, row.drift_type)
        else:
            judged.append(row)
    tested = [(row, p) for row in judged if (p := _pvalue(signal, row)) is not None] if signal.test != "none" else []
    adjusted = dict(zip((id(row) for row, _ in tested), benjamini_hochberg([p for _, p in tested]), strict=True))
    for row in judged:
        weight = signal.weight * (ctx.feature_weights.get(row.column, 1.0) if name == "feature_drift" else 1.0)
        p = adjusted.get(id(row))
        detail = _detail(signal, p, len(tested))
        outcome = tiered(name, signal.statistic, row.statistics[signal.statistic], signal.thresholds, weight,
                         row.column, scope=row.scope, drift_type=row.drift_type, detail=detail)
        if isinstance(outcome, Finding) and p is not None and p > signal.alpha:
            reason = (f"{signal.statistic} {fmt(outcome.value)} reaches {outcome.tier} but is not significant: "
                      f"{detail} > alpha {signal.alpha:g}")
            yield NotRaised(name, row.column, reason, "not_significant", signal.statistic, outcome.value,
                            row.scope, row.drift_type)
        else:
            yield outcome


def _detail(signal: DriftSignal, p: float | None, family: int) -> str:
    if signal.test == "none":
        return ""
    if p is None:
        return "no p-value in the table: effect size alone"
    corrected = f", BH over {family} columns" if family > 1 else ""
    shown = f"{p:.2g}" if p >= 1e-4 or math.isclose(p, 0.0) else f"{p:.1e}"
    return f"p {shown}{corrected}"
