"""A statement the driver was sent, written out as plain SQL with its values inline (for a DBA to read).

Only for ``lakewarden state upgrade --sql``: the values are the migrations' own (versions, timestamps,
fixed strings), never user input, and the text is printed, not executed by lakewarden.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from datetime import date, datetime
from decimal import Decimal
from typing import Any

_NAMED = re.compile(r"%\((\w+)\)s")  # pyformat (psycopg)
_QMARK = re.compile(r"\?")  # qmark (sqlite3)
_NUMERIC = re.compile(r":(\w+)")  # named (sqlite3 with named parameters)


def literal(value: Any) -> str:
    """``value`` as a SQL literal."""
    if value is None:
        return "NULL"
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, int | float | Decimal):
        return repr(value) if not isinstance(value, Decimal) else str(value)
    if isinstance(value, datetime | date):
        return _quote(value.isoformat(" ") if isinstance(value, datetime) else value.isoformat())
    if isinstance(value, bytes | bytearray | memoryview):
        return "X'" + bytes(value).hex() + "'"
    if isinstance(value, Mapping | list | tuple):
        return _quote(json.dumps(value, sort_keys=True))
    wrapped = getattr(value, "obj", None)  # psycopg's Json wrapper (SQLAlchemy's JSON on psycopg)
    if wrapped is not None:
        return _quote(json.dumps(wrapped, sort_keys=True))
    return _quote(str(value))


def _quote(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def render_statement(statement: str, parameters: Any, paramstyle: str) -> str:
    """``statement`` with ``parameters`` written in, ending with ``;``."""
    text = statement.strip()
    if parameters:
        if paramstyle == "pyformat" and isinstance(parameters, Mapping):
            text = _NAMED.sub(lambda m: literal(parameters[m.group(1)]), text).replace("%%", "%")
        elif paramstyle == "named" and isinstance(parameters, Mapping):
            text = _NUMERIC.sub(lambda m: literal(parameters[m.group(1)]), text)
        elif isinstance(parameters, Sequence):
            values = iter(parameters)
            text = _QMARK.sub(lambda _m: literal(next(values)), text)
    elif paramstyle == "pyformat":
        text = text.replace("%%", "%")
    return text + ";"
