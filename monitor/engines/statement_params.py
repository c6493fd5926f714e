"""Query parameters as Statement Execution named parameters: ``{name, value, type}``, value a string.

The type is what the local engine infers from the same Python value, so ``:since`` is a TIMESTAMP
on every engine and ``:granularity`` a STRING. Naive datetimes are refused, as everywhere.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

MAX_DECIMAL_PRECISION = 38


def _decimal_type(value: Decimal) -> str:
    _sign, digits, exponent = value.as_tuple()
    scale = max(0, -int(exponent))
    precision = min(MAX_DECIMAL_PRECISION, max(len(digits), scale, 1))
    return f"DECIMAL({precision},{scale})"


def parameter(name: str, value: Any) -> tuple[str | None, str]:
    """The (value text, SQL type) of one parameter; None stays NULL."""
    if value is None:
        return None, "STRING"
    if isinstance(value, bool):
        return ("true" if value else "false"), "BOOLEAN"
    if isinstance(value, int):
        return str(value), "BIGINT"
    if isinstance(value, float):
        if math.isnan(value):
            return "NaN", "DOUBLE"
        if math.isinf(value):
            return ("Infinity" if value > 0 else "-Infinity"), "DOUBLE"
        return repr(value), "DOUBLE"
    if isinstance(value, Decimal):
        return str(value), _decimal_type(value)
    if isinstance(value, datetime):
        return refuse_naive(name, value).astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ"), "TIMESTAMP"
    if isinstance(value, date):
        return value.isoformat(), "DATE"
    if isinstance(value, str):
        return value, "STRING"
    raise TypeError(f"query parameter {name!r}: values of type {type(value).__name__} cannot be bound")


def refuse_naive(name: str, value: datetime) -> datetime:
    """``value`` unchanged, or a ValueError if it is naive: every engine's check of a time parameter."""
    if value.tzinfo is None:
        raise ValueError(f"query parameter {name!r} is a naive datetime; pass a timezone-aware UTC time")
    return value


def statement_parameters(params: Mapping[str, Any] | None) -> list[dict[str, str | None]]:
    """Named parameters for ``execute_statement``, as plain dicts (name, value, type)."""
    out: list[dict[str, str | None]] = []
    for name, value in (params or {}).items():
        text, kind = parameter(name, value)
        out.append({"name": name, "value": text, "type": kind})
    return out
