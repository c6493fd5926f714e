"""Statement Execution results (INLINE + JSON_ARRAY) back into typed Arrow tables.

In JSON_ARRAY every non-null value is a string and nested values (arrays, maps, structs) are JSON
text; the manifest's ``type_text`` (``BIGINT``, ``DECIMAL(10,2)``, ``STRUCT<start: TIMESTAMP, ...>``)
says what each column is. Timestamps are UTC (Spark's TIMESTAMP is an instant); TIMESTAMP_NTZ stays
naive. A type this module does not know is kept as its text, never dropped.
"""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Callable, Sequence
from datetime import date, datetime
from decimal import Decimal
from typing import Any

import pyarrow as pa

from config.basics.clock import utc

_SIMPLE: dict[str, pa.DataType] = {
    "TINYINT": pa.int8(), "BYTE": pa.int8(), "SMALLINT": pa.int16(), "SHORT": pa.int16(),
    "INT": pa.int32(), "INTEGER": pa.int32(), "BIGINT": pa.int64(), "LONG": pa.int64(),
    "FLOAT": pa.float32(), "REAL": pa.float32(), "DOUBLE": pa.float64(), "BOOLEAN": pa.bool_(),
    "STRING": pa.string(), "DATE": pa.date32(), "TIMESTAMP": pa.timestamp("us", tz="UTC"),
    "TIMESTAMP_LTZ": pa.timestamp("us", tz="UTC"), "TIMESTAMP_NTZ": pa.timestamp("us"),
    "BINARY": pa.binary(), "VOID": pa.null(), "NULL": pa.null(),
}
_TOKEN = re.compile(r"\s*(`(?:[^`]|``)+`|[A-Za-z_][A-Za-z0-9_]*|\d+|[<>(),:])")


class TypeText:
    """A tiny recursive-descent parser for Spark type text."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.tokens = [m.group(1) for m in _TOKEN.finditer(text)]
        self.pos = 0

    def parse(self) -> pa.DataType:
        parsed = self._type()
        if self.pos != len(self.tokens):
            raise ValueError(f"unexpected {self.tokens[self.pos]!r} in type {self.text!r}")
        return parsed

    def _next(self) -> str:
        if self.pos >= len(self.tokens):
            raise ValueError(f"type {self.text!r} ends early")
        token = self.tokens[self.pos]
        self.pos += 1
        return token

    def _peek(self) -> str | None:
        return self.tokens[self.pos] if self.pos < len(self.tokens) else None

    def _expect(self, token: str) -> None:
        found = self._next()
        if found != token:
            raise ValueError(f"expected {token!r}, found {found!r} in type {self.text!r}")

    def _numbers(self) -> list[int]:
        numbers: list[int] = []
        if self._peek() == "(":
            self._next()
            while True:
                numbers.append(int(self._next()))
                if self._next() == ")":
                    break
        return numbers

    def _type(self) -> pa.DataType:
        name = self._next().upper()
        if name == "ARRAY":
            self._expect("<")
            item = self._type()
            self._expect(">")
            return pa.list_(item)
        if name == "MAP":
            self._expect("<")
            key = self._type()
            self._expect(",")
            value = self._type()
            self._expect(">")
            return pa.map_(key, value)
        if name == "STRUCT":
            return self._struct()
        numbers = self._numbers()
        if name in ("DECIMAL", "DEC", "NUMERIC"):
            precision, scale = (numbers + [10, 0][len(numbers):])[:2]
            return pa.decimal128(precision, scale)
        if name in ("VARCHAR", "CHAR"):
            return pa.string()
        if name in _SIMPLE:
            return _SIMPLE[name]
        raise ValueError(f"unknown type {name} in {self.text!r}")

    def _struct(self) -> pa.DataType:
        self._expect("<")
        fields: list[pa.Field] = []
        while self._peek() != ">":
            raw = self._next()
            name = raw[1:-1].replace("``", "`") if raw.startswith("`") else raw
            self._expect(":")
            fields.append(pa.field(name, self._type()))
            if self._peek() == ",":
                self._next()
        self._expect(">")
        return pa.struct(fields)


def arrow_type(type_text: str | None, type_name: str | None = None) -> pa.DataType:
    """The Arrow type for a manifest column; unknown types (INTERVAL, VARIANT, ...) become strings."""
    for text in (type_text, type_name):
        if text:
            try:
                return TypeText(text).parse()
            except ValueError:
                continue
    return pa.string()


def _timestamp(text: str, aware: bool) -> datetime:
    value = datetime.fromisoformat(text.strip().replace(" ", "T", 1).replace("Z", "+00:00"))
    if not aware:
        return value.replace(tzinfo=None)
    return utc(value)


def _float(value: Any) -> float:
    return float(value) if not isinstance(value, str) else float(value.replace("Infinity", "inf"))


def _bool(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).lower()
    if text not in ("true", "false"):
        raise ValueError(f"not a boolean: {value!r}")
    return text == "true"


def converter(kind: pa.DataType) -> Callable[[Any], Any]:
    """A function from one JSON_ARRAY value (a string, or a JSON value inside nested text) to Python."""
    if pa.types.is_integer(kind):
        return int
    if pa.types.is_floating(kind):
        return _float
    if pa.types.is_boolean(kind):
        return _bool
    if pa.types.is_decimal(kind):
        return lambda v: Decimal(str(v))
    if pa.types.is_date(kind):
        return lambda v: date.fromisoformat(str(v)[:10])
    if pa.types.is_timestamp(kind):
        aware = kind.tz is not None
        return lambda v: _timestamp(str(v), aware)
    if pa.types.is_binary(kind):
        return base64.b64decode
    if pa.types.is_null(kind):
        return lambda _v: None
    if pa.types.is_list(kind) or pa.types.is_map(kind) or pa.types.is_struct(kind):
        return _nested(kind)
    return lambda v: v if isinstance(v, str) else json.dumps(v)


def _nested(kind: pa.DataType) -> Callable[[Any], Any]:
    def parse(value: Any) -> Any:
        return json.loads(value) if isinstance(value, str) else value

    if pa.types.is_list(kind):
        item = converter(kind.value_type)
        return lambda v: [None if x is None else item(x) for x in parse(v)]
    if pa.types.is_map(kind):
        key, val = converter(kind.key_type), converter(kind.item_type)
        return lambda v: [(key(k), None if x is None else val(x)) for k, x in parse(v).items()]
    fields = [(f.name, converter(f.type)) for f in kind]

    def struct(value: Any) -> dict[str, Any]:
        data = parse(value)
        return {name: None if data.get(name) is None else convert(data[name]) for name, convert in fields}

    return struct


def to_arrow(columns: Sequence[Any], rows: Sequence[Sequence[Any]]) -> pa.Table:
    """Rows of JSON_ARRAY strings and the manifest's columns -> a typed Arrow table.

    ``columns`` are the SDK's ``ColumnInfo`` objects (``name``, ``type_text``, ``type_name``).
    """
    ordered = sorted(columns, key=lambda c: c.position if c.position is not None else 0)
    arrays, fields = [], []
    for index, column in enumerate(ordered):
        type_name = column.type_name.value if column.type_name is not None else None
        kind = arrow_type(column.type_text, type_name)
        convert = converter(kind)
        try:
            values = [None if row[index] is None else convert(row[index]) for row in rows]
        except (ValueError, TypeError, ArithmeticError) as exc:
            raise ValueError(f"column {column.name} ({column.type_text}): cannot read a value: {exc}") from exc
        arrays.append(pa.array(values, type=kind))
        fields.append(pa.field(str(column.name), kind))
    return pa.Table.from_arrays(arrays, schema=pa.schema(fields))


def from_arrow_chunks(columns: Sequence[Any], chunks: Sequence[pa.Table]) -> pa.Table:
    """ARROW_STREAM chunks -> one table typed as the manifest says, the same as :func:`to_arrow` gives.

    The warehouse's Arrow types are kept where they already match; otherwise (e.g. a timestamp zone
    spelled ``Etc/UTC``) each column is cast to the manifest's type.
    """
    ordered = sorted(columns, key=lambda c: c.position if c.position is not None else 0)
    fields = [pa.field(str(c.name), arrow_type(c.type_text, c.type_name.value if c.type_name is not None else None))
              for c in ordered]
    schema = pa.schema(fields)
    if not chunks:
        return schema.empty_table()
    table = pa.concat_tables(chunks, promote_options="permissive") if len(chunks) > 1 else chunks[0]
    if table.num_columns != len(fields):
        raise ValueError(f"the Arrow result has {table.num_columns} columns, the manifest {len(fields)}")
    arrays = []
    for field, array in zip(fields, table.columns, strict=True):
        try:
            arrays.append(array if array.type == field.type else array.cast(field.type))
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as exc:
            raise ValueError(f"column {field.name}: cannot read {array.type} as {field.type}: {exc}") from exc
    return pa.Table.from_arrays(arrays, schema=schema)
