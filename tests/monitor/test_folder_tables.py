"""``monitor.engines.folder_tables``: a folder is resolved once per version of its files, and a
statement still sees every file written before it."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from monitor.engines.folder_tables import folder_tables
from monitor.engines.local_spark import LocalSparkEngine

pytestmark = pytest.mark.integration


def _write(folder: Path, part: int, values: list[int]) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    pq.write_table(pa.table({"v": pa.array(values, type=pa.int64())}), folder / f"part-{part}.parquet")


def _tables(spark_engine: LocalSparkEngine) -> set[str]:
    return {t.name for t in spark_engine.spark.catalog.listTables("default") if t.name.startswith("lakewarden_folder_")}


def test_a_folder_is_one_table_per_version_of_its_files(spark_engine: LocalSparkEngine) -> None:
    folder = spark_engine.root / "main" / "folder_tables" / "t"
    _write(folder, 0, [1, 2])
    ref = "parquet.`" + str(folder) + "`"
    sql = f"SELECT sum(v) AS s, count(*) AS n FROM {ref}"  # noqa: S608 - a test's own folder

    def total() -> tuple[int, int]:
        row = spark_engine.query(sql).to_pylist()[0]
        return row["s"], row["n"]

    registry = folder_tables(spark_engine.spark)
    first = registry.rewrite(sql)
    assert ref not in first and "default.lakewarden_folder_" in first
    assert registry.rewrite(sql) == first  # unchanged files: the same table, not resolved again
    assert total() == (3, 2)

    _write(folder, 1, [10])  # a refresh appends a file: a new version, a new table that sees it
    second = registry.rewrite(sql)
    assert second != first and total() == (13, 3)
    # Spark's own file metadata still resolves through the table (the warehouse's version probe uses it).
    probe = spark_engine.query(f"SELECT _metadata.file_name AS f FROM {ref} WHERE _metadata.row_index = 0")  # noqa: S608
    assert sorted(probe.column("f").to_pylist()) == ["part-0.parquet", "part-1.parquet"]

    before = _tables(spark_engine)
    _write(folder, 2, [100])
    assert total() == (113, 4)
    # Two versions keep their tables (a statement may still run on the older); the one before goes.
    dropped = first.split("default.", 1)[1].split()[0]
    assert dropped in before and dropped not in _tables(spark_engine)
    folder_prefix = dropped[:len("lakewarden_folder_") + 16]
    assert len([t for t in _tables(spark_engine) if t.startswith(folder_prefix)]) == 2


def test_folders_without_data_or_with_subfolders_keep_their_reference(spark_engine: LocalSparkEngine,
                                                                    tmp_path: Path) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    partitioned = tmp_path / "partitioned"
    _write(partitioned / "day=1", 0, [1])
    _write(partitioned, 0, [2])
    registry = folder_tables(spark_engine.spark)
    for folder in (empty, partitioned, tmp_path / "missing"):
        sql = "SELECT * FROM parquet.`" + str(folder) + "`"  # noqa: S608 - a test's own folder
        assert registry.rewrite(sql) == sql  # Spark resolves (or refuses) it itself, as before
