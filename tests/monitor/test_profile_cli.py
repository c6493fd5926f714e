"""``lakewarden profile`` end to end on real Spark: driven by the example config, and by flags alone."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pyarrow as pa
import pytest

import alerts
import retrain
from monitor import schema
from monitor.cli import main
from monitor.demo.data import DemoScenario
from monitor.engines.local_spark import LocalSparkEngine
from monitor.state.store import StateStore, create_engine

pytestmark = pytest.mark.integration

EXAMPLE = Path(__file__).resolve().parents[2] / "config" / "examples" / "local.yaml"
SCENARIO = DemoScenario(windows=3, rows_per_window=300, baseline_rows=600)


def opened_as_by_the_daemon(url: str) -> bool:
    """``--state URL`` is opened with every package's migrations, as the daemon opens its state."""
    store = StateStore(create_engine(url))
    try:
        found = {p: store.version(p) for p in ("monitor", "alerts", "retrain")}
    finally:
        store.close()
    return found == {"monitor": len(schema.MIGRATIONS), "alerts": len(alerts.MIGRATIONS),
                     "retrain": len(retrain.MIGRATIONS)}


@pytest.mark.usefixtures("spark_engine")  # the command's engine joins the run's one Spark session
def test_profile_from_the_example_config_is_incremental(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                        capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("LAKEWARDEN_HOME", str(tmp_path))
    engine = LocalSparkEngine(tmp_path / "lakehouse")
    try:
        engine.write("main.demo.churn_baseline", SCENARIO.baseline(), mode="overwrite")
        engine.write("main.demo.churn_inference", pa.concat_tables([SCENARIO.frame(i) for i in range(3)]),
                     mode="overwrite")
        now = (SCENARIO.window(2)[1] + timedelta(minutes=1)).isoformat()
        assert main(["profile", "--config", str(EXAMPLE), "--now", now]) == 0
        first = capsys.readouterr().out
        assert "churn [1 hour]: 3 windows written, baseline rows written" in first
        assert "main.demo.churn_inference_profile_metrics" in first
        assert main(["profile", "--config", str(EXAMPLE), "--model", "churn", "--now", now]) == 0
        assert "0 windows written, reference reused" in capsys.readouterr().out
        rows = engine.query("SELECT count(1) AS n FROM "  # noqa: S608
                            f"{engine.table_ref('main.demo.churn_inference_drift_metrics')} "
                            "WHERE drift_type = 'CONSECUTIVE' AND column_name = 'prediction'").to_pylist()
        assert rows == [{"n": 2}]
        assert (tmp_path / "state.db").exists()
    finally:
        engine.close()


@pytest.mark.usefixtures("spark_engine")
def test_profile_by_flags_and_a_clear_error_for_a_bad_column(tmp_path: Path,
                                                             capsys: pytest.CaptureFixture[str]) -> None:
    engine = LocalSparkEngine(tmp_path)
    try:
        engine.write("main.flags.t", SCENARIO.frame(0), mode="overwrite")
        args = ["profile", "--lakehouse-root", str(tmp_path), "--table", "main.flags.t", "--granularity", "1 hour",
                "--features", "age,contract", "--prediction-column", "prediction", "--label-column", "label",
                "--custom-metric", "positive_rate=avg(CAST(prediction AS DOUBLE))", "--slice", "contract"]
        state = f"sqlite:///{tmp_path}/flags-state.db"
        assert main([*args, "--state", state]) == 0
        assert "main.flags.t [1 hour]: 1 windows written" in capsys.readouterr().out
        assert opened_as_by_the_daemon(state)
        columns = engine.columns("main.flags.t_profile_metrics")
        assert list(columns)[-1] == "positive_rate" and "accuracy_score" in columns
        assert main([*args[:7], "--features", "no_such_column"]) == 1
        assert "no_such_column" in capsys.readouterr().err
    finally:
        engine.close()
