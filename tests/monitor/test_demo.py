"""A short demo run end to end: the real daemon flags drift, alerts, retrains, and resolves on recovery."""

from __future__ import annotations

import io
import json
import shlex
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path

import pytest
import sqlalchemy as sa

from config.basics.severity import severity_rank
from monitor.cli import main
from monitor.demo import data
from monitor.demo.next_steps import NEXT_COMMANDS
from monitor.demo.runner import MARKER, prepare_workdir, run_demo
from monitor.engines.local_spark import LocalSparkEngine
from retrain import MlflowRegistry
from tests.docs_examples import Block, blocks, run_block

pytestmark = pytest.mark.integration

# Drift in windows 1-2 of 6. With the default persistence (fire on 2 of the last 3 windows, resolve on 2
# quiet ones) the alert fires at window 2 and resolves at window 4; window 5 leaves time to deliver it.
# Starting at 04:00, the second drifted window is 06:00-07:00, as in `make demo`, which the docs' examples show.
SCENARIO = data.DemoScenario(start=datetime(2025, 3, 3, 4, tzinfo=UTC), windows=6, drift_from=1,
                             drift_until=3, rows_per_window=800, baseline_rows=1600,
                             training_rows=2000)


def _lines(path: Path) -> list[dict[str, object]]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


@pytest.mark.usefixtures("restore_logging")
def test_demo_flags_drift_alerts_retrains_and_resolves(spark_engine: LocalSparkEngine, tmp_path: Path,
                                                       monkeypatch: pytest.MonkeyPatch,
                                                       capsys: pytest.CaptureFixture[str]) -> None:
    del spark_engine  # the demo's engine shares this run's Spark session instead of starting one
    out = io.StringIO()
    workdir = tmp_path / "demo"
    assert run_demo(str(workdir), SCENARIO, retrain=True, out=out) == 0
    timeline = out.getvalue()

    with sa.create_engine(f"sqlite:///{workdir}/state.db").connect() as conn:
        judged = conn.execute(sa.text(
            "SELECT severity, state_firing, alert_severity FROM monitor_assessments WHERE stream = 'lakehouse:1 hour' "
            "ORDER BY window_start")).all()
        severities = [row.severity for row in judged]
        outbox = {row.status: row.n for row in conn.execute(sa.text(
            "SELECT status, count(*) AS n FROM alerts_outbox GROUP BY status"))}
        runs = [row.state for row in conn.execute(sa.text("SELECT state FROM retrain_runs ORDER BY created_at"))]
        endpoint = conn.execute(sa.text("SELECT config FROM retrain_local_endpoints WHERE name = 'churn'")).scalar()
    assert len(severities) == SCENARIO.windows
    calm, drifted, recovered = severities[:1], severities[1:3], severities[3:]
    assert set(calm) == {"ok"} and set(recovered) == {"ok"}
    assert set(drifted) <= {"high", "critical"}
    # One drifted window does not page, the second does; one quiet window does not resolve, the second does.
    assert [bool(row.state_firing) for row in judged] == [False, False, True, True, False, False]
    assert judged[2].alert_severity == judged[3].alert_severity == min(drifted, key=severity_rank)

    notes = _lines(workdir / "alerts.jsonl")
    log = [n for n in notes if n["alerts"][0]["labels"]["alertname"] == "ModelAtRisk"]  # type: ignore[index]
    assert [n["status"] for n in log] == ["firing", "resolved"]
    fired, resolved = log
    assert fired["alerts"][0]["fingerprint"] == resolved["alerts"][0]["fingerprint"]  # type: ignore[index]
    assert fired["alerts"][0]["labels"]["model"] == "churn"  # type: ignore[index]
    assert "prediction drift" in fired["alerts"][0]["annotations"]["summary"]  # type: ignore[index]
    assert [n["status"] for n in _lines(workdir / "pages.jsonl")] == ["firing", "resolved"]
    assert set(outbox) == {"done"}  # nothing pending, nothing dead

    # The drift run went all the way (canary, then all traffic); the noisy-label challenger changed nothing.
    assert runs == ["succeeded", "rejected"]
    registry = MlflowRegistry(f"sqlite:///{workdir}/mlflow.db")
    assert registry.get_alias("churn", "champion") == "2"
    assert registry.get_alias("churn", "previous_champion") == "1"
    assert registry.get_alias("churn", "challenger") is None
    rejected = registry.client.get_model_version("churn", "3")
    assert rejected.tags["lakewarden.validation"] == "rejected"
    assert json.loads(endpoint)["routes"] == {"churn-2": 100}
    lifecycle = [n for n in notes if n["alerts"][0]["labels"]["alertname"] == "LifecycleRun"]  # type: ignore[index]
    assert [n["status"] for n in lifecycle] == ["firing", "resolved", "firing", "resolved"]
    assert all(n["alerts"][0]["labels"]["severity"] == "info" for n in lifecycle)  # type: ignore[index]
    for words in ("risk", "alert FIRING", "alert RESOLVED", "canary: version 2 serves 20%", "lifecycle succeeded",
                  "lifecycle rejected", "unchanged", "windows judged"):
        assert words in timeline

    # Every notification sent is printed, with why; no Python reprs.
    with sa.create_engine(f"sqlite:///{workdir}/state.db").connect() as conn:
        sent = conn.execute(sa.text("SELECT count(*) FROM alerts_outbox WHERE status = 'done' "
                                    "AND superseded_by IS NULL")).scalar()
    assert timeline.count("      sent     ") == sent > 0, timeline
    assert "      sent     on-call/file: FIRING ModelAtRisk{model=churn," in timeline
    assert "{'" not in timeline and "sends 100% to churn-2: unchanged" in timeline
    # It ends with commands to try, and each works on the state it left.
    config = workdir / "lakewarden.yaml"
    assert f"export LAKEWARDEN_CONFIG={config}" in timeline
    monkeypatch.setenv("LAKEWARDEN_CONFIG", str(config))
    capsys.readouterr()
    for command in NEXT_COMMANDS:
        assert command in timeline
        argv = shlex.split(command, comments=True)
        assert argv[0] == "lakewarden" and main(argv[1:]) == 0, (command, capsys.readouterr())
    assert "ModelAtRisk" in capsys.readouterr().out
    _the_docs_examples_hold_on_the_demo(workdir, timeline, monkeypatch, capsys)


def _the_docs_examples_hold_on_the_demo(workdir: Path, timeline: str, monkeypatch: pytest.MonkeyPatch,
                                        capsys: pytest.CaptureFixture[str]) -> None:
    """The docs' ``world=demo`` examples (explain after `make demo`, profile on Spark) run on the state the
    demo left, with its config under the names the docs use; numbers may differ (this demo is shorter)."""
    del timeline
    found = blocks()
    (workdir / "config" / "examples").mkdir(parents=True)
    (workdir / "config" / "examples" / "local.yaml").write_text((workdir / "lakewarden.yaml").read_text())
    monkeypatch.setenv("LAKEWARDEN_HOME", str(workdir))

    def run(argv: list[str], env: Mapping[str, str]) -> tuple[int, str, str]:
        del env  # LAKEWARDEN_HOME is set above
        monkeypatch.chdir(workdir)
        capsys.readouterr()
        code = main(argv)
        out, err = capsys.readouterr()
        return code, out, err

    examples: list[Block] = [b for b in found if b.world == "demo"]
    assert examples
    for block in examples:
        problems = run_block(block, run, {"LAKEWARDEN_HOME": str(workdir)}, any_number=True)
        assert problems == [], f"{block}:\n" + "\n".join(problems)


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
