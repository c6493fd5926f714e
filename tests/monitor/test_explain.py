"""``lakewarden explain MODEL``: the stored verdict, its findings by contribution, and why the rest was not raised."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest

from config import load_settings
from monitor.app import open_state
from monitor.assessments import AssessmentStore
from monitor.cli import main
from monitor.risk import judge
from tests.monitor.judge_support import T0, drift, model, profile, window

CONFIG = """
state: {{url: "sqlite:///{tmp}/state.db"}}
models:
  - name: churn
    sources: {{lakehouse: {{table: main.ml.t, label_column: label}}}}
route: {{receiver: log}}
receivers:
  - name: log
    file_configs: [{{path: "{tmp}/alerts.jsonl"}}]
"""


@pytest.fixture
def config(tmp_path: Path) -> str:
    path = tmp_path / "config.yaml"
    path.write_text(CONFIG.format(tmp=tmp_path))
    state = open_state(load_settings(path))
    store = AssessmentStore(state.engine, lambda: T0)
    rows = (drift("prediction", js_distance=0.25, chi_squared_pvalue=1e-9),
            drift("age", js_distance=0.35, ks_pvalue=1e-6), drift("tenure", js_distance=0.02, ks_pvalue=0.4),
            drift("contract", js_distance=0.3, chi_squared_pvalue=0.2), profile("age", 1000, nulls=10))
    for index in range(2):
        w = replace(window(*rows, index=index), version=f"v{index}")
        store.record(judge(model(), w, store.prior("churn", w.stream, w.window_start, 5)), model().risk)
    state.close()
    return str(path)


def test_explain_prints_the_latest_verdict_with_reasons(config: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["explain", "churn", "--config", config]) == 0
    out = capsys.readouterr().out
    assert "churn  lakehouse:1 hour  window 2026-01-01 01:00 - 2026-01-01 02:00 UTC (1,000 rows" in out
    assert "risk " in out and "stream firing at high (firing: 2 of the last 2 windows at or above medium" in out
    assert "model alert now: high; when this window was judged: high" in out
    raised = out.index("raised, by contribution")
    assert out.index("+  75  prediction drift: js_distance 0.25") > raised
    first = out.index("prediction drift: js_distance 0.25")
    assert out.index("+  60  feature drift: js_distance 0.35 on `age`") > first
    assert "2 of the last 2 windows" in out
    assert "not significant: feature drift on `contract` (baseline): js_distance 0.3 reaches high" in out
    assert "metrics below their lowest tier; --all lists them" in out
    assert "tenure" not in out


def test_explain_all_lists_what_stayed_below_its_tiers(config: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["explain", "churn", "--config", config, "--all"]) == 0
    out = capsys.readouterr().out
    assert "below its lowest tier: feature drift on `tenure` (baseline): js_distance 0.02 below low 0.1" in out


def test_explain_a_given_window_and_replay_it(config: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["explain", "churn", "--config", config, "--window", "2026-01-01T00:00", "--replay"]) == 0
    out = capsys.readouterr().out
    assert "window 2026-01-01 00:00 - 2026-01-01 01:00 UTC" in out
    assert "stream not firing: 1 of the last 1 windows at or above medium, 2 needed" in out
    assert "model alert now: high; when this window was judged: not firing" in out
    assert "replayed with the current config" in out and "same findings" in out


def test_explain_json(config: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["explain", "churn", "--config", config, "--json"]) == 0
    [row] = json.loads(capsys.readouterr().out)
    assert row["stream"] == "lakehouse:1 hour" and row["findings"][0]["signal"] == "prediction_drift"
    assert row["inputs"]["window"]["drift"][0]["column"] == "prediction"


def test_explain_unknown_model_or_window(config: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["explain", "fraud", "--config", config]) == 2
    assert "no model named 'fraud'" in capsys.readouterr().out
    assert main(["explain", "churn", "--config", config, "--window", "2030-01-01T00:00"]) == 1
    assert "no assessment of churn for the window starting 2030-01-01T00:00" in capsys.readouterr().out
    assert main(["explain", "churn", "--config", config, "--window", "yesterday"]) == 2
    assert "is not an ISO 8601 time" in capsys.readouterr().out


def test_explain_history_lists_the_judged_windows_newest_first(config: str,
                                                              capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["explain", "churn", "--config", config, "--history"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "churn: 2 judged windows, newest first; model alert now: high"
    assert lines[1].split() == ["window", "(UTC)", "stream", "severity", "risk", "stream", "state", "alert", "then",
                                "top", "finding"]
    newest, oldest = lines[2], lines[3]
    assert newest.startswith("  2026-01-01 01:00 - 2026-01-01 02:00  lakehouse:1 hour")
    assert "firing high" in newest and "prediction drift: js_distance 0.25" in newest
    assert oldest.startswith("  2026-01-01 00:00 - 2026-01-01 01:00  lakehouse:1 hour")
    assert "not firing       not firing" in oldest  # the stream, and the model's alert, as they stood then
    assert main(["explain", "churn", "--config", config, "--history", "--limit", "1"]) == 0
    assert len(capsys.readouterr().out.splitlines()) == 3


def test_explain_history_json(config: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["explain", "churn", "--config", config, "--history", "--json"]) == 0
    newest, oldest = json.loads(capsys.readouterr().out)
    assert newest["window_start"] == "2026-01-01T01:00:00+00:00" and newest["stream"] == "lakehouse:1 hour"
    assert (newest["severity"], newest["state_firing"], newest["state_severity"], newest["alert_severity"]) == (
        "high", True, "high", "high")
    assert newest["top_finding"].startswith("prediction drift: js_distance 0.25")
    assert (oldest["state_firing"], oldest["alert_severity"]) == (False, "ok")
    assert set(newest) == {"window_start", "window_end", "stream", "severity", "risk", "findings", "top_finding",
                           "state_firing", "state_severity", "state_reason", "alert_severity", "revision"}


def test_explain_history_refuses_single_window_options(config: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["explain", "churn", "--config", config, "--history", "--window", "2026-01-01T00:00"]) == 2
    assert "--history lists windows" in capsys.readouterr().out
    with pytest.raises(SystemExit):
        main(["explain", "churn", "--config", config, "--history", "--limit", "0"])
