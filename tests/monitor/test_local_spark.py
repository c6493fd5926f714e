from __future__ import annotations

import stat
from datetime import UTC, datetime
from pathlib import Path

import pyarrow as pa
import pytest

from monitor.engines.base import Engine, EngineError, TableNotFound
from monitor.engines.local_spark import LocalSparkEngine, java_major_version, require_java

PEOPLE = pa.table({
    "id": pa.array([1, 2, 3], type=pa.int32()),
    "name": pa.array(["ann", "bob", "o'brien"]),
    "score": pa.array([0.5, 1.5, None], type=pa.float64()),
    "seen": pa.array([datetime(2025, 1, 1, h, tzinfo=UTC) for h in (1, 2, 3)], type=pa.timestamp("us", tz="UTC")),
    "visits": pa.array([10, 20, 30], type=pa.int64()),
})


@pytest.fixture(scope="module")
def people(spark_engine: LocalSparkEngine) -> str:
    name = "main.engine_test.people"
    spark_engine.write(name, PEOPLE, mode="overwrite")
    return name


# -- without Spark -------------------------------------------------------------------------------


def test_table_ref_points_at_the_folder_and_escapes_backticks(tmp_path: Path) -> None:
    engine = LocalSparkEngine(tmp_path / "we`ird")
    assert engine.table_ref("main.ml.churn") == f"parquet.`{tmp_path}/we``ird/main/ml/churn`"


def test_table_ref_rejects_invalid_names(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="'ml-x'"):
        LocalSparkEngine(tmp_path).table_ref("main.ml-x.churn")


def test_table_exists_needs_a_folder_with_parquet(tmp_path: Path) -> None:
    engine = LocalSparkEngine(tmp_path)
    assert not engine.table_exists("main.ml.churn")
    folder = tmp_path / "main" / "ml" / "churn"
    folder.mkdir(parents=True)
    (folder / "_SUCCESS").write_text("")
    assert not engine.table_exists("main.ml.churn")
    (folder / "part-0.parquet").write_bytes(b"")
    assert engine.table_exists("main.ml.churn")


def test_local_engine_satisfies_the_engine_protocol(tmp_path: Path) -> None:
    assert isinstance(LocalSparkEngine(tmp_path), Engine)


# -- Java detection (real subprocesses) ----------------------------------------------------------


def _fake_java(home: Path, version_line: str) -> Path:
    (home / "bin").mkdir(parents=True)
    java = home / "bin" / "java"
    java.write_text(f"#!/bin/sh\necho '{version_line}' >&2\n")
    java.chmod(java.stat().st_mode | stat.S_IEXEC)
    return home


@pytest.mark.integration
@pytest.mark.parametrize(("line", "major"), [
    ('openjdk version "17.0.15" 2025-04-15', 17),
    ('openjdk version "21" 2023-09-19', 21),
    ('java version "1.8.0_392"', 8),
])
def test_java_major_version_reads_java_home(tmp_path: Path, line: str, major: int) -> None:
    home = _fake_java(tmp_path / "jdk", line)
    assert java_major_version({"JAVA_HOME": str(home)}) == major


@pytest.mark.integration
def test_old_java_is_refused_with_install_advice(tmp_path: Path) -> None:
    home = _fake_java(tmp_path / "jdk", 'openjdk version "11.0.22" 2024-01-16')
    with pytest.raises(EngineError, match=r"Java 17 or newer.*found Java 11.*openjdk-17-jre-headless"):
        require_java({"JAVA_HOME": str(home)})


def test_missing_java_is_refused_with_install_advice(tmp_path: Path) -> None:
    with pytest.raises(EngineError, match=r"no java found via PATH.*JAVA_HOME"):
        require_java({"PATH": str(tmp_path)})


# -- with the shared Spark session ---------------------------------------------------------------


@pytest.mark.integration
def test_query_binds_parameters_as_values(spark_engine: LocalSparkEngine, people: str) -> None:
    ref = spark_engine.table_ref(people)
    injection = "x' OR '1'='1"
    rows = spark_engine.query(f"SELECT id FROM {ref} WHERE name = :name", {"name": injection})  # noqa: S608
    assert rows.num_rows == 0
    echoed = spark_engine.query("SELECT :v AS v", {"v": injection}).column("v").to_pylist()
    assert echoed == [injection]
    found = spark_engine.query(f"SELECT id FROM {ref} WHERE name = :name", {"name": "o'brien"})  # noqa: S608
    assert found.column("id").to_pylist() == [3]


@pytest.mark.integration
def test_query_binds_timestamps_and_returns_utc_arrow_types(spark_engine: LocalSparkEngine, people: str) -> None:
    sql = (f"SELECT id, name, score, seen, visits, named_struct('a', id, 'b', name) AS s "  # noqa: S608
           f"FROM {spark_engine.table_ref(people)} WHERE seen >= :since ORDER BY id")
    result = spark_engine.query(sql, {"since": datetime(2025, 1, 1, 2, tzinfo=UTC)})
    assert result.column("id").to_pylist() == [2, 3]
    assert result.schema.field("id").type == pa.int32()
    assert result.schema.field("visits").type == pa.int64()
    assert result.schema.field("score").type == pa.float64()
    assert result.schema.field("name").type == pa.string()
    assert result.schema.field("seen").type == pa.timestamp("us", tz="UTC")
    assert pa.types.is_struct(result.schema.field("s").type)
    assert result.column("seen").to_pylist()[0] == datetime(2025, 1, 1, 2, tzinfo=UTC)


@pytest.mark.integration
def test_naive_datetime_parameters_are_refused(spark_engine: LocalSparkEngine) -> None:
    with pytest.raises(ValueError, match="naive datetime"):
        spark_engine.query("SELECT :t AS t", {"t": datetime(2025, 1, 1)})  # noqa: DTZ001


@pytest.mark.integration
def test_columns_give_spark_type_strings_in_table_order(spark_engine: LocalSparkEngine, people: str) -> None:
    assert list(spark_engine.columns(people).items()) == [
        ("id", "int"), ("name", "string"), ("score", "double"), ("seen", "timestamp"), ("visits", "bigint"),
    ]


@pytest.mark.integration
def test_missing_table_raises_table_not_found_naming_it(spark_engine: LocalSparkEngine) -> None:
    name = "main.engine_test.nowhere"
    with pytest.raises(TableNotFound, match=r"table main\.engine_test\.nowhere does not exist") as info:
        spark_engine.query(f"SELECT * FROM {spark_engine.table_ref(name)}")  # noqa: S608
    assert info.value.table == name
    assert str(spark_engine.path(name)) in str(info.value)
    with pytest.raises(TableNotFound, match=r"main\.engine_test\.nowhere"):
        spark_engine.columns(name)


@pytest.mark.integration
def test_spark_errors_become_engine_errors_with_message_and_sql(spark_engine: LocalSparkEngine,
                                                                 people: str) -> None:
    with pytest.raises(EngineError, match=r"UNRESOLVED_COLUMN.*SQL: 'SELECT no_such_column") as info:
        spark_engine.query(f"SELECT no_such_column FROM {spark_engine.table_ref(people)}")  # noqa: S608
    assert not isinstance(info.value, TableNotFound)


@pytest.mark.integration
def test_write_appends_or_overwrites(spark_engine: LocalSparkEngine) -> None:
    name = "main.engine_test.writes"
    part = PEOPLE.slice(0, 2)
    spark_engine.write(name, part, mode="overwrite")
    spark_engine.write(name, part, mode="append")
    count = "SELECT count(1) AS n FROM " + spark_engine.table_ref(name)  # noqa: S608
    assert spark_engine.query(count).column("n").to_pylist() == [4]
    spark_engine.write(name, part, mode="overwrite")
    assert spark_engine.query(count).column("n").to_pylist() == [2]
    with pytest.raises(ValueError, match="write mode"):
        spark_engine.write(name, part, mode="upsert")  # type: ignore[arg-type]
