"""What to profile (``ProfileSpec``), what was written (``ProfileResult``) and how each column is treated."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

from monitor.engines.identifiers import TableName, validate_table_name
from monitor.profile.schema import (
    CLASSIFICATION_COLUMNS,
    DRIFT_COLUMNS,
    DRIFT_SUFFIX,
    PROFILE_COLUMNS,
    PROFILE_SUFFIX,
)
from monitor.profile.windows import Granularity, parse_granularity

_FLOATS = ("float", "double")
_INTEGRALS = ("tinyint", "smallint", "int", "bigint")
_CATEGORICALS = ("string", "boolean")


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

    def __post_init__(self) -> None:
        validate_table_name(self.table)
        if self.baseline_table is not None:
            validate_table_name(self.baseline_table)
        parse_granularity(self.granularity)
        self.output_tables()  # validates output_schema
        reserved = {name for name, _ in PROFILE_COLUMNS + DRIFT_COLUMNS + CLASSIFICATION_COLUMNS}
        if self.model_id_col is not None and self.model_id_col in reserved:
            raise ValueError(f"model id column {self.model_id_col!r} clashes with a metric table column")
        if not self.monitored_columns:
            raise ValueError(f"profile of {self.table}: no feature, prediction or label columns given")

    @property
    def parsed_granularity(self) -> Granularity:
        return parse_granularity(self.granularity)

    @property
    def classification(self) -> bool:
        return self.prediction_col is not None and self.label_col is not None

    @property
    def monitored_columns(self) -> tuple[str, ...]:
        """Features, then prediction and label, without repeats."""
        names = [*self.feature_cols, self.prediction_col, self.label_col]
        return tuple(dict.fromkeys(name for name in names if name is not None))

    def output_tables(self) -> tuple[TableName, TableName]:
        """(profile metrics table, drift metrics table)."""
        base = validate_table_name(self.table)
        if self.output_schema is not None:
            base = base.in_schema(self.output_schema)
        return base.sibling(PROFILE_SUFFIX), base.sibling(DRIFT_SUFFIX)


@dataclass(frozen=True)
class ProfileResult:
    profile_table: str
    drift_table: str
    windows_written: tuple[tuple[datetime, datetime], ...]
    baseline_written: bool
    profile_rows: int
    drift_rows: int


@dataclass(frozen=True)
class ColumnInfo:
    """How a monitored column is profiled.

    ``numeric``: moments (avg, min, max, quantiles) from its value cast to double. ``categorical``:
    its distribution is counted per value (chi-square, TV, L-infinity, JS); otherwise per reference
    decile bin (KS, PSI, Wasserstein, JS). Integral prediction and label columns are both: numeric
    moments, categorical distribution.
    """

    name: str
    data_type: str
    numeric: bool
    categorical: bool

    @property
    def is_string(self) -> bool:
        return self.data_type == "string"


def column_infos(spec: ProfileSpec, schema: Mapping[str, str]) -> tuple[ColumnInfo, ...]:
    """Classify the monitored columns from the table's schema (column -> Spark simpleString type)."""
    missing = [name for name in (*spec.monitored_columns, spec.timestamp_col) if name not in schema]
    if spec.model_id_col is not None and spec.model_id_col not in schema:
        missing.append(spec.model_id_col)
    if missing:
        raise ValueError(f"columns {missing} are not in {spec.table} (it has {sorted(schema)})")
    infos = []
    outcomes = {spec.prediction_col, spec.label_col}
    for name in spec.monitored_columns:
        data_type = schema[name]
        if data_type.startswith(_FLOATS) or data_type.startswith("decimal"):
            infos.append(ColumnInfo(name, data_type, numeric=True, categorical=False))
        elif data_type in _INTEGRALS:
            infos.append(ColumnInfo(name, data_type, numeric=True, categorical=name in outcomes))
        elif data_type in _CATEGORICALS:
            infos.append(ColumnInfo(name, data_type, numeric=False, categorical=True))
        else:
            raise ValueError(f"column {name!r} of {spec.table} has type {data_type}: only numeric, "
                             "string and boolean columns can be profiled")
    return tuple(infos)
