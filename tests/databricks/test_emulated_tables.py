"""The emulated warehouse names each table's folder through a catalog table (``FolderTables``).

What must not change by it: a statement sees the files as they are now (new files, a new column),
a folder partitioned into subfolders still reads, and the emulator's tables go when it stops.
"""

from __future__ import annotations

import os
import uuid
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from monitor.engines.local_spark import LocalSparkEngine
from monitor.engines.sql_warehouse import SqlWarehouseEngine
from tests.databricks.dbx_support import WAREHOUSE_ID

pytestmark = pytest.mark.integration


def _run(engine: SqlWarehouseEngine, sql: str, name: str) -> list[dict[str, object]]:
    """``sql`` with ``{t}`` naming table ``main.emu.<name>``, run through the warehouse."""
    return engine.query(sql.format(t=f"main.emu.{name}")).to_pylist()


def _write(folder: Path, name: str, table: pa.Table) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    pq.write_table(table, folder / name)


def test_a_table_is_resolved_once_per_version_of_its_files_and_sees_every_change(  # type: ignore[no-untyped-def]
        workspace, emulator, spark_engine: LocalSparkEngine) -> None:
    name = f"t{uuid.uuid4().hex[:8]}"
    folder = spark_engine.root / "main" / "emu" / name
    engine = SqlWarehouseEngine(workspace, WAREHOUSE_ID)
    _write(folder, "part-0.parquet", pa.table({"a": [1, 2]}))

    def count() -> int:
        return int(str(_run(engine, "SELECT count(*) AS n FROM {t}", name)[0]["n"]))

    assert count() == 2
    assert count() == 2
    assert emulator.tables.folders.created == 1  # unchanged files: the same table, no schema read again

    _write(folder, "part-1.parquet", pa.table({"a": [3]}))
    assert count() == 3
    assert emulator.tables.folders.created == 2

    for old in folder.glob("*.parquet"):
        os.unlink(old)
    _write(folder, "part-2.parquet", pa.table({"a": [4], "b": ["x"]}))
    got = _run(engine, "SELECT a, b FROM {t}", name)
    assert got == [{"a": 4, "b": "x"}]


def test_a_partitioned_folder_still_reads_and_the_tables_go_with_the_emulator(  # type: ignore[no-untyped-def]
        workspace, emulator, spark_engine: LocalSparkEngine) -> None:
    name = f"t{uuid.uuid4().hex[:8]}"
    folder = spark_engine.root / "main" / "emu" / name
    _write(folder / "k=1", "part-0.parquet", pa.table({"a": [1, 2]}))
    _write(folder / "k=2", "part-0.parquet", pa.table({"a": [3]}))
    flat = f"f{uuid.uuid4().hex[:8]}"
    _write(spark_engine.root / "main" / "emu" / flat, "part-0.parquet", pa.table({"a": [1]}))
    engine = SqlWarehouseEngine(workspace, WAREHOUSE_ID)
    catalog = spark_engine.spark.catalog

    def tables() -> set[str]:  # every engine of the run's session makes its own there
        return {t.name for t in catalog.listTables("lakewarden_folders")} if catalog.databaseExists(
            "lakewarden_folders") else set()

    before = tables()
    got = _run(engine, "SELECT k, count(*) AS n FROM {t} GROUP BY k ORDER BY k", name)
    assert got == [{"k": 1, "n": 2}, {"k": 2, "n": 1}]
    _run(engine, "SELECT * FROM {t}", flat)
    made = tables() - before
    assert emulator.tables.folders.created == 1 and len(made) == 1  # the flat folder only

    emulator.stop()
    assert not tables() & made
