"""Volume against expectation, and serving health (errors by status code, latency, logging, freshness).

Volume reads the inference source's request count, or the Lakehouse window's row count. Its
expectation is ``expected_rows``, else the median of earlier windows (``history``), or with
``season`` the median of the windows whole seasons back. Latency is judged in milliseconds and as a
ratio to the median of earlier windows; freshness in windows (or as a duration).
"""

from __future__ import annotations

import statistics
from collections.abc import Iterator
from datetime import timedelta

from config.durations import format_duration
from monitor.observations import TABLE_COLUMN, Operations
from monitor.risk.assessment import NotRaised
from monitor.risk.context import Context, Outcome, bad_number, fmt, tiered

ROWS = "rows"
SEASONS_BACK = 7


def volume(ctx: Context) -> Iterator[Outcome]:
    signal = ctx.signals.volume
    ops = ctx.window.operations
    count = ops.requests if ops is not None else ctx.window.row_count
    if not signal.enabled or count is None:
        return
    ctx.measures[ROWS] = float(count)
    expected, basis = _expected(ctx)
    if expected is None:
        yield NotRaised("volume", TABLE_COLUMN, f"no expectation yet ({basis})", "skipped", "rows", float(count))
        return
    if expected < signal.min_expected:
        yield NotRaised("volume", TABLE_COLUMN, f"expected {expected:.0f} rows, below min_expected "
                                                f"{signal.min_expected}", "skipped", "rows", float(count))
        return
    detail = f"{count} rows, expected {expected:.0f} ({basis})"
    if count < expected:
        yield tiered("volume", "drop_share", 1.0 - count / expected, signal.drop, signal.weight, TABLE_COLUMN,
                     detail=detail)
    elif signal.spike is not None:
        yield tiered("volume", "spike_ratio", count / expected, signal.spike, signal.weight, TABLE_COLUMN,
                     detail=detail)


def _expected(ctx: Context) -> tuple[float | None, str]:
    signal = ctx.signals.volume
    if signal.expected_rows is not None:
        return float(signal.expected_rows), "configured"
    if signal.season is not None:
        wanted = {ctx.window.window_start - k * signal.season for k in range(1, SEASONS_BACK + 1)}
        back = [w.measures[ROWS] for w in ctx.history if w.window_start in wanted and ROWS in w.measures]
        if back:
            return statistics.median(back), f"median of {len(back)} windows {format_duration(signal.season)} apart"
    median = ctx.median(ROWS, signal.history)
    if median is None:
        return None, "needs 3 earlier windows"
    return median, f"median of the last {len(ctx.series(ROWS, signal.history))} windows"


def operational(ctx: Context) -> Iterator[Outcome]:
    signal, ops = ctx.signals.operational, ctx.window.operations
    if ops is None or not signal.enabled:
        return
    yield from _freshness(ctx, ops)
    if ops.requests < signal.min_requests:
        yield NotRaised("operational", TABLE_COLUMN, f"{ops.requests} requests, below min_requests "
                                                     f"{signal.min_requests}", "skipped", "error_rate", None)
        return
    for statistic, check, low, high in (("server_error_rate", signal.server_errors, 500, 600),
                                        ("client_error_rate", signal.client_errors, 400, 500)):
        if check.enabled:
            codes = sorted(((c, n) for c, n in ops.status_counts.items() if low <= c < high), key=lambda cn: -cn[1])
            detail = ", ".join(f"{c} x {n}" for c, n in codes[:4])
            yield tiered("operational", statistic, ops.share(low, high), check.thresholds, check.weight,
                         TABLE_COLUMN, detail=detail)
    if signal.logging_errors.enabled and ops.logging_errors is not None:
        yield tiered("operational", "logging_error_rate", ops.logging_errors / ops.requests,
                     signal.logging_errors.thresholds, signal.logging_errors.weight, TABLE_COLUMN)
    yield from _latency(ctx, ops)


def _latency(ctx: Context, ops: Operations) -> Iterator[Outcome]:
    check = ctx.signals.operational.latency
    if not check.enabled:
        return
    statistic = f"latency_{check.quantile}_ms"
    value = ops.latency_ms.get(check.quantile)
    if bad_number(value) is not None or value is None:
        yield NotRaised("operational", TABLE_COLUMN, f"{statistic} is not known for this window", "skipped",
                        statistic, None)
        return
    measure = f"latency:{check.quantile}"
    typical = ctx.median(measure, check.history)
    ctx.measures[measure] = value
    if check.ms is not None:
        yield tiered("operational", statistic, value, check.ms, check.weight, TABLE_COLUMN)
    if check.ratio is not None and typical:
        yield tiered("operational", f"latency_{check.quantile}_ratio", value / typical, check.ratio, check.weight,
                     TABLE_COLUMN, detail=f"{fmt(value)} ms vs median {fmt(typical)} ms")


def _freshness(ctx: Context, ops: Operations) -> Iterator[Outcome]:
    check = ctx.signals.operational.freshness
    if not check.enabled:
        return
    age = ops.freshness_seconds
    if age is None:
        yield NotRaised("operational", TABLE_COLUMN, "no rows in the payload table within the lookback",
                        "skipped", "freshness", None)
        return
    newest = ops.newest_row.isoformat() if ops.newest_row is not None else "unknown"
    detail = f"newest row {newest}, {format_duration(timedelta(seconds=round(age)))} old"
    if check.age is not None:
        yield tiered("operational", "freshness_seconds", age, check.age.as_tiers(), check.weight, TABLE_COLUMN,
                     detail=detail)
        return
    length = (ctx.window.window_end - ctx.window.window_start).total_seconds()
    yield tiered("operational", "freshness_windows", age / length, check.windows, check.weight, TABLE_COLUMN,
                 detail=detail)
