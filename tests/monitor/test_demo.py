"""A short demo run end to end: the real daemon flags drift, alerts, retrains, and resolves on recovery."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest
import sqlalchemy as sa

from monitor.demo import data
from monitor.demo.runner import MARKER, prepare_workdir, run_demo
from monitor.engines.local_spark import LocalSparkEngine
from retrain import MlflowRegistry

pytestmark = pytest.mark.integration

SCENARIO = data.DemoScenario(windows=6, drift_from=2, drift_until=4, rows_per_window=800, baseline_rows=1600,
                             training_rows=2000)


def _lines(path: Path) -> list[dict[str, object]]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def test_demo_flags_drift_alerts_retrains_and_resolves(spark_engine: LocalSparkEngine, tmp_path: Path) -> None:
    del spark_engine  # the demo's engine shares this run's Spark session instead of starting one
    out = io.StringIO()
    workdir = tmp_path / "demo"
    assert run_demo(str(workdir), SCENARIO, retrain=True, out=out) == 0
    timeline = out.getvalue()

    with sa.create_engine(f"sqlite:///{workdir}/state.db").connect() as conn:
        severities = [row.severity for row in conn.execute(sa.text(
            "SELECT severity FROM monitor_assessments ORDER BY window_start"))]
        outbox = {row.status: row.n for row in conn.execute(sa.text(
            "SELECT status, count(*) AS n FROM alerts_outbox GROUP BY status"))}
        runs = [row.state for row in conn.execute(sa.text("SELECT state FROM retrain_runs"))]
    assert len(severities) == SCENARIO.windows
    calm, drifted, recovered = severities[:2], severities[2:4], severities[4:]
    assert set(calm) == {"ok"} and set(recovered) == {"ok"}
    assert set(drifted) <= {"high", "critical"}

    log = _lines(workdir / "alerts.jsonl")
    assert [n["status"] for n in log] == ["firing", "resolved"]
    fired, resolved = log
    assert fired["alerts"][0]["fingerprint"] == resolved["alerts"][0]["fingerprint"]  # type: ignore[index]
    assert fired["alerts"][0]["labels"]["model"] == "churn"  # type: ignore[index]
    assert "prediction drift" in fired["alerts"][0]["annotations"]["summary"]  # type: ignore[index]
    assert [n["status"] for n in _lines(workdir / "pages.jsonl")] == ["firing", "resolved"]
    assert outbox == {"done": 4}

    assert runs == ["succeeded"]
    registry = MlflowRegistry(f"sqlite:///{workdir}/mlflow.db")
    assert registry.get_alias("churn", "champion") == "2"
    assert registry.get_alias("churn", "previous_champion") == "1"
    for words in ("risk", "alert FIRING", "alert RESOLVED", "lifecycle succeeded", "windows judged"):
        assert words in timeline


def test_demo_refuses_to_delete_a_folder_it_did_not_make(tmp_path: Path) -> None:
    (tmp_path / "precious.txt").write_text("keep me")
    with pytest.raises(RuntimeError, match="not made by the demo"):
        prepare_workdir(tmp_path)
    assert (tmp_path / "precious.txt").exists()


def test_demo_rebuilds_its_own_folder(tmp_path: Path) -> None:
    prepare_workdir(tmp_path / "d")
    (tmp_path / "d" / "old.db").write_text("x")
    prepare_workdir(tmp_path / "d")
    assert sorted(p.name for p in (tmp_path / "d").iterdir()) == [MARKER]
