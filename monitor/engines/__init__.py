"""Engines run Spark SQL for lakewarden and return Arrow tables."""

from monitor.engines.base import Engine, EngineError, TableNotFound
from monitor.engines.identifiers import TableName, quote_ident, validate_table_name

__all__ = ["Engine", "EngineError", "TableName", "TableNotFound", "quote_ident", "validate_table_name"]
