"""``lakewarden check`` through the SQL warehouse engine against the emulator, beside the local engine.

The same metric tables are judged twice: once by the local Spark engine reading the Parquet folders,
once by the SQL warehouse engine (databricks-sdk -> emulator -> the same Spark), with the metric
table names discovered from the emulated monitor. Exit code, output and every stored assessment
must be the same.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest
import sqlalchemy as sa

from monitor.cli import exitcodes, main
from monitor.engines.local_spark import LocalSparkEngine
from tests.databricks.dbx_support import COMMON, DATABRICKS, LOCAL, TOKEN, WAREHOUSE_ID
from tests.databricks.dbx_tables import put, write_metric_tables

pytestmark = [pytest.mark.integration, pytest.mark.usefixtures("restore_logging")]

TABLE = "main.dbx_check.inference"
OUTPUT_SCHEMA = "main.dbx_check_out"


@pytest.fixture(scope="module")
def tables(spark_engine: LocalSparkEngine) -> str:
    write_metric_tables(spark_engine.root, "dbx_check_out")
    put(spark_engine.root, TABLE, pa.table({"prediction": [0.5]}))
    return TABLE


def assessments(work: Path) -> list[dict[str, Any]]:
    engine = sa.create_engine(f"sqlite:///{work}/state.db")
    with engine.connect() as conn:
        rows = conn.execute(sa.text("SELECT * FROM monitor_assessments ORDER BY stream, window_start")).mappings()
        found = [{k: v for k, v in row.items() if k not in ("id", "created_at", "updated_at")} for row in rows]
    engine.dispose()
    return found


def check(path: Path, capsys: pytest.CaptureFixture[str]) -> tuple[int, list[str]]:
    code = main(["check", "--config", str(path)])
    return code, [line for line in capsys.readouterr().out.splitlines() if line.strip()]


def test_check_through_the_warehouse_finds_what_the_local_engine_finds(
        tmp_path: Path, tables: str, emulator, spark_engine: LocalSparkEngine,  # type: ignore[no-untyped-def]
        capsys: pytest.CaptureFixture[str]) -> None:
    emulator.monitors.add(tables, OUTPUT_SCHEMA, pending_seconds=0)
    local_work, remote_work = tmp_path / "local", tmp_path / "warehouse"
    for work in (local_work, remote_work):
        work.mkdir()
    local = local_work / "local.yaml"
    local.write_text(LOCAL.format(root=spark_engine.root, work=local_work) + COMMON.format(
        work=local_work, table=tables, extra=f", output_schema: {OUTPUT_SCHEMA}"), encoding="utf-8")
    remote = remote_work / "databricks.yaml"
    remote.write_text(DATABRICKS.format(warehouse=WAREHOUSE_ID, host=emulator.url, token=TOKEN) + COMMON.format(
        work=remote_work, table=tables, extra=""), encoding="utf-8")  # metric tables: from the monitor

    local_code, local_lines = check(local, capsys)
    remote_code, remote_lines = check(remote, capsys)

    assert local_code in (exitcodes.SEVERITY["high"], exitcodes.SEVERITY["critical"])
    assert (remote_code, remote_lines) == (local_code, local_lines)
    local_rows, remote_rows = assessments(local_work), assessments(remote_work)
    data = [row for row in local_rows if row["stream"] == "lakehouse:1 hour"]
    assert len(data) == 3 and any(row["findings"] != "[]" for row in data)
    assert [row for row in remote_rows if row["stream"] == "lakehouse:1 hour"] == data
    # The tables' freshness, judged by both engines alike (read at slightly different times): stale.
    local_fresh, remote_fresh = ([(r["severity"], r["findings"]) for r in rows if r["stream"] == "freshness:1h"]
                                 for rows in (local_rows, remote_rows))
    assert remote_fresh == local_fresh and local_fresh[0][0] == "medium" and "stale_data" in local_fresh[0][1]
    # On the workspace the monitor's status is judged too (its own stream): active, so no finding.
    (status,) = [row for row in remote_rows if row["stream"] == "lakehouse_monitor:1h"]
    assert (status["severity"], status["findings"]) == ("ok", "[]")
    assert emulator.router.requests("POST", "/api/2.0/sql/statements")  # it really went through the warehouse
    assert emulator.router.requests("GET", "/monitor|/api/data-quality/")  # and asked the monitor


def test_check_with_a_wrong_token_fails_the_model_with_a_clear_reason(
        tmp_path: Path, tables: str, emulator, capsys: pytest.CaptureFixture[str]) -> None:  # type: ignore[no-untyped-def]
    config = tmp_path / "databricks.yaml"
    config.write_text(DATABRICKS.format(warehouse=WAREHOUSE_ID, host=emulator.url, token="dapi-wrong") + COMMON.format(
        work=tmp_path, table=tables, extra=f", output_schema: {OUTPUT_SCHEMA}"), encoding="utf-8")
    code, lines = check(config, capsys)
    assert code == exitcodes.INCOMPLETE
    (line,) = lines
    assert "refused the credentials (401)" in line and "dapi-wrong" not in line


def test_monitors_status_and_refresh_commands(tmp_path: Path, tables: str, emulator,  # type: ignore[no-untyped-def]
                                              capsys: pytest.CaptureFixture[str]) -> None:
    config = tmp_path / "databricks.yaml"
    config.write_text(DATABRICKS.format(warehouse=WAREHOUSE_ID, host=emulator.url, token=TOKEN) + COMMON.format(
        work=tmp_path, table=tables, extra=""), encoding="utf-8")
    assert main(["monitors", "status", "--config", str(config)]) == exitcodes.INCOMPLETE
    assert "churn                    missing    main.dbx_check.inference" in capsys.readouterr().out

    emulator.monitors.add(tables, OUTPUT_SCHEMA, pending_seconds=0)
    emulator.monitors.refresh_pending = emulator.monitors.refresh_running = 0
    assert main(["monitors", "status", "--config", str(config)]) == exitcodes.OK
    assert "-> main.dbx_check_out.inference_profile_metrics, main.dbx_check_out.inference_drift_metrics" in \
        capsys.readouterr().out
    assert main(["monitors", "refresh", "churn", "--config", str(config), "--wait"]) == exitcodes.OK
    assert "ended success" in capsys.readouterr().out

    emulator.monitors.refresh_outcomes.append(("FAILED", "Column ts not found"))
    assert main(["monitors", "refresh", "churn", "--config", str(config), "--wait"]) == exitcodes.ERROR
    capsys.readouterr()
    assert main(["monitors", "status", "--config", str(config)]) == exitcodes.INCOMPLETE  # the newest refresh failed
    assert "churn                    refresh failed main.dbx_check.inference (data_quality): Column ts not found" in \
        capsys.readouterr().out
    assert main(["monitors", "status", "--config", str(config), "--json"]) == exitcodes.INCOMPLETE
    (status,) = json.loads(capsys.readouterr().out)
    assert (status["model"], status["state"], status["problem"]) == ("churn", "refresh failed", "Column ts not found")
