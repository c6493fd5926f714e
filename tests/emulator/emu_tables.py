"""Unity Catalog tables over the lakehouse folder: ``cat.sch.t`` is Parquet at ``<root>/cat/sch/t``.

Serves ``GET /api/2.1/unity-catalog/tables/{name}`` (with a stable table UUID and Spark's column
types) and ``.../exists``, and rewrites three-part names in SQL to the Parquet folders, each named
through a catalog table with its schema known, as a warehouse resolves a table from its catalog
(lakewarden's ``FolderTables``, as its local engine does; without it every statement would also run a
footer-reading Spark job per table it names).
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from emu_http import ApiError, Request, Router

from monitor.engines.folder_tables import FolderTables

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

_QUOTED = r"`((?:[^`]|``)+)`"
_THREE_QUOTED = re.compile(rf"{_QUOTED}\.{_QUOTED}\.{_QUOTED}")
_THREE_PLAIN = re.compile(r"(?i)\b(FROM|JOIN)\s+([A-Za-z_]\w*)\.([A-Za-z_]\w*)\.([A-Za-z_]\w*)\b")
_PART = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_UUID_NAMESPACE = uuid.UUID("6f1c1b8e-0f6c-4c53-9d0a-3f2f1f6f7a10")


class SqlFailure(Exception):
    """A statement failed the way a warehouse reports it: an error code and a message."""

    def __init__(self, message: str, error_code: str = "BAD_REQUEST") -> None:
        super().__init__(message)
        self.error_code = error_code


def table_uuid(full_name: str) -> str:
    return str(uuid.uuid5(_UUID_NAMESPACE, full_name.lower()))


class Tables:
    def __init__(self, root: Path, spark: Callable[[], SparkSession]) -> None:
        self.root = root
        self.spark = spark
        self.denied: set[str] = set()   # tables whose SELECT is refused (names as cat.sch.t)
        self.folders = FolderTables(spark)

    def path(self, full_name: str) -> Path | None:
        parts = full_name.split(".")
        if len(parts) != 3 or not all(_PART.fullmatch(p) for p in parts):
            return None
        return self.root.joinpath(*parts)

    def exists(self, full_name: str) -> bool:
        path = self.path(full_name)
        return path is not None and path.is_dir() and any(path.rglob("*.parquet"))

    def by_uuid(self, table_id: str) -> str | None:
        for path in self.root.glob("*/*/*"):
            name = ".".join(path.relative_to(self.root).parts)
            if table_uuid(name) == table_id and self.exists(name):
                return name
        return None

    def info(self, full_name: str) -> dict[str, Any]:
        if not self.exists(full_name):
            raise ApiError(404, "TABLE_DOES_NOT_EXIST", f"Table '{full_name}' does not exist.")
        path = self.path(full_name)
        schema = self.folders.schema(str(path))
        catalog, schema_name, name = full_name.split(".")
        columns = [
            {"name": f.name, "type_text": f.dataType.simpleString(), "type_name": _type_name(f.dataType),
             "position": i, "nullable": f.nullable}
            for i, f in enumerate(schema.fields)
        ]
        return {"name": name, "catalog_name": catalog, "schema_name": schema_name, "full_name": full_name,
                "table_type": "MANAGED", "data_source_format": "PARQUET", "table_id": table_uuid(full_name),
                "storage_location": f"file:{path}", "columns": columns}

    def rewrite(self, sql: str) -> str:
        """Three-part table names -> ``parquet.`<folder>```; a missing or refused table fails like Databricks."""

        def folder(catalog: str, schema: str, name: str) -> str:
            full_name = f"{catalog}.{schema}.{name}"
            if full_name in self.denied:
                raise SqlFailure(f"[INSUFFICIENT_PERMISSIONS] Insufficient privileges: User does not have SELECT "
                                 f"on Table '{full_name}'.")
            if not self.exists(full_name):
                raise SqlFailure(f"[TABLE_OR_VIEW_NOT_FOUND] The table or view `{catalog}`.`{schema}`.`{name}` "
                                 "cannot be found. Verify the spelling and correctness of the schema and catalog.")
            return "parquet.`" + str(self.path(full_name)).replace("`", "``") + "`"

        def quoted(match: re.Match[str]) -> str:
            return folder(*(g.replace("``", "`") for g in match.groups()))

        def plain(match: re.Match[str]) -> str:
            return f"{match.group(1)} " + folder(match.group(2), match.group(3), match.group(4))

        return self.folders.rewrite(_THREE_PLAIN.sub(plain, _THREE_QUOTED.sub(quoted, sql)))

    def register(self, router: Router) -> None:
        router.add("GET", "/api/2.1/unity-catalog/tables/{name}", lambda r: (200, self.info(r.params["name"])))
        router.add("GET", "/api/2.1/unity-catalog/tables/{name}/exists", self._exists)

    def _exists(self, request: Request) -> tuple[int, Any]:
        return 200, {"table_exists": self.exists(request.params["name"])}


def _type_name(data_type: Any) -> str:
    name = type(data_type).__name__.removesuffix("Type").upper()
    return {"INTEGER": "INT", "TIMESTAMPNTZ": "TIMESTAMP"}.get(name, name)
