"""Feature, prediction and label drift from the drift metrics table.

For each scope (slice and model id) and drift type: the signal's effect size meets its tiers; when
the signal has a ``test``, the test's p-values of all the signal's columns in that scope and drift
type are adjusted with Benjamini-Hochberg, and a finding needs its adjusted p-value at most
``alpha``. A row without a p-value is judged on its effect size alone (said in the finding).
Drift type ``auto``: BASELINE rows where the scope has them in this window, CONSECUTIVE otherwise.

Which columns are which: the label is label drift; the prediction, probability and score columns are
prediction drift; the rest are features, less the columns the source's ``features`` does not list
and the columns that look like row ids (``id_columns``), each left out with a note. A column listed
in ``signals.feature_drift.columns`` is always judged. A configured score column with no drift rows
is said too: the model's score would otherwise go unwatched without a word.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator

from config.signals import DriftSignal
from monitor.observations import TABLE_COLUMN, ColumnDrift, Scope
from monitor.risk.assessment import Finding, NotRaised
from monitor.risk.context import Context, Outcome, bad_number, fmt, selected, tiered
from monitor.risk.id_columns import id_like
from monitor.risk.multiple import benjamini_hochberg

PVALUE_OF_TEST = {"ks_test": ("ks_pvalue",), "chi_squared_test": ("chi_squared_pvalue",),
                  "auto": ("ks_pvalue", "chi_squared_pvalue")}


SHOWN_COLUMNS = 10  # columns named in a note before "(+N more)"
UNLISTED = "not in sources.lakehouse.features"


def drift(ctx: Context) -> Iterator[Outcome]:
    families: dict[tuple[str, Scope, str], list[ColumnDrift]] = defaultdict(list)
    left_out: dict[str, str | None] = {}  # feature column -> why it is left out of feature drift, None: judged
    for row in _rows(ctx):
        name = _signal_of(ctx, row.column)
        if name is None or not ctx.judged(row.scope):
            continue
        if name == "feature_drift":
            if row.column not in left_out:
                left_out[row.column] = _left_out(ctx, row.column)
            if left_out[row.column] is not None:
                continue
        families[(name, row.scope, row.drift_type)].append(row)
    yield from _left_out_notes(left_out)
    yield from _unwatched_scores(ctx)
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
    if column == source.prediction_column or column in source.score_column_names:
        return "prediction_drift"
    if column in (source.model_id_column, source.timestamp_column):
        return None
    return "feature_drift"


def _left_out(ctx: Context, column: str) -> str | None:
    """Why a feature is left out of feature drift (``UNLISTED``, or why it looks like an id), or None."""
    signal = ctx.signals.feature_drift
    source = ctx.lakehouse
    if not signal.enabled or column in signal.columns:
        return None
    if source is not None and source.features and column not in source.features:
        return UNLISTED
    if signal.exclude_ids and not signal.columns:
        return id_like(ctx.window, column, signal.id_min_rows)
    return None


def _left_out_notes(left_out: dict[str, str | None]) -> Iterator[Outcome]:
    for column, why in sorted(left_out.items()):
        if why is not None and why != UNLISTED:
            yield NotRaised("feature_drift", column, f"looks like an id ({why}): left out of feature drift; list it "
                            "in signals.feature_drift.columns to judge it")
    unlisted = sorted(column for column, why in left_out.items() if why == UNLISTED)
    if unlisted:
        more = f" (+{len(unlisted) - SHOWN_COLUMNS} more)" if len(unlisted) > SHOWN_COLUMNS else ""
        yield NotRaised("feature_drift", TABLE_COLUMN,
                        f"{_columns(len(unlisted))} not in sources.lakehouse.features, left out of feature drift: "
                        f"{', '.join(unlisted[:SHOWN_COLUMNS])}{more}")


def _columns(n: int) -> str:
    return "1 column is" if n == 1 else f"{n} columns are"


def _unwatched_scores(ctx: Context) -> Iterator[Outcome]:
    """A configured score column without drift rows, in a window that has drift rows."""
    source = ctx.lakehouse
    if source is None or not ctx.window.drift or not ctx.signals.prediction_drift.enabled:
        return
    present = {row.column for row in ctx.window.drift}
    for column in source.score_column_names:
        if column not in present:
            yield NotRaised("prediction_drift", column,
                            f"no rows for it in {source.drift_table}: the model's score is not monitored; profile "
                            "it (`lakewarden profile` does) or fix sources.lakehouse.prediction_proba_column / "
                            "score_columns")


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
    return f"p {format_p(p)}{corrected}"


def format_p(p: float) -> str:
    """A p-value as a person reads it; one that underflowed (a float cannot hold it: 0 or subnormal) is
    ``< 1e-300``, never a bare 0."""
    if p < 1e-300:
        return "< 1e-300"
    return f"{p:.2g}" if p >= 1e-4 else f"{p:.1e}"
