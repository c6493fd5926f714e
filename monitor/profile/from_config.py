"""Profile specs from a model's ``sources.lakehouse`` settings, with command-line overrides.

The lakehouse source names the monitored table, its baseline, timestamp, model-id, prediction,
probability, score and label columns, granularities and slicing expressions. The probability and
score columns are profiled as the model's outputs (their drift is prediction drift). Features are the
columns given with ``--features``, else the source's ``features``, else every other column of the
table (columns of unsupported types are then skipped, with the reason reported).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from monitor.profile.spec import CustomMetricDefinition, ProblemType, ProfileError, ProfileSpec


@dataclass(frozen=True)
class Overrides:
    features: tuple[str, ...] = ()
    slicing_exprs: tuple[str, ...] | None = None
    custom_metrics: tuple[CustomMetricDefinition, ...] = ()
    problem_type: ProblemType | None = None
    positive_label: str | None = None
    skip_unsupported: bool = False


def parse_custom_metric(text: str) -> CustomMetricDefinition:
    """``NAME=SQL`` or ``NAME[col1,col2]=SQL`` (the SQL may use ``{{input_column}}``)."""
    name, sep, definition = text.partition("=")
    if not sep:
        raise ProfileError(f"custom metric {text!r}: write NAME=SQL, e.g. expected_loss=avg(cost)")
    name = name.strip()
    columns: tuple[str, ...] = (":table",)
    if name.endswith("]") and "[" in name:
        name, _, inside = name[:-1].partition("[")
        columns = tuple(c.strip() for c in inside.split(",") if c.strip())
    return CustomMetricDefinition(name=name.strip(), definition=definition.strip(), input_columns=columns)


def spec_from_source(source: Any, columns: Sequence[str], overrides: Overrides, granularity: str) -> ProfileSpec:
    """The spec for one granularity of a ``LakehouseSource`` (``columns``: the monitored table's columns)."""
    for attr, derived in (("profile_metrics_table", "_profile_metrics"), ("drift_metrics_table", "_drift_metrics")):
        given = getattr(source, attr, None)
        expected = _output_name(source, derived)
        if given is not None and given != expected:
            raise ProfileError(f"{attr} is {given}: `lakewarden profile` writes {expected} (Lakehouse Monitoring's "
                               "naming); remove the override or set output_schema")
    scores = tuple(getattr(source, "score_columns", ()) or ())
    outcome = [getattr(source, a, None) for a in ("prediction_column", "prediction_proba_column", "label_column")]
    skip = {source.timestamp_column, getattr(source, "model_id_column", None), *outcome, *scores}
    listed = overrides.features or tuple(getattr(source, "features", ()) or ())
    features = listed or tuple(c for c in columns if c not in skip and not c.startswith("_"))
    slices = overrides.slicing_exprs
    if slices is None:  # the slice keys the source judges are slicing expressions; '*' means "all" there
        slices = tuple(key for key in getattr(source, "slices", ()) or () if key != "*")
    prediction = source.prediction_column if source.prediction_column in columns else None
    label = source.label_column if source.label_column in columns else None
    return ProfileSpec(
        table=source.table, baseline_table=source.baseline_table, timestamp_col=source.timestamp_column,
        granularity=granularity, feature_cols=tuple(features), prediction_col=prediction, label_col=label,
        model_id_col=getattr(source, "model_id_column", None), output_schema=source.output_schema,
        problem_type=overrides.problem_type or "classification",
        prediction_proba_col=getattr(source, "prediction_proba_column", None), score_cols=scores,
        positive_label=overrides.positive_label, slicing_exprs=tuple(slices),
        custom_metrics=overrides.custom_metrics,
        skip_unsupported=overrides.skip_unsupported or not listed)


def granularities_of(source: Any) -> tuple[str, ...]:
    found = getattr(source, "all_granularities", None)
    return tuple(found) if found else (source.granularity,)


def _output_name(source: Any, suffix: str) -> str:
    catalog, schema, name = source.table.split(".")
    prefix = source.output_schema or f"{catalog}.{schema}"
    return f"{prefix}.{name}{suffix}"
