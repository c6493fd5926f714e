"""What to profile (``ProfileSpec``), what was written (``ProfileResult``) and how each column is treated."""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Literal

from monitor.engines.identifiers import TableName, validate_table_name
from monitor.profile.schema import DRIFT_SUFFIX, PROFILE_SUFFIX, reserved_columns
from monitor.profile.windows import Granularity, parse_granularity

_FLOATS = ("float", "double")
_INTEGRALS = ("tinyint", "smallint", "int", "bigint")
_CATEGORICALS = ("string", "boolean")
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_FORBIDDEN_SQL = re.compile(r";|--|/\*|\*/")
TABLE_INPUT = ":table"

ProblemType = Literal["classification", "regression"]


class ProfileError(ValueError):
    """A profile cannot be computed as asked; the message says what and where."""


def check_sql_expression(text: str, what: str) -> str:
    """A user SQL expression (slicing expression, custom metric): one expression, no statement tricks."""
    if not text.strip():
        raise ProfileError(f"{what} is empty")
    if _FORBIDDEN_SQL.search(text):
        raise ProfileError(f"{what} {text!r} may not contain ';' or SQL comments")
    return text


@dataclass(frozen=True)
class CustomMetricDefinition:
    """An aggregate custom metric, as in Lakehouse Monitoring: an extra column of the profile table.

    ``definition`` is a Spark SQL aggregate expression over the rows of a window (and slice), e.g.
    ``avg(CASE WHEN prediction <> label THEN cost END)``. ``{{input_column}}`` stands for each of
    ``input_columns`` in turn (quoted); ``:table`` computes it once, on the ``:table`` row;
    ``{{prediction_col}}`` and ``{{label_col}}`` stand for the spec's columns.
    """

    name: str
    definition: str
    input_columns: tuple[str, ...] = (TABLE_INPUT,)

    def __post_init__(self) -> None:
        if not _NAME.fullmatch(self.name):
            raise ProfileError(f"custom metric name {self.name!r}: use letters, digits and _")
        check_sql_expression(self.definition, f"custom metric {self.name!r}")
        if not self.input_columns:
            raise ProfileError(f"custom metric {self.name!r}: give at least one input column (or ':table')")


@dataclass(frozen=True)
class ProfileSpec:
    """An inference-log (or time-series) monitor on ``table``."""

    table: str
    baseline_table: str | None
    timestamp_col: str
    granularity: str
    feature_cols: tuple[str, ...]
    prediction_col: str | None = None
    label_col: str | None = None
    model_id_col: str | None = None
    output_schema: str | None = None  # "catalog.schema"; default: the monitored table's
    problem_type: ProblemType = "classification"
    prediction_proba_col: str | None = None  # score of the positive class, for ROC AUC; profiled like a score
    score_cols: tuple[str, ...] = ()  # other score columns of the model: profiled, not features
    positive_label: str | None = None  # default: the larger of the two labels
    slicing_exprs: tuple[str, ...] = ()
    custom_metrics: tuple[CustomMetricDefinition, ...] = ()
    skip_unsupported: bool = False  # skip columns of unsupported types (with a reason) instead of failing
    monitor_version: int = 0  # used when no state store keeps the version
    slice_values_limit: int = 100
    # how local Parquet is read (monitor.profile.direct): "auto" = pyarrow in this process where it applies,
    # "spark_arrow" = pyarrow inside Spark tasks (mapInArrow), "spark" = always Spark SQL
    reader: Literal["auto", "spark_arrow", "spark"] = "auto"

    def __post_init__(self) -> None:
        validate_table_name(self.table)
        if self.baseline_table is not None:
            validate_table_name(self.baseline_table)
        parse_granularity(self.granularity)
        self.output_tables()  # validates output_schema
        if self.model_id_col is not None and self.model_id_col in reserved_columns():
            raise ValueError(f"model id column {self.model_id_col!r} clashes with a metric table column")
        if not self.monitored_columns:
            raise ValueError(f"profile of {self.table}: no feature, prediction or label columns given")
        if self.problem_type not in ("classification", "regression"):
            raise ValueError(f"problem type {self.problem_type!r}: expected 'classification' or 'regression'")
        for expr in self.slicing_exprs:
            check_sql_expression(expr, "slicing expression")
        names = [m.name for m in self.custom_metrics]
        clashes = sorted({n for n in names if names.count(n) > 1} | (set(names) & reserved_columns()))
        if clashes:
            raise ValueError(f"custom metric names {clashes} repeat or clash with metric table columns")

    @property
    def parsed_granularity(self) -> Granularity:
        return parse_granularity(self.granularity)

    @property
    def quality(self) -> ProblemType | None:
        """The model-quality metrics on ``:table`` rows, or None without prediction and label."""
        return self.problem_type if self.prediction_col and self.label_col else None

    @property
    def classification(self) -> bool:
        return self.quality == "classification"

    @property
    def score_columns(self) -> tuple[str, ...]:
        """The probability column, then the other score columns, without repeats."""
        return tuple(dict.fromkeys(n for n in (self.prediction_proba_col, *self.score_cols) if n is not None))

    @property
    def monitored_columns(self) -> tuple[str, ...]:
        """Features, then prediction, scores and label, without repeats."""
        names = [*self.feature_cols, self.prediction_col, *self.score_columns, self.label_col]
        return tuple(dict.fromkeys(name for name in names if name is not None))

    def output_tables(self) -> tuple[TableName, TableName]:
        """(profile metrics table, drift metrics table)."""
        base = validate_table_name(self.table)
        if self.output_schema is not None:
            base = base.in_schema(self.output_schema)
        return base.sibling(PROFILE_SUFFIX), base.sibling(DRIFT_SUFFIX)

    def fingerprint(self) -> str:
        """A hash of everything that shapes the metric tables' content (not the baseline's data, and not
        the granularity: one monitor writes several granularities into the same tables)."""
        settings = {k: v for k, v in asdict(self).items() if k not in ("monitor_version", "granularity", "reader")}
        return _hash(self._with_scores(settings))

    def reference_key(self) -> str:
        """A hash of what shapes the baseline's statistics (columns, types, model id, slices, quality)."""
        keys = ("baseline_table", "feature_cols", "prediction_col", "label_col", "model_id_col", "problem_type",
                "prediction_proba_col", "slicing_exprs", "custom_metrics", "skip_unsupported",
                "slice_values_limit")
        settings = {k: v for k, v in asdict(self).items() if k in keys}
        return _hash(self._with_scores(settings))

    def _with_scores(self, settings: dict[str, object]) -> dict[str, object]:
        """Scores are profiled since issue 12: a spec with scores hashes differently from before, so its windows
        and baseline statistics are computed again with them; a spec without scores keeps its hashes."""
        settings.pop("score_cols", None)
        if self.score_columns:
            settings["profiled_scores"] = list(self.score_columns)
        return settings


def _hash(settings: dict[str, object]) -> str:
    return hashlib.sha256(json.dumps(settings, sort_keys=True, default=str).encode()).hexdigest()[:32]


@dataclass(frozen=True)
class ProfileResult:
    profile_table: str
    drift_table: str
    windows_written: tuple[tuple[datetime, datetime], ...]
    baseline_written: bool
    profile_rows: int
    drift_rows: int
    windows_rewritten: tuple[tuple[datetime, datetime], ...] = ()
    monitor_version: int = 0
    reference_reused: bool = False
    skipped_columns: tuple[tuple[str, str], ...] = ()  # (column, reason)
    timings: Mapping[str, float] = field(default_factory=dict)


@dataclass(frozen=True)
class ColumnInfo:
    """How a monitored column is profiled.

    ``numeric``: moments (avg, min, max, quantiles) from its value cast to double. ``categorical``:
    its distribution is counted per value (chi-square, TV, L-infinity, JS); otherwise on the sketch
    grid (KS, PSI, Wasserstein, JS). Integral prediction and label columns of a classifier are both:
    numeric moments, categorical distribution.
    """

    name: str
    data_type: str
    numeric: bool
    categorical: bool

    @property
    def is_string(self) -> bool:
        return self.data_type == "string"

    @property
    def stats_key(self) -> str:
        """Key of the statistics that drive drift: categories for categorical columns."""
        return category_key(self.name) if self.categorical and self.numeric else self.name


def category_key(name: str) -> str:
    return f"{name}\x00categories"


def _require_columns(spec: ProfileSpec, schema: Mapping[str, str]) -> None:
    """Every configured column is in the table; a missing score column is an error (its drift would
    otherwise go unwatched without a word), named with the setting that asks for it."""
    roles = dict.fromkeys(spec.feature_cols, "feature")
    roles.update(dict.fromkeys(spec.score_cols, "score column"))
    for name, role in ((spec.prediction_proba_col, "probability (score) column"),
                       (spec.prediction_col, "prediction column"), (spec.label_col, "label column"),
                       (spec.model_id_col, "model id column"), (spec.timestamp_col, "timestamp column")):
        if name is not None:
            roles[name] = role
    missing = [f"{role} {name!r}" for name, role in roles.items() if name not in schema]
    if missing:
        raise ProfileError(f"{', '.join(missing)} not in {spec.table} (it has {sorted(schema)}): fix the column "
                           "names (sources.lakehouse) or remove them")


def column_infos(spec: ProfileSpec, schema: Mapping[str, str]
                 ) -> tuple[tuple[ColumnInfo, ...], tuple[tuple[str, str], ...]]:
    """Classify the monitored columns from the table's schema (column -> Spark simpleString type).

    Returns (profiled columns, skipped (column, reason)); an unsupported type is an error naming the
    column and its type unless ``spec.skip_unsupported``.
    """
    _require_columns(spec, schema)
    infos = []
    skipped = []
    outcomes = {spec.prediction_col, spec.label_col} if spec.classification else set()
    for name in spec.monitored_columns:
        data_type = schema[name]
        if data_type.startswith(_FLOATS) or data_type.startswith("decimal"):
            infos.append(ColumnInfo(name, data_type, numeric=True, categorical=False))
        elif data_type in _INTEGRALS:
            infos.append(ColumnInfo(name, data_type, numeric=True, categorical=name in outcomes))
        elif data_type in _CATEGORICALS:
            infos.append(ColumnInfo(name, data_type, numeric=False, categorical=True))
        else:
            reason = (f"column {name!r} of {spec.table} has type {data_type}: only numeric, string and boolean "
                      "columns can be profiled")
            if not spec.skip_unsupported or name in (spec.prediction_col, spec.label_col):
                raise ProfileError(reason)
            skipped.append((name, reason))
    return tuple(infos), tuple(skipped)
