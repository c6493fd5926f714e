"""The engine protocol: run Spark SQL with bound parameters, get Arrow tables back.

Three implementations: local Spark (``local_spark``), a Databricks SQL warehouse (``sql_warehouse``)
and Spark Connect (``spark_connect``); code above this layer only sees :class:`Engine`,
:class:`EngineError` and :class:`TableNotFound`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol, runtime_checkable

import pyarrow


class EngineError(Exception):
    """A query or table operation failed; the message says what failed and where."""


class TableNotFound(EngineError):
    """A referenced table does not exist."""

    def __init__(self, table: str, looked_in: str) -> None:
        super().__init__(f"table {table} does not exist (looked in {looked_in})")
        self.table = table
        self.looked_in = looked_in

    def __reduce__(self) -> tuple[Any, ...]:
        return (type(self), (self.table, self.looked_in))


@runtime_checkable
class Engine(Protocol):
    """Runs Spark SQL. SQL uses named markers (``:name``); values are always bound, never pasted."""

    def table_ref(self, name: str) -> str:
        """SQL fragment that addresses the validated three-part table ``name``."""
        ...

    def table_exists(self, name: str) -> bool: ...

    def columns(self, name: str) -> dict[str, str]:
        """Column name -> Spark SQL type string (``simpleString``), in table order."""
        ...

    def query(self, sql: str, params: Mapping[str, Any] | None = None) -> pyarrow.Table: ...

    def cancel(self) -> None:
        """From another thread, at shutdown: end the queries running now (they raise EngineError) and
        refuse new ones. Returns without waiting for them to end."""
        ...

    def close(self) -> None: ...
