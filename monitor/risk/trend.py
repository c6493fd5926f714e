"""Trend: the slope of a quality metric over the last K windows, and when it will cross its limit.

A least-squares line through the metric's values (x in windows, the current window at 0). It is a
finding only when the line worsens, fits (r² at least ``min_r2``) and the metric is still on the
good side of its limit: once past, the model-quality rule judges it. The limit is the metric's
first floor (or ceiling) tier, else the baseline minus its ``medium`` drop.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

from config.signals import QualityMetric
from monitor.observations import TABLE_COLUMN, Scope
from monitor.risk.assessment import NotRaised
from monitor.risk.context import Context, Outcome, bad_number, fmt, tiered
from monitor.risk.quality_rules import measure_name, quality_metrics

STATISTIC = "windows_to_limit"


def trend(ctx: Context) -> Iterator[Outcome]:
    signal, quality = ctx.signals.trend, ctx.signals.model_quality
    if not signal.enabled or not quality.enabled:
        return
    for row in ctx.window.profile:
        if row.column != TABLE_COLUMN or not ctx.judged(row.scope):
            continue
        for rule in quality_metrics(quality, row):
            current = ctx.measures.get(measure_name(rule.metric, row.scope))
            limit = _limit(ctx, rule, row.scope)
            if current is not None and limit is not None:
                yield from _judge(ctx, rule, row.scope, current, limit)


def _limit(ctx: Context, rule: QualityMetric, scope: Scope) -> float | None:
    bound = rule.floor if rule.floor is not None else rule.ceiling
    if bound is not None:
        return bound.given()[0][1]
    if rule.drop is None:
        return None
    drop = rule.drop.medium if rule.drop.medium is not None else rule.drop.given()[0][1]
    base_row = ctx.window.baseline_row(TABLE_COLUMN, scope)
    base = base_row.metrics.get(rule.metric) if base_row is not None else None
    if base is None or bad_number(base) is not None:
        return None
    amount = drop * abs(base) if rule.relative else drop
    return base - amount if rule.higher_is_better else base + amount


def fit(xs: list[float], ys: list[float]) -> tuple[float, float, float]:
    """Least squares ``y = slope * x + intercept``: (slope, intercept, r²); r² is 0 for a flat series."""
    n = len(xs)
    mx, my = sum(xs) / n, sum(ys) / n
    sxx = sum((x - mx) ** 2 for x in xs)
    sxy = sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True))
    slope = sxy / sxx if sxx else 0.0
    intercept = my - slope * mx
    ss_tot = sum((y - my) ** 2 for y in ys)
    ss_res = sum((y - (slope * x + intercept)) ** 2 for x, y in zip(xs, ys, strict=True))
    return slope, intercept, (1.0 - ss_res / ss_tot) if ss_tot > 0 else 0.0


def _judge(ctx: Context, rule: QualityMetric, scope: Scope, current: float, limit: float) -> Iterator[Outcome]:
    signal, window = ctx.signals.trend, ctx.window
    name = measure_name(rule.metric, scope)
    points = [(w.window_start, w.measures[name]) for w in ctx.history if name in w.measures]
    points = [*points[-(signal.windows - 1):], (window.window_start, current)]
    if len(points) < signal.windows:
        yield NotRaised("trend", TABLE_COLUMN, f"{rule.metric}: {len(points)} of the {signal.windows} windows a "
                                               "trend needs", "skipped", STATISTIC, None, scope)
        return
    length = window.window_end - window.window_start
    xs = [(start - window.window_start) / length for start, _ in points]
    slope, intercept, r2 = fit(xs, [v for _, v in points])
    worsening = slope < 0 if rule.higher_is_better else slope > 0
    past = current <= limit if rule.higher_is_better else current >= limit
    if past:
        yield NotRaised("trend", TABLE_COLUMN, f"{rule.metric} {fmt(current)} is past its limit {fmt(limit)} "
                                               "already: model quality judges it", "skipped", STATISTIC, None, scope)
        return
    if not worsening or r2 < signal.min_r2:
        why = "not worsening" if not worsening else f"no clear trend (r² {r2:.2f} < {signal.min_r2:g})"
        yield NotRaised("trend", TABLE_COLUMN, f"{rule.metric}: {why}", "below", STATISTIC, None, scope)
        return
    left = max(0.0, (intercept - limit) / -slope if rule.higher_is_better else (limit - intercept) / slope)
    eta = window.window_end + _times(length, left)
    detail = (f"{rule.metric} {'falls' if slope < 0 else 'rises'} {fmt(abs(slope))} per window (r² {r2:.2f}); "
              f"reaches {fmt(limit)} in about {left:.1f} windows, around {eta:%Y-%m-%d %H:%M} UTC")
    yield tiered("trend", STATISTIC, left, signal.horizon, signal.weight, TABLE_COLUMN, scope=scope, detail=detail)


def _times(length: timedelta, count: float) -> timedelta:
    return length * min(count, 10_000.0)
