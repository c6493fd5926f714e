"""Parquet folders as tables of the Spark session's catalog, so a statement does not resolve them again.

Each ``parquet.`<folder>``` in a statement makes Spark list the folder and read a file's footer for
the schema, at every statement: measured 0.2-0.3 s per reference on this project's two cores, most of
a small statement's cost and all of a wide batched one's (bench/RESULTS.md, "Fleet"). A table of the
session's in-memory catalog (external, ``USING parquet`` at the folder) keeps both: Spark caches its
resolved relation (``spark.sql.filesourceTableRelationCacheSize``, raised by the local engine so a
fleet's tables all fit), and the same statements cost 0.05 s per table.

:meth:`FolderTables.rewrite` puts such a table in place of every reference. The table is named for
the folder *and its version* (names, sizes and modification times of its data files:
:func:`folder_version`), so a statement sees every file written before it started, as before: a new
file is a new version, a new table (listed and its schema read again). A version's table stays
until the folder has a version after the next (so a statement still running on it is not left
without its table), then it is dropped; dropping an external table leaves its files alone. A folder
without a data file keeps its reference: Spark's own error says what is missing.

One registry per SparkSession (:func:`folder_tables`), shared by everything that queries it (the
local engine, the Databricks emulator of the tests): the catalog is the session's.
"""

from __future__ import annotations

import hashlib
import os
import re
import threading
import weakref
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

PARQUET_REF = re.compile(r"parquet\.`((?:[^`]|``)+)`")
_PREFIX = "lakewarden_folder_"
_KEPT = 2  # versions of a folder that keep their table: the newest and the one before


def folder_version(path: Path) -> str | None:
    """A digest of the folder's Parquet data files (relative path, size, mtime in ns); None: none there."""
    entries = []
    if path.is_dir():
        for dirpath, dirnames, filenames in os.walk(path):
            dirnames[:] = [d for d in dirnames if not d.startswith(("_", "."))]
            for name in filenames:
                if name.endswith(".parquet") and not name.startswith(("_", ".")):
                    stat = os.stat(os.path.join(dirpath, name))
                    entries.append(f"{os.path.relpath(os.path.join(dirpath, name), path)}:{stat.st_size}:"
                                   f"{stat.st_mtime_ns}")
    if not entries:
        return None
    return hashlib.sha256("\n".join(sorted(entries)).encode()).hexdigest()[:20]


@dataclass
class _Folder:
    lock: threading.Lock = field(default_factory=threading.Lock)
    tables: list[tuple[str, str]] = field(default_factory=list)  # (version, table), oldest first


class FolderTables:
    """``parquet.`<folder>``` references -> catalog tables of ``spark``, one per folder version."""

    def __init__(self, spark: SparkSession) -> None:
        self._spark = spark
        self._lock = threading.Lock()
        self._folders: dict[str, _Folder] = {}

    def rewrite(self, sql: str) -> str:
        """``sql`` with each reference to a folder that holds data replaced by that folder's table."""
        names: dict[str, str] = {}
        for raw in dict.fromkeys(PARQUET_REF.findall(sql)):
            table = self.table(raw.replace("``", "`"))
            if table is not None:
                names[raw] = table
        if not names:
            return sql
        return PARQUET_REF.sub(lambda m: names.get(m.group(1), m.group(0)), sql)

    def table(self, folder: str) -> str | None:
        """The catalog table of ``folder`` as its files are now (created if new); None: no data file
        there, or subfolders (partitions, which a catalog table would need registered: left to Spark)."""
        from pyspark.errors import AnalysisException  # noqa: PLC0415 - pyspark is slow to import

        version = folder_version(Path(folder))
        if version is None or any(d.is_dir() and not d.name.startswith(("_", ".")) for d in Path(folder).iterdir()):
            return None
        with self._lock:
            entry = self._folders.setdefault(folder, _Folder())
        with entry.lock:
            for known, table in entry.tables:
                if known == version:
                    return table
            table = f"default.{_PREFIX}{hashlib.sha256(folder.encode()).hexdigest()[:16]}_{version[:12]}"
            try:
                self._spark.catalog.createTable(table, path=folder, source="parquet")
            except AnalysisException as exc:  # another session of this SparkContext made it: the same files
                if exc.getCondition() != "TABLE_OR_VIEW_ALREADY_EXISTS":
                    raise
            entry.tables.append((version, table))
            while len(entry.tables) > _KEPT:
                _, old = entry.tables.pop(0)
                self._spark.sql(f"DROP TABLE IF EXISTS {old}")
            return table


_REGISTRY: weakref.WeakKeyDictionary[SparkSession, FolderTables] = weakref.WeakKeyDictionary()
_REGISTRY_LOCK = threading.Lock()


def folder_tables(spark: SparkSession) -> FolderTables:
    """The registry of ``spark``'s folder tables (one per session: its catalog holds them)."""
    with _REGISTRY_LOCK:
        tables = _REGISTRY.get(spark)
        if tables is None:
            tables = _REGISTRY[spark] = FolderTables(spark)
        return tables
