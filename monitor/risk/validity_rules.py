"""Metric values that cannot be right, a missing statistic column, NULL windows (``signals.invalid_metrics``).

The source leaves such values out of what the other rules see (``monitor.sources.validity``) and
records them on the window; this rule makes them one finding per table and window, however many
rows are broken (500 bad rows are one finding, not 500): its detail names the table, the window,
each statistic with its rule and the first few values with their column and scope ("and N more"),
and what to do. All of a window's ``invalid_metrics`` findings are one group, so they count once
towards the risk.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

from monitor.observations import TABLE_COLUMN, InvalidValue, WindowMetrics
from monitor.risk.assessment import STATE_STATISTIC, Finding, NotRaised
from monitor.risk.context import Context, Outcome, fmt

SIGNAL = "invalid_metrics"
_FIX_VALUES = ("these values were left out of judging (not read as drift nor as a small window): fix what writes "
               "the table (custom metrics, a copied or hand-made table) and refresh the monitor")
_FIX_MISSING = ("refresh the monitor so that it writes the column, or set the signal's statistic to one the "
                "table has")
_FIX_NULL_WINDOWS = "rows without a window belong to no window and are not judged: fix what writes the table"


def invalid_metrics(ctx: Context) -> Iterator[Outcome]:
    signal = ctx.signals.invalid_metrics
    by_table: dict[str, list[InvalidValue]] = {}
    for record in ctx.window.invalid:
        by_table.setdefault(record.table, []).append(record)
    for table, records in by_table.items():
        text = describe(table, ctx.window, records, signal.max_listed)
        if not signal.enabled:
            yield NotRaised(SIGNAL, TABLE_COLUMN, f"{text} (signals.invalid_metrics is off)", "skipped",
                            STATE_STATISTIC)
        else:
            yield Finding(SIGNAL, TABLE_COLUMN, STATE_STATISTIC, 1.0, signal.tier, 1.0, signal.weight, detail=text)


def describe(table: str, window: WindowMetrics, records: Sequence[InvalidValue], listed: int) -> str:
    """``table``, the window, what is wrong per statistic (first ``listed`` values, then "and N more"), what to do."""
    missing = [r for r in records if r.value is None and r.statistic != "window"]
    undated = [r for r in records if r.value is None and r.statistic == "window"]
    values = [r for r in records if r.value is not None]
    groups: dict[tuple[str, str], list[InvalidValue]] = {}
    for record in values:
        groups.setdefault((record.statistic, record.rule), []).append(record)
    parts = [f"{len(values)} invalid values"] if values else []
    for (statistic, rule), found in groups.items():
        shown = ", ".join(_value(r, r.value) for r in found[:listed] if r.value is not None)
        more = f" and {len(found) - listed} more" if len(found) > listed else ""
        parts.append(f"{statistic} {shown}{more} (must be {rule})")
    parts += [f"column {r.statistic} is missing ({r.rule})" for r in missing]
    parts += [f"{r.rows} rows of granularity {window.granularity!r} have a NULL window ({r.rule})" for r in undated]
    fixes = [fix for fix, seen in ((_FIX_VALUES, values), (_FIX_MISSING, missing), (_FIX_NULL_WINDOWS, undated))
             if seen]
    return (f"{table}, window {window.window_start.isoformat()} to {window.window_end.isoformat()}: "
            f"{'; '.join(parts)}; {'; '.join(fixes)}")


def _value(record: InvalidValue, value: float) -> str:
    where = "the table" if record.column == TABLE_COLUMN else f"`{record.column}`"
    scope = f" [{record.scope.describe()}]" if record.scope.describe() else ""
    baseline = " (baseline)" if record.baseline else ""
    return f"{fmt(value)} on {where}{scope}{baseline}"
