"""Turn one window's metrics into findings by each signal's tiers, then into an assessment.

Rules, in order, for every metric looked at:
- the window has fewer rows than the signal's ``min_count``: skipped (too few rows to judge);
- the value is NULL, NaN or infinite: skipped, with the value in the reason;
- below the lowest tier: no finding; otherwise a finding at the highest tier reached.
"""

from __future__ import annotations

import math
from collections.abc import Iterator

from config.models import ModelSettings
from config.signals import DataQualitySignal, DriftSignal
from monitor.observations import ColumnDrift, WindowMetrics
from monitor.risk.assessment import Assessment, Finding, Skip
from monitor.risk.score import contribution, risk_score, severity_for

TABLE_COLUMN = ":table"


def judge(model: ModelSettings, window: WindowMetrics) -> Assessment:
    findings: list[Finding] = []
    skipped: list[Skip] = []
    for item in (*_drift(model, window), *_quality(model.signals.data_quality, window)):
        if isinstance(item, Finding):
            findings.append(item)
        else:
            skipped.append(item)
    findings.sort(key=lambda f: (-contribution(f), f.signal, f.column))
    score = risk_score(findings)
    return Assessment(
        model=model.name,
        granularity=window.granularity,
        window_start=window.window_start,
        window_end=window.window_end,
        risk=score,
        severity=severity_for(score, model.risk.tiers),
        findings=tuple(findings),
        skipped=tuple(skipped),
        row_count=window.row_count,
        inputs={
            "source": window.source,
            "monitor_version": window.monitor_version,
            "row_count": window.row_count,
            "notes": list(window.notes),
            "drift": {d.column: d.statistics for d in window.drift},
            "profile": {p.column: {"count": p.count, "percent_null": p.percent_null} for p in window.profile},
        },
    )


def _drift(model: ModelSettings, window: WindowMetrics) -> Iterator[Finding | Skip]:
    source = model.sources.lakehouse
    prediction = source.prediction_column if source else None
    label = source.label_column if source else None
    for row in window.drift:
        if row.column in (TABLE_COLUMN, label):
            continue  # label drift and table-level metrics are judged by later signals
        if row.column == prediction:
            yield from _judge_drift("prediction_drift", model.signals.prediction_drift, row, window)
        else:
            yield from _judge_drift("feature_drift", model.signals.feature_drift, row, window)


def _selected(columns: tuple[str, ...], exclude: tuple[str, ...], column: str) -> bool:
    return (not columns or column in columns) and column not in exclude


def _judge_drift(name: str, signal: DriftSignal, row: ColumnDrift, window: WindowMetrics) -> Iterator[Finding | Skip]:
    if not signal.enabled or not _selected(signal.columns, signal.exclude_columns, row.column):
        return
    if too_few := _too_few_rows(window, signal.min_count):
        yield Skip(name, row.column, too_few)
        return
    if signal.statistic not in row.statistics:
        yield Skip(name, row.column, f"{signal.statistic} is not in the drift metrics table")
        return
    yield from _tiered(name, signal.statistic, row.statistics[signal.statistic], signal, row.column, row.drift_type)


def _quality(signal: DataQualitySignal, window: WindowMetrics) -> Iterator[Finding | Skip]:
    if not signal.enabled:
        return
    for row in window.profile:
        if row.column == TABLE_COLUMN or not _selected(signal.columns, signal.exclude_columns, row.column):
            continue
        if too_few := _too_few_rows(window, signal.min_count):
            yield Skip("data_quality", row.column, too_few)
            continue
        yield from _tiered("data_quality", "null_share", row.null_share, signal, row.column, None)


def _too_few_rows(window: WindowMetrics, min_count: int) -> str | None:
    if window.row_count is not None and window.row_count < min_count:
        return f"window has {window.row_count} rows, below min_count {min_count}"
    return None


def _tiered(name: str, statistic: str, value: float | None, signal: DriftSignal | DataQualitySignal,
            column: str, drift_type: str | None) -> Iterator[Finding | Skip]:
    if value is None:
        yield Skip(name, column, f"{statistic} is NULL")
        return
    if math.isnan(value) or math.isinf(value):
        yield Skip(name, column, f"{statistic} is {value} (not a finite number)")
        return
    tier = signal.thresholds.tier_of(value)
    if tier is None:
        return
    threshold = dict(signal.thresholds.items())[tier] or 0.0  # tier_of only returns tiers that are set
    yield Finding(name, column, statistic, float(value), tier, threshold, signal.weight, drift_type)
