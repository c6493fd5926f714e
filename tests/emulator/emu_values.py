"""Statement values both ways: named parameters in, and JSON_ARRAY cells and manifest columns out.

Parameters ``{name, value, type}`` become Python values of their SQL type for Spark; results become
strings (every non-null value, nested values as JSON) with Databricks' ``type_name``/``type_text``.
"""

from __future__ import annotations

import base64
import json
import math
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from emu_http import bad_request

_INT_TYPES = ("BIGINT", "LONG", "INT", "INTEGER", "SMALLINT", "SHORT", "TINYINT", "BYTE")


def bind(parameters: list[dict[str, Any]]) -> dict[str, Any]:
    """Named parameters ``{name, value, type}`` as Python values of their SQL type (no type: STRING)."""
    args: dict[str, Any] = {}
    for item in parameters:
        name, value, kind = item.get("name"), item.get("value"), str(item.get("type") or "STRING").upper()
        if not name:
            raise bad_request("every parameter needs a name")
        try:
            args[name] = None if value is None else _typed(str(value), kind)
        except (ValueError, ArithmeticError) as exc:
            raise bad_request(f"parameter {name!r}: cannot read {value!r} as {kind} ({exc})") from exc
    return args


def _typed(value: str, kind: str) -> Any:
    if kind == "STRING":
        return value
    if kind in _INT_TYPES:
        return int(value)
    if kind in ("DOUBLE", "FLOAT"):
        return float(value)
    if kind.startswith("DECIMAL"):
        return Decimal(value)
    if kind == "BOOLEAN":
        if value.lower() not in ("true", "false"):
            raise ValueError("expected true or false")
        return value.lower() == "true"
    if kind == "DATE":
        return date.fromisoformat(value)
    if kind in ("TIMESTAMP", "TIMESTAMP_LTZ"):
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
        return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)
    raise ValueError(f"unsupported parameter type {kind}")


def column(position: int, spark_field: Any) -> dict[str, Any]:
    name, text = _type(spark_field.dataType)
    column: dict[str, Any] = {"name": spark_field.name, "position": position, "type_name": name, "type_text": text}
    if name == "DECIMAL":
        column["type_precision"] = spark_field.dataType.precision
        column["type_scale"] = spark_field.dataType.scale
    return column


def _type(data_type: Any) -> tuple[str, str]:
    """The manifest's ``type_name`` and ``type_text`` for a Spark type, as Databricks writes them."""
    kind = type(data_type).__name__
    simple = {"ByteType": ("BYTE", "TINYINT"), "ShortType": ("SHORT", "SMALLINT"), "IntegerType": ("INT", "INT"),
              "LongType": ("LONG", "BIGINT"), "FloatType": ("FLOAT", "FLOAT"), "DoubleType": ("DOUBLE", "DOUBLE"),
              "StringType": ("STRING", "STRING"), "BooleanType": ("BOOLEAN", "BOOLEAN"), "DateType": ("DATE", "DATE"),
              "TimestampType": ("TIMESTAMP", "TIMESTAMP"), "TimestampNTZType": ("TIMESTAMP", "TIMESTAMP_NTZ"),
              "BinaryType": ("BINARY", "BINARY"), "NullType": ("NULL", "VOID")}
    if kind in simple:
        return simple[kind]
    if kind == "DecimalType":
        return "DECIMAL", f"DECIMAL({data_type.precision},{data_type.scale})"
    if kind == "ArrayType":
        return "ARRAY", f"ARRAY<{_type(data_type.elementType)[1]}>"
    if kind == "MapType":
        return "MAP", f"MAP<{_type(data_type.keyType)[1]}, {_type(data_type.valueType)[1]}>"
    if kind == "StructType":
        inner = ", ".join(f"{f.name}: {_type(f.dataType)[1]}" for f in data_type.fields)
        return "STRUCT", f"STRUCT<{inner}>"
    return "STRING", data_type.simpleString().upper()


def text(value: Any) -> str | None:
    """One JSON_ARRAY cell: every non-null value as a string; nested values as JSON."""
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (dict, list)):
        return json.dumps(_jsonable(value))
    return str(_jsonable(value))


def _jsonable(value: Any) -> Any:
    if isinstance(value, bool):
        return value
    if isinstance(value, float):
        if math.isnan(value):
            return "NaN"
        if math.isinf(value):
            return "Infinity" if value > 0 else "-Infinity"
        return value
    if isinstance(value, datetime):
        utc = value.astimezone(UTC) if value.tzinfo else value
        fraction = f".{utc.microsecond:06d}" if utc.microsecond else ".000"
        return utc.strftime("%Y-%m-%dT%H:%M:%S") + fraction + ("Z" if value.tzinfo else "")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, bytes):
        return base64.b64encode(value).decode()
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, list):
        if value and all(isinstance(v, tuple) and len(v) == 2 for v in value):  # Arrow map -> JSON object
            return {str(k): _jsonable(v) for k, v in value}
        return [_jsonable(v) for v in value]
    return value
