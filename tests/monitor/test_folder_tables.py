"""The local engine reads a table's folder through a catalog table per version of its files.

What must hold: a statement sees the files as they are now (a new file, a new column), the schema is
not read again while the files stay the same, partitioned folders and writes are left as written,
and a closed engine's tables are gone.
"""

from __future__ import annotations

import os
import uuid
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from monitor.engines.base import TableNotFound
from monitor.engines.local_spark import LocalSparkEngine

pytestmark = pytest.mark.integration


def _write(folder: Path, name: str, table: pa.Table) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    pq.write_table(table, folder / name)


@pytest.fixture
def engine(spark_engine: LocalSparkEngine) -> LocalSparkEngine:
    """An engine of its own (its own catalog tables) on the run's one Spark session and folder."""
    own = LocalSparkEngine(spark_engine.root)
    _ = own.spark
    yield own
    own.close()


def _name() -> str:
    return f"main.ft.t{uuid.uuid4().hex[:8]}"


def _run(engine: LocalSparkEngine, sql: str, name: str) -> list[dict[str, object]]:
    """``sql`` with ``{t}`` naming table ``name``, run on ``engine``."""
    return engine.query(sql.format(t=engine.table_ref(name))).to_pylist()


def test_a_new_file_or_a_new_column_is_seen_and_unchanged_files_keep_their_table(engine: LocalSparkEngine) -> None:
    name = _name()
    folder = engine.path(name)
    _write(folder, "part-0.parquet", pa.table({"a": [1, 2]}))

    def count() -> int:
        return int(str(_run(engine, "SELECT count(*) AS n FROM {t}", name)[0]["n"]))

    assert count() == 2
    assert count() == 2
    assert engine.folders.created == 1  # same files: same table, the schema not read again

    _write(folder, "part-1.parquet", pa.table({"a": [3]}))
    assert count() == 3
    assert engine.folders.created == 2

    for old in folder.glob("*.parquet"):
        os.unlink(old)
    _write(folder, "part-2.parquet", pa.table({"a": [4], "b": ["x"]}))
    assert _run(engine, "SELECT a, b FROM {t}", name) == [{"a": 4, "b": "x"}]


def test_the_metadata_column_reads_through_the_catalog_table(engine: LocalSparkEngine) -> None:
    name = _name()
    _write(engine.path(name), "part-0.parquet", pa.table({"a": [1, 2]}))
    got = _run(engine, "SELECT _metadata.file_name AS f FROM {t} WHERE _metadata.row_index = 0", name)
    assert got == [{"f": "part-0.parquet"}]
    assert engine.folders.created == 1


def test_partitioned_folders_and_writes_are_left_as_written(engine: LocalSparkEngine) -> None:
    parted = _name()
    _write(engine.path(parted) / "k=1", "part-0.parquet", pa.table({"a": [1, 2]}))
    _write(engine.path(parted) / "k=2", "part-0.parquet", pa.table({"a": [3]}))
    got = _run(engine, "SELECT k, count(*) AS n FROM {t} GROUP BY k ORDER BY k", parted)
    assert got == [{"k": 1, "n": 2}, {"k": 2, "n": 1}]

    assert engine.folders.created == 0

    flat = _name()
    _write(engine.path(flat), "part-0.parquet", pa.table({"a": [1]}))
    ref = engine.table_ref(flat)
    for write in (f"INSERT INTO {ref} SELECT 2 AS a", f"CREATE TABLE IF NOT EXISTS {ref} AS SELECT 1 AS a"):
        assert engine.folders.rewrite(write) == write
    assert engine.folders.created == 0
    assert ref not in engine.folders.rewrite(f"WITH x AS (SELECT a FROM {ref}) SELECT * FROM x")  # noqa: S608
    assert engine.folders.created == 1


def test_a_missing_table_is_still_reported_as_missing(engine: LocalSparkEngine) -> None:
    with pytest.raises(TableNotFound):
        _run(engine, "SELECT * FROM {t}", _name())


def test_a_closed_engine_leaves_none_of_its_tables(spark_engine: LocalSparkEngine) -> None:
    own = LocalSparkEngine(spark_engine.root)
    name = _name()
    _write(own.path(name), "part-0.parquet", pa.table({"a": [1]}))
    _run(own, "SELECT * FROM {t}", name)
    before = {t.name for t in spark_engine.spark.catalog.listTables("lakewarden_folders")}
    own.close()
    after = {t.name for t in spark_engine.spark.catalog.listTables("lakewarden_folders")}
    assert own.folders.created == 1 and len(before - after) == 1
