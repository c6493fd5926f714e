"""Where a model's observations come from: names shared by the sources, and the inference (payload) source.

The Lakehouse metrics source is in ``config.models``.
"""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Literal

from pydantic import Field, field_validator

from config.base import Strict
from config.durations import Duration, at_least

Granularity = Literal["5 minutes", "30 minutes", "1 hour", "1 day", "1 week", "1 month", "1 year"]
ColumnType = Literal["double", "float", "bigint", "int", "string", "boolean"]

_PART = r"[A-Za-z_][A-Za-z0-9_]*"
_TABLE = re.compile(rf"^{_PART}\.{_PART}\.{_PART}$")
SCHEMA_PATTERN = re.compile(rf"^{_PART}\.{_PART}$")
_COLUMN = re.compile(rf"^{_PART}$")


def check_table(value: str) -> str:
    if not _TABLE.match(value):
        raise ValueError(f"a three-part table name catalog.schema.table (letters, digits, _), not {value!r}")
    return value


def check_column(value: str) -> str:
    if not _COLUMN.match(value):
        raise ValueError(f"a column name (letters, digits, _), not {value!r}")
    return value


class ProcessedTable(Strict):
    """Where the unpacked requests and responses go: one row per scored record.

    ``columns`` names the request's features and their types, in the order of positional requests
    (``instances``/``inputs`` given as lists of values). The table gets ``request_id``, the timestamp,
    the model id, the features, and the prediction (``prediction_field`` picks a field when each
    prediction is an object). A Lakehouse monitor, or lakewarden's profile writer, can watch it.
    """

    table: str
    columns: dict[str, ColumnType]
    prediction_column: str = "prediction"
    prediction_type: ColumnType = "double"
    prediction_field: str | None = None
    timestamp_column: str = "timestamp"
    model_id_column: str = "model_id"

    @field_validator("table")
    @classmethod
    def _table(cls, value: str) -> str:
        return check_table(value)

    @field_validator("prediction_column", "timestamp_column", "model_id_column", "prediction_field")
    @classmethod
    def _column(cls, value: str | None) -> str | None:
        return None if value is None else check_column(value)

    @field_validator("columns")
    @classmethod
    def _columns(cls, value: dict[str, ColumnType]) -> dict[str, ColumnType]:
        if not value:
            raise ValueError("at least one feature column: {name: type}")
        for name in value:
            check_column(name)
        return value


class InferenceSource(Strict):
    """A model serving endpoint's inference (payload) table: AI Gateway or legacy auto-capture schema.

    Per window of each granularity: request volume, error rate by status code, latency quantiles,
    logging errors and freshness, computed by SQL in the engine. A window is judged once ``settle``
    has passed after its end (payload logging lags), and re-judged while it is younger than
    ``recheck`` if late rows change its numbers. ``served_entity`` keeps one served entity's rows
    (AI Gateway ``served_entity_id``; legacy ``request_metadata['model_version']``).
    """

    table: str
    payload_schema: Literal["auto", "ai_gateway", "legacy"] = "auto"
    granularity: Granularity = "1 hour"
    granularities: tuple[Granularity, ...] = ()
    served_entity: str | None = None
    lookback: Duration = Field(default="2d", validate_default=True)
    recheck: Duration = Field(default="2h", validate_default=True)
    settle: Duration = Field(default="10m", validate_default=True)

    _lookback = field_validator("lookback")(at_least(timedelta(minutes=1), "a shorter lookback reads no window"))
    processed: ProcessedTable | None = None

    @field_validator("table")
    @classmethod
    def _table(cls, value: str) -> str:
        return check_table(value)

    @property
    def all_granularities(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys((self.granularity, *self.granularities)))
