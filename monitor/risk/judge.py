"""Turn one window's metrics into findings by each signal's rules, then into an assessment.

Rules run in order (model quality before trend, which reads the quality values); each yields
findings or reasons for not raising one. Every finding says in how many of the last N windows
(``risk.enter.n``) it was seen. The assessment keeps the window itself as its input, so that
``replay`` gives the same decision from the stored row.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import replace

from config.models import ModelSettings
from monitor.observations import WindowMetrics
from monitor.observations_codec import window_to_json
from monitor.risk.assessment import Assessment, Finding, NotRaised, PriorWindow
from monitor.risk.context import Context, Rule
from monitor.risk.drift_rules import drift
from monitor.risk.freshness_rules import stale_data
from monitor.risk.health_rules import data_quality
from monitor.risk.monitor_rules import monitor_health
from monitor.risk.ops_rules import SEASONS_BACK, operational, volume
from monitor.risk.quality_rules import custom_metrics, fairness, model_quality
from monitor.risk.score import counted, rank_key, risk_score, severity_for
from monitor.risk.trend import trend
from monitor.risk.validity_rules import invalid_metrics

MAX_HISTORY = 2000
RULES: tuple[Rule, ...] = (drift, model_quality, trend, custom_metrics, fairness, data_quality, volume, operational,
                          monitor_health, invalid_metrics, stale_data)


def judge(model: ModelSettings, window: WindowMetrics, history: Sequence[PriorWindow] = (),
          feature_weights: Mapping[str, float] | None = None) -> Assessment:
    weights = dict(feature_weights or {})
    ctx = Context(model, window, tuple(history), weights)
    findings: list[Finding] = []
    not_raised: list[NotRaised] = []
    for rule in RULES:
        for outcome in rule(ctx):
            (findings if isinstance(outcome, Finding) else not_raised).append(outcome)  # type: ignore[arg-type]
    findings = _with_recent(findings, history, model.risk.enter.n)
    first = counted(findings)
    rest = sorted((f for f in findings if f not in first), key=rank_key)
    score = risk_score(findings)
    return Assessment(
        model=model.name, granularity=window.granularity, window_start=window.window_start,
        window_end=window.window_end, risk=score, severity=severity_for(score, model.risk.tiers),
        findings=(*first, *rest), not_raised=tuple(not_raised), row_count=window.row_count,
        inputs={"window": window_to_json(window), "feature_weights": weights},
        stream=window.stream, version=window.version, measures=dict(ctx.measures),
    )


def history_needed(model: ModelSettings, window: WindowMetrics) -> int:
    """How many earlier windows the rules of ``model`` look at (persistence, trend, medians, seasons)."""
    s = model.signals
    needed = max(model.risk.history_windows, s.trend.windows, s.volume.history, s.operational.latency.history)
    length = window.window_end - window.window_start
    if s.volume.season is not None and length.total_seconds() > 0:
        needed = max(needed, math.ceil(SEASONS_BACK * (s.volume.season / length)))
    return min(needed, MAX_HISTORY)


def _with_recent(findings: list[Finding], history: Sequence[PriorWindow], n: int) -> list[Finding]:
    earlier = list(history[-(n - 1):]) if n > 1 else []
    if not earlier:
        return findings
    looked = len(earlier) + 1
    return [replace(f, recent=(1 + sum(f.key in w.finding_keys for w in earlier), looked)) for f in findings]
