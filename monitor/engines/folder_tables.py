"""Local Spark: each table's folder read through a catalog table whose schema is already known.

A statement that names ``parquet.`<folder>``` makes Spark infer the folder's schema again, at every
statement and for every table it names: a Spark job that serializes the whole Hadoop configuration
(compressed) and reads a footer: the largest item in a sample of the JVM's threads during a fleet's
poll cycle (bench/RESULTS.md, "Fleet"). So a ``SELECT`` (or ``WITH``) statement names, for each
flat folder (no subfolders), a catalog table created over it with the schema Spark gave its files
(``lakewarden_folders.t<id>_<n>``).

A table belongs to one version of the folder's files (names, sizes, modification times): new or
changed files make a new table, whose first statement lists and reads them, so a statement always
sees the files as they are. The previous version's table stays until the next replaces it (a
statement may still be resolving it). Spark keeps no resolved relation of these tables
(``spark.sql.filesourceTableRelationCacheSize`` 0 in ``DEFAULT_CONF``): each statement lists the
folder again, which costs little, where a kept relation costs about half a megabyte of driver heap.
Other statements (``CREATE``, ``INSERT``) and folders with subfolders (partitions) are left as written.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import re
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pyspark.sql import SparkSession
    from pyspark.sql.types import StructType

DATABASE = "lakewarden_folders"
_REF = re.compile(r"parquet\.`((?:[^`]|``)+)`")  # how the local engines name a table (``table_ref``)
_READS = re.compile(r"(?is)\s*(?:\(\s*)*(SELECT|WITH)\b")

Files = tuple[str, ...]


@dataclass(frozen=True)
class _Made:
    files: Files  # the version of the folder's files it was made for
    table: str
    schema: StructType
    previous: str | None  # the table of the version before, kept until the next replaces this one


class FolderTables:
    def __init__(self, spark: Callable[[], SparkSession]) -> None:
        self._spark = spark
        self.created = 0  # catalog tables made: one per folder and version of its files
        self._prefix = f"{DATABASE}.t{uuid.uuid4().hex[:8]}_"  # engines of one process share the session
        self._made: dict[str, _Made] = {}  # by folder
        self._locks: dict[str, threading.Lock] = {}
        self._lock = threading.Lock()
        self._ids = itertools.count()

    def rewrite(self, sql: str) -> str:
        """``sql`` with each ``parquet.`<flat folder>``` named through its catalog table (reads only)."""
        if not _READS.match(sql):
            return sql

        def table(match: re.Match[str]) -> str:
            made = self._current(_unquote(match.group(1)))
            return match.group(0) if made is None else made.table

        return _REF.sub(table, sql)

    def schema(self, folder: str) -> StructType:
        """The schema Spark gives the folder's files as they are now (read once per version of them)."""
        made = self._current(folder)
        return self._spark().read.parquet(folder).schema if made is None else made.schema

    def _current(self, folder: str) -> _Made | None:
        """The table for the folder's files as they are now; None for a partitioned or empty folder
        (named as written: Spark says what it says about it)."""
        files = _files(folder)
        if not files:
            return None
        with self._lock:
            lock = self._locks.setdefault(folder, threading.Lock())
        with lock:
            known = self._made.get(folder)
            if known is not None and known.files == files:
                return known
            spark = self._spark()
            schema = spark.read.parquet(folder).schema
            table = f"{self._prefix}{next(self._ids)}"
            spark.sql(f"CREATE DATABASE IF NOT EXISTS {DATABASE}")
            spark.catalog.createTable(table, path=folder, source="parquet", schema=schema)
            with self._lock:
                self.created += 1
            if known is not None and known.previous is not None:
                self._drop(known.previous)
            made = _Made(files, table, schema, known.table if known is not None else None)
            self._made[folder] = made
            return made

    def forget(self) -> None:
        """Drop every table made here (the files stay: the tables are external), e.g. before Spark stops."""
        with self._lock:
            made, self._made = self._made, {}
        for one in made.values():
            for table in (one.table, one.previous):
                if table is not None:
                    self._drop(table)

    def _drop(self, table: str) -> None:
        with contextlib.suppress(Exception):  # the session is stopping or gone: nothing left to drop
            self._spark().sql(f"DROP TABLE IF EXISTS {table}")


def named_folders(sql: str) -> list[str]:
    """The folders ``sql`` names as ``parquet.`<folder>```, in order."""
    return [_unquote(raw) for raw in _REF.findall(sql)]


def _unquote(raw: str) -> str:
    return raw.replace("``", "`")


def _files(folder: str) -> Files | None:
    """The folder's Parquet data files (name, size, modification time); None when some lie in
    subfolders or the folder cannot be read, () when it holds none."""
    found = []
    try:
        with os.scandir(folder) as entries:
            for entry in entries:
                if entry.name.startswith(("_", ".")):
                    continue
                if entry.is_dir():
                    return None
                if entry.name.endswith(".parquet"):
                    stat = entry.stat()
                    found.append(f"{entry.name}:{stat.st_size}:{stat.st_mtime_ns}")
    except OSError:
        return None
    return tuple(sorted(found))
