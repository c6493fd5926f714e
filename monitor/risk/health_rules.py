"""Data quality from the profile table: NULL, NaN and zero shares, unseen categories, schema changes.

Shares are judged as their increase over the baseline's share (``against_baseline``) when the table
has a baseline row for the column, else as they are. Unseen categories: the share of the window's
rows in values the baseline never had, judged only when the baseline's list of frequent items is
complete (its distinct count is not larger than the list), because a value outside a truncated list
may well have been there.
"""

from __future__ import annotations

from collections.abc import Iterator

from config.signals import Check, DataQualitySignal
from monitor.observations import TABLE_COLUMN, ColumnProfile, Scope
from monitor.risk.assessment import Finding, NotRaised
from monitor.risk.context import Context, Outcome, fmt, selected, tiered

SIGNAL = "data_quality"


def data_quality(ctx: Context) -> Iterator[Outcome]:
    signal = ctx.signals.data_quality
    if not signal.enabled:
        return
    # Labels join late: a label column that is mostly NULL in recent windows is normal, not a finding.
    skip = {ctx.lakehouse.label_column} if ctx.lakehouse is not None else set()
    scopes: set[Scope] = set()
    for row in ctx.window.profile:
        if row.log_type != "INPUT" or not ctx.judged(row.scope):
            continue
        scopes.add(row.scope)
        if row.column == TABLE_COLUMN or row.column in skip:
            continue
        if not selected(signal.columns, signal.exclude_columns, row.column):
            continue
        if too_few := ctx.too_few(signal.min_count, row.scope, row.column):
            yield NotRaised(SIGNAL, row.column, too_few, "skipped", None, None, row.scope)
            continue
        base = ctx.window.baseline_row(row.column, row.scope)
        for statistic, check in (("null_share", signal.null_share), ("nan_share", signal.nan_share),
                                 ("zero_share", signal.zero_share)):
            if check.enabled:
                yield from _share(signal, statistic, check, row, base)
        if signal.unseen_categories.enabled:
            yield from _unseen(signal.unseen_categories, row, base)
    for scope in sorted(scopes, key=Scope.key):
        yield from _schema(ctx, signal, scope)


def _share(signal: DataQualitySignal, statistic: str, check: Check, row: ColumnProfile,
           base: ColumnProfile | None) -> Iterator[Outcome]:
    value: float | None = getattr(row, statistic)
    if value is None:
        return  # not counted for this column type (no NaN in strings, no zeros in categories)
    before: float | None = getattr(base, statistic) if base is not None and signal.against_baseline else None
    if before is None:
        yield tiered(SIGNAL, statistic, value, check.thresholds, check.weight, row.column, scope=row.scope)
        return
    yield tiered(SIGNAL, f"{statistic} increase", value - before, check.thresholds, check.weight, row.column,
                 scope=row.scope, detail=f"baseline {fmt(before)}, window {fmt(value)}")


def _unseen(check: Check, row: ColumnProfile, base: ColumnProfile | None) -> Iterator[Outcome]:
    if not row.frequent_items or base is None or not base.frequent_items or not row.count:
        return
    if base.distinct_count is None or base.distinct_count > len(base.frequent_items):
        yield NotRaised(SIGNAL, row.column, "the baseline's frequent items are truncated: unseen values cannot "
                                            "be told apart", "skipped", "unseen_share", None, row.scope)
        return
    known = {item for item, _ in base.frequent_items}
    unseen = [(item, count) for item, count in row.frequent_items if item not in known]
    share = sum(count for _, count in unseen) / row.count
    partial = row.distinct_count is not None and row.distinct_count > len(row.frequent_items)
    shown = ", ".join(f"{item!r} x {count}" for item, count in sorted(unseen, key=lambda ic: -ic[1])[:3])
    detail = ("at least; " if partial else "") + (shown or "none")
    yield tiered(SIGNAL, "unseen_share", share, check.thresholds, check.weight, row.column, scope=row.scope,
                 detail=detail)


def _schema(ctx: Context, signal: DataQualitySignal, scope: Scope) -> Iterator[Outcome]:
    check = signal.schema_changes
    window = ctx.window
    table, base = window.profile_row(TABLE_COLUMN, scope), window.baseline_row(TABLE_COLUMN, scope)
    if table is not None and base is not None and table.non_null_columns is not None \
            and base.non_null_columns is not None:
        missing = sorted(set(base.non_null_columns) - set(table.non_null_columns))
        new = sorted(set(table.non_null_columns) - set(base.non_null_columns))
    else:
        missing, new = [], []
        for drow in window.drift:
            if drow.scope == scope and drow.column == TABLE_COLUMN:
                missing += [f"{drow.columns_missing} column(s)"] if drow.columns_missing else []
                new += [f"{drow.columns_added} column(s)"] if drow.columns_added else []
        if not missing and window.baseline:
            profiled = {r.column for r in window.profile if r.scope == scope}
            baseline = {r.column for r in window.baseline if r.scope.slice_key == scope.slice_key}
            missing = sorted(baseline - profiled) if profiled else []
    for statistic, names, tier in (("missing_columns", missing, check.missing), ("new_columns", new, check.new)):
        if names and tier is not None:
            yield Finding(SIGNAL, TABLE_COLUMN, statistic, float(len(names)), tier, 1.0, check.weight,
                          scope=scope, detail=", ".join(names[:5]))
