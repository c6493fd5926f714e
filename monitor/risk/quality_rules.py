"""Model quality against the baseline and absolute limits, custom metrics, and fairness gaps.

Quality metrics live on the ``:table`` rows of the profile table (``f1_score.macro`` for struct
fields). Each metric's value per window and scope is also kept as the measure
``quality:<metric>@<scope>`` so the trend rule can fit a line through recent windows.
"""

from __future__ import annotations

from collections.abc import Iterator

from config.signals import CustomMetric, ModelQualitySignal, QualityMetric
from monitor.observations import TABLE_COLUMN, ColumnProfile, Scope
from monitor.risk.assessment import NotRaised
from monitor.risk.context import Context, Outcome, bad_number, fmt, tiered

FAIRNESS_COLUMNS = ("predictive_parity", "predictive_equality", "equal_opportunity", "statistical_parity")


def quality_metrics(signal: ModelQualitySignal, row: ColumnProfile) -> tuple[QualityMetric, ...]:
    if signal.metrics:
        return signal.metrics
    if any(k == "accuracy_score" or k.startswith("f1_score") for k in row.metrics):
        return signal.classification
    if any(k in ("r2_score", "mean_squared_error", "root_mean_squared_error") for k in row.metrics):
        return signal.regression
    return ()


def measure_name(metric: str, scope: Scope) -> str:
    return f"quality:{metric}@{scope.key()}"


def worse_by(rule: QualityMetric, value: float, baseline: float) -> float | None:
    """How much worse ``value`` is than ``baseline`` (negative when better), absolute or relative."""
    worse = baseline - value if rule.higher_is_better else value - baseline
    if not rule.relative:
        return worse
    return None if baseline == 0 else worse / abs(baseline)


def model_quality(ctx: Context) -> Iterator[Outcome]:
    signal = ctx.signals.model_quality
    if not signal.enabled:
        return
    for row in ctx.window.profile:
        if row.column != TABLE_COLUMN or not ctx.judged(row.scope):
            continue
        for rule in quality_metrics(signal, row):
            yield from _metric(ctx, signal, rule, row)


def _metric(ctx: Context, signal: ModelQualitySignal, rule: QualityMetric, row: ColumnProfile) -> Iterator[Outcome]:
    name, scope = "model_quality", row.scope
    if rule.metric not in row.metrics:
        yield NotRaised(name, TABLE_COLUMN, f"{rule.metric} is not in the profile metrics table", "skipped",
                        rule.metric, None, scope)
        return
    if too_few := ctx.too_few(signal.min_count, scope, TABLE_COLUMN):
        yield NotRaised(name, TABLE_COLUMN, too_few, "skipped", rule.metric, None, scope)
        return
    value = row.metrics[rule.metric]
    if (bad := bad_number(value)) is not None or value is None:
        yield NotRaised(name, TABLE_COLUMN, f"{rule.metric} {bad} (no labelled rows yet?)", "skipped",
                        rule.metric, None, scope)
        return
    ctx.measures[measure_name(rule.metric, scope)] = value
    if rule.drop is not None:
        base_row = ctx.window.baseline_row(TABLE_COLUMN, scope)
        base = base_row.metrics.get(rule.metric) if base_row is not None else None
        statistic = f"{rule.metric} {'relative ' if rule.relative else ''}drop"
        if bad_number(base) is not None or base is None:
            yield NotRaised(name, TABLE_COLUMN, f"no baseline value of {rule.metric} to compare with", "skipped",
                            statistic, value, scope)
        else:
            worse = worse_by(rule, value, base)
            detail = f"baseline {fmt(base)}, window {fmt(value)}"
            yield tiered(name, statistic, worse, rule.drop, signal.weight, TABLE_COLUMN, scope=scope, detail=detail)
    limit = rule.floor if rule.floor is not None else rule.ceiling
    if limit is not None:
        yield tiered(name, rule.metric, value, limit, signal.weight, TABLE_COLUMN, scope=scope)


def custom_metrics(ctx: Context) -> Iterator[Outcome]:
    for metric in ctx.signals.custom_metrics:
        yield from _custom(ctx, metric)


def _custom(ctx: Context, metric: CustomMetric) -> Iterator[Outcome]:
    name = "custom_metric"
    tiers = metric.thresholds if metric.thresholds is not None else metric.floors
    if tiers is None:
        return  # the config requires one of them
    if metric.table == "drift":
        for drow in ctx.window.drift:
            if drow.column == metric.column and ctx.judged(drow.scope) and metric.name in drow.statistics:
                yield tiered(name, metric.name, drow.statistics[metric.name], tiers, metric.weight, drow.column,
                             scope=drow.scope, drift_type=drow.drift_type, detail=metric.label)
        return
    for row in ctx.window.profile:
        if row.column != metric.column or not ctx.judged(row.scope) or metric.name not in row.metrics:
            continue
        value = row.metrics[metric.name]
        if not metric.against_baseline:
            yield tiered(name, metric.name, value, tiers, metric.weight, row.column, scope=row.scope,
                         detail=metric.label)
            continue
        base_row = ctx.window.baseline_row(row.column, row.scope)
        base = base_row.metrics.get(metric.name) if base_row is not None else None
        if bad_number(base) is not None or base is None or bad_number(value) is not None or value is None:
            yield NotRaised(name, row.column, f"{metric.name}: no finite window and baseline values to compare",
                            "skipped", f"{metric.name} change", None, row.scope)
            continue
        yield tiered(name, f"{metric.name} change", value - base, tiers, metric.weight, row.column,
                     scope=row.scope, detail=f"{metric.label}: baseline {fmt(base)}, window {fmt(value)}")


def fairness(ctx: Context) -> Iterator[Outcome]:
    signal = ctx.signals.fairness
    if not signal.enabled:
        return
    prediction = ctx.lakehouse.prediction_column if ctx.lakehouse is not None else None
    for key in signal.slices:
        pairs: dict[str | None, dict[str, ColumnProfile]] = {}
        for row in ctx.window.profile:
            if row.scope.slice_key == key and row.scope.slice_value in ("true", "false") \
                    and row.column in (TABLE_COLUMN, prediction):
                pairs.setdefault(row.scope.model_id, {})[f"{row.scope.slice_value}:{row.column}"] = row
        if not pairs:
            yield NotRaised("fairness", key, f"no 'true'/'false' rows for slice {key!r} in this window")
        for model_id, rows in sorted(pairs.items(), key=lambda kv: kv[0] or ""):
            yield from _gaps(ctx, key, Scope(model_id=model_id), rows, prediction)


def _gaps(ctx: Context, key: str, scope: Scope, rows: dict[str, ColumnProfile],
          prediction: str | None) -> Iterator[Outcome]:
    signal = ctx.signals.fairness
    true_t, false_t = rows.get(f"true:{TABLE_COLUMN}"), rows.get(f"false:{TABLE_COLUMN}")
    counts = [r.count for r in (true_t, false_t) if r is not None and r.count is not None]
    if len(counts) < 2 or min(counts) < signal.min_count:
        yield NotRaised("fairness", key, f"each side of the slice needs {signal.min_count} rows, "
                                         f"found {counts or 'none'}", "skipped", None, None, scope)
        return
    for metric in signal.metrics:
        if metric in FAIRNESS_COLUMNS:
            value = true_t.metrics.get(metric) if true_t is not None else None
            yield tiered("fairness", metric, None if value is None else abs(value), signal.thresholds,
                         signal.weight, key, scope=scope, detail="the monitor's own fairness metric")
            continue
        if metric == "positive_rate":
            t_row, f_row = rows.get(f"true:{prediction}"), rows.get(f"false:{prediction}")
            t_val = t_row.metrics.get("avg") if t_row is not None else None
            f_val = f_row.metrics.get("avg") if f_row is not None else None
        else:
            t_val = true_t.metrics.get(metric) if true_t is not None else None
            f_val = false_t.metrics.get(metric) if false_t is not None else None
        if bad_number(t_val) is not None or bad_number(f_val) is not None or t_val is None or f_val is None:
            yield NotRaised("fairness", key, f"{metric} is missing or not finite on one side of the slice",
                            "skipped", f"{metric} gap", None, scope)
            continue
        yield tiered("fairness", f"{metric} gap", abs(t_val - f_val), signal.thresholds, signal.weight, key,
                     scope=scope, detail=f"true {fmt(t_val)} vs false {fmt(f_val)}")
