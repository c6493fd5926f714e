"""``lakewarden lifecycle ...``: the real CLI (``monitor.cli.main``) against a real SQLite state database.

Runs in states the CLI cannot make itself (running with job ids, finished) are written with the
retrain package's own store functions, as the daemon's lifecycle writes them.
"""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from monitor.cli import exitcodes, main
from monitor.schema import window_assessments
from retrain import RunState, Step, Trigger
from retrain import runs as run_store
from tests.monitor.cli_support import subprocess_env

pytestmark = pytest.mark.usefixtures("restore_logging")

CONFIG = """\
engine: {{kind: local_spark, lakehouse_root: {root}/lakehouse}}
workspace: {{kind: local, mlflow_tracking_uri: "sqlite:///{root}/mlflow.db", jobs_dir: {root}/jobs}}
state: {{url: "sqlite:///{root}/state.db"}}
models:
  - name: churn
    sources: {{lakehouse: {{table: main.ml.churn}}}}
    lifecycle:
      enabled: true
      registered_model: main.ml.churn
      steps: [retrain, validate, promote]
      trigger: {{cooldown: 6h, max_runs_per_day: 5}}
      retrain: {{backend: local, module: monitor.demo.train}}
  - name: fraud
    sources: {{lakehouse: {{table: main.ml.fraud}}}}
  - name: risk
    sources: {{lakehouse: {{table: main.ml.risk}}}}
    lifecycle:
      enabled: true
      registered_model: main.ml.risk
      trigger: {{max_data_age: 6h, require_labels: true}}
      retrain: {{backend: local, module: monitor.demo.train}}
route: {{receiver: log}}
receivers: [{{name: log}}]
"""



@pytest.fixture
def config(tmp_path: Path) -> Path:
    path = tmp_path / "lakewarden.yaml"
    path.write_text(CONFIG.format(root=tmp_path), encoding="utf-8")
    return path


class Cli:
    def __init__(self, config: Path, capsys: pytest.CaptureFixture[str]) -> None:
        self.config, self.capsys = config, capsys
        self.engine = sa.create_engine(f"sqlite:///{config.parent}/state.db")

    def __call__(self, *args: str) -> tuple[int, str, str]:
        self.capsys.readouterr()
        code = main(["lifecycle", *args, "--config", str(self.config)])
        out, err = self.capsys.readouterr()
        return code, out, err

    def start(self, model: str = "churn", reason: str = "new features landed", by: str = "alice") -> str:
        code, out, _ = self("start", model, "--reason", reason, "--by", by)
        assert code == exitcodes.OK, out
        return out.split()[2]  # "started run <id> for ..."

    def run(self, run_id: str) -> run_store.RunRecord:
        with self.engine.connect() as conn:
            run = run_store.load_run(conn, run_id)
        assert run is not None
        return run

    def update(self, run_id: str, **changes: Any) -> None:
        """Write a run as the daemon's lifecycle does (state, step, external ids, decision)."""
        with self.engine.begin() as conn:
            run_store.update_run(conn, self.run(run_id), datetime.now(UTC), **changes)

    def insert(self, run_id: str, model: str = "churn", minutes_ago: int = 0) -> None:
        """A pending run with a chosen id (for the prefix tests)."""
        now = datetime.now(UTC) - timedelta(minutes=minutes_ago)
        trigger = Trigger(model=model, reason="manual: seeded", severity="low", requested_by="test")
        with self.engine.begin() as conn:
            run_store.insert_run(conn, run_id=run_id, trigger=trigger, registered_model=f"main.ml.{model}",
                                 key=run_id, now=now)


@pytest.fixture
def cli(config: Path, capsys: pytest.CaptureFixture[str]) -> Cli:
    """The CLI on a config whose state database the first command creates (here: ``list``)."""
    runner = Cli(config, capsys)
    assert runner("list")[0] == exitcodes.OK
    return runner


# -- start ------------------------------------------------------------------------------------------


def test_start_creates_a_pending_manual_run_through_the_guardrails(cli: Cli) -> None:
    code, out, _ = cli("start", "churn", "--reason", "new  features\nlanded", "--by", "alice")
    assert code == exitcodes.OK
    assert out.startswith("started run ") and "for churn (manual: new features landed, by alice)" in out
    assert "next lifecycle tick" in out
    run = cli.run(out.split()[2])
    assert (run.state, run.step, run.plan) == (RunState.PENDING, Step.RETRAIN,
                                               (Step.RETRAIN, Step.VALIDATE, Step.PROMOTE))
    assert run.trigger.requested_by == "alice" and run.trigger.reason == "manual: new features landed"
    assert run.trigger.severity == "low" and run.trigger.window_start is None


def test_start_passes_extra_job_parameters_on_the_trigger(cli: Cli) -> None:
    code, out, _ = cli("start", "churn", "--reason", "backfill", "--by", "alice",
                       "--param", "catalog=dev", "--param", "since=2026-01-01")
    assert code == exitcodes.OK
    run_id = out.split()[2]
    assert cli.run(run_id).trigger.parameters == (("catalog", "dev"), ("since", "2026-01-01"))
    assert "job parameters catalog=dev, since=2026-01-01" in cli("show", run_id)[1]


def test_start_names_the_user_from_the_environment(cli: Cli, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("USER", "carol")
    code, out, _ = cli("start", "churn", "--reason", "weekly")
    assert code == exitcodes.OK
    assert cli.run(out.split()[2]).trigger.requested_by == "carol"


@pytest.mark.parametrize(("args", "says"), [
    (["start", "nope", "--reason", "x", "--by", "a"],
     "no model named 'nope' in the config (models: churn, fraud, risk)"),
    (["start", "churn", "--reason", "  ", "--by", "a"], "--reason must say why"),
    (["start", "churn", "--reason", "x", "--by", "policy"], "automatic triggers"),
    (["list", "--model", "nope"], "no model named 'nope'"),
    (["start", "churn", "--reason", "x", "--by", "a", "--param", "novalue"], "--param 'novalue' is not KEY=VALUE"),
    (["start", "churn", "--reason", "x", "--by", "a", "--param", "model_name=x"], "job parameter 'model_name'"),
])
def test_bad_usage_is_a_clear_error_with_exit_2(cli: Cli, args: list[str], says: str) -> None:
    code, out, err = cli(*args)
    assert code == exitcodes.CONFIG_ERROR
    assert says in err and out == ""


def test_a_second_start_while_one_is_in_flight_is_blocked_with_exit_4(cli: Cli) -> None:
    first = cli.start()
    code, out, _ = cli("start", "churn", "--reason", "again", "--by", "bob")
    assert code == exitcodes.BLOCKED == 4
    assert out.strip() == f"not started: guardrail in_flight: run {first} is still in flight"
    assert [r.run_id for r in _runs(cli)] == [first]


def test_start_after_a_finished_run_waits_for_the_cooldown(cli: Cli) -> None:
    first = cli.start()
    cli.update(first, state=RunState.SUCCEEDED, step=Step.DONE, decision="promoted version 3")
    code, out, _ = cli("start", "churn", "--reason", "again", "--by", "bob")
    assert code == exitcodes.BLOCKED
    assert out.startswith(f"not started: guardrail cooldown: run {first} finished at ") and "cooldown 6h" in out


def test_start_of_a_model_without_lifecycle_is_blocked(cli: Cli) -> None:
    code, out, _ = cli("start", "fraud", "--reason", "x", "--by", "a")
    assert code == exitcodes.BLOCKED
    assert "guardrail disabled: lifecycle is not enabled for model fraud" in out


def _assessment(cli: Cli, model: str, ended: timedelta, labels: bool) -> None:
    """A judged window of ``model`` that ended ``ended`` ago (the facts a manual trigger carries)."""
    end = datetime.now(UTC) - ended
    skipped = [] if labels else [{"signal": "quality", "kind": "skipped", "reason": "no labels"}]
    with cli.engine.begin() as conn:
        conn.execute(window_assessments.insert().values(
            model=model, stream="lakehouse:1h", granularity="1 hour", window_start=end - timedelta(hours=1),
            window_end=end, version=None, revision=1, risk=0.0, severity="ok", findings=[], skipped=skipped,
            inputs={}, measures={}, row_count=10, state_firing=False, state_severity="ok", state_reason="",
            alert_severity="ok", created_at=end, updated_at=end))


def test_start_carries_the_monitors_facts_to_the_data_guardrails(cli: Cli) -> None:
    code, out, _ = cli("start", "risk", "--reason", "x", "--by", "a")  # nothing judged yet
    assert code == exitcodes.BLOCKED and "guardrail stale_data: no judged window yet" in out
    _assessment(cli, "risk", timedelta(days=2), labels=True)
    code, out, _ = cli("start", "risk", "--reason", "x", "--by", "a")
    assert code == exitcodes.BLOCKED and "guardrail stale_data: the newest judged window ended 2d" in out
    _assessment(cli, "risk", timedelta(hours=1), labels=False)
    code, out, _ = cli("start", "risk", "--reason", "x", "--by", "a")
    assert code == exitcodes.BLOCKED and "guardrail no_labels" in out
    _assessment(cli, "risk", timedelta(minutes=30), labels=True)
    code, out, _ = cli("start", "risk", "--reason", "x", "--by", "a")
    assert code == exitcodes.OK, out
    assert cli.run(out.split()[2]).trigger.labels_present is True


# -- list and show ------------------------------------------------------------------------------------


def _runs(cli: Cli) -> list[run_store.RunRecord]:
    with cli.engine.connect() as conn:
        return run_store.select_runs(conn)


def test_list_shows_runs_newest_first_with_version_and_decision(cli: Cli) -> None:
    code, out, _ = cli("list")
    assert (code, out) == (exitcodes.OK, "no lifecycle runs\n")
    old = cli.start()
    cli.update(old, state=RunState.REJECTED, step=Step.DONE, external={"model_version": "7"},
               decision="challenger v7 rejected: roc_auc 0.71 is 0.04 below the champion's 0.75 " + "x" * 80)
    cli.insert("f" * 32, model="risk")  # a newer run of another model
    code, out, _ = cli("list")
    lines = out.splitlines()
    assert lines[0].split() == ["RUN", "MODEL", "STATE", "STEP", "VERSION", "CREATED", "DECISION"]
    assert lines[1].startswith("ffffffffffff  risk") and " pending " in lines[1]
    assert lines[2].startswith(f"{old[:12]}  churn") and " rejected " in lines[2] and " 7 " in lines[2]
    assert "challenger v7 rejected: roc_auc 0.71" in lines[2] and lines[2].endswith("…")
    code, out, _ = cli("list", "--model", "churn")
    assert len(out.splitlines()) == 2 and old[:12] in out


def test_list_json_has_every_run_and_the_switch(cli: Cli) -> None:
    run_id = cli.start()
    code, out, _ = cli("list", "--json")
    assert code == exitcodes.OK
    data = json.loads(out)
    assert data["switch"]["paused"] is False
    [run] = data["runs"]
    assert run["run_id"] == run_id and run["state"] == "pending" and run["plan"] == ["retrain", "validate", "promote"]
    assert run["trigger"]["requested_by"] == "alice"


def test_show_prints_the_run_its_external_ids_and_its_audit_trail(cli: Cli) -> None:
    run_id = cli.start()
    cli.update(run_id, state=RunState.RUNNING, step=Step.VALIDATE, attempts=2,
               external={"job_external_id": "884422", "model_version": "3", "champion_at_start": "2"})
    code, out, _ = cli("show", run_id[:8])
    assert code == exitcodes.OK
    assert f"run        {run_id}" in out
    assert "model      churn (registered model main.ml.churn)" in out
    assert "state      running" in out
    assert "step       validate (attempt 2; plan retrain -> validate -> promote)" in out
    assert "version    3" in out and "trigger    manual: new features landed" in out
    assert "by alice, severity low, window none" in out
    assert "job_external_id              884422" in out and "champion_at_start" in out
    trail = out.split("audit trail\n")[1]
    assert f"decision     started: run {run_id} created: manual: new features landed" in trail


def test_show_says_what_each_job_does_and_that_it_outlived_a_stop(cli: Cli) -> None:
    run_id = cli.start()
    cli.update(run_id, state=RunState.RUNNING, step=Step.VALIDATE, external={
        "job_external_id": "884422", "job_status": "exited with code 0",
        "job_outlived_daemon": {"at": "2026-03-01T02:00:00+00:00", "by": "host-a/41/ab12cd"},
        "job_adoptions": [{"at": "2026-03-01T02:05:00+00:00", "by": "host-b/77/ef34ab", "from": "host-a/41/ab12cd"}],
        "validate_job_external_id": "884423",
        "validate_job_status": "started and died: the job's runner (pid 4242) is gone without writing an exit status",
    })
    out = cli("show", run_id)[1]
    assert ("job        884422: exited with code 0; outlived the lakewarden stopped at 2026-03-01T02:00:00+00:00; "
            "adopted at 2026-03-01T02:05:00+00:00 by host-b/77/ef34ab") in out
    assert "validate   884423: started and died: the job's runner (pid 4242) is gone" in out


def test_show_json_includes_the_history(cli: Cli) -> None:
    run_id = cli.start()
    cli("cancel", run_id, "--reason", "bad data", "--by", "bob")
    code, out, _ = cli("show", run_id, "--json")
    data = json.loads(out)
    assert code == exitcodes.OK and data["run_id"] == run_id
    assert data["cancel_requested"] == "bad data (by bob)"
    assert [e["kind"] for e in data["history"]] == ["decision", "cancel"]


def test_a_run_is_named_by_a_unique_prefix(cli: Cli) -> None:
    cli.insert("abc1" + "0" * 28)
    cli.insert("abc2" + "0" * 28, model="risk")
    code, _, err = cli("show", "abc")
    assert code == exitcodes.ERROR and "prefix 'abc' is ambiguous" in err
    code, out, _ = cli("show", "abc2")
    assert code == exitcodes.OK and "model      risk" in out
    code, _, err = cli("show", "zzz")
    assert code == exitcodes.ERROR and "no lifecycle run 'zzz'" in err and "lifecycle list" in err


# -- cancel ---------------------------------------------------------------------------------------------


def test_cancel_records_the_request_for_the_daemon(cli: Cli) -> None:
    run_id = cli.start()
    cli.update(run_id, state=RunState.RUNNING, external={"job_external_id": "884422"})
    code, out, _ = cli("cancel", run_id[:10], "--reason", "wrong training data", "--by", "bob")
    assert code == exitcodes.OK
    assert f"cancel asked for run {run_id} (churn, running at retrain)" in out and "next lifecycle tick" in out
    run = cli.run(run_id)
    assert run.cancel_requested == "wrong training data (by bob)"
    assert run.state is RunState.RUNNING  # the daemon carries it out
    code, out, _ = cli("show", run_id)
    assert "cancel     asked: wrong training data (by bob)" in out
    assert "cancel       cancel asked by bob: wrong training data" in out


def test_cancel_of_an_unknown_or_finished_run_is_an_error(cli: Cli) -> None:
    code, _, err = cli("cancel", "0123abcd", "--reason", "x", "--by", "bob")
    assert code == exitcodes.ERROR and "no lifecycle run '0123abcd'" in err
    run_id = cli.start()
    cli.update(run_id, state=RunState.ROLLED_BACK, step=Step.DONE, decision="canary worse: rolled back")
    code, _, err = cli("cancel", run_id, "--reason", "x", "--by", "bob")
    assert code == exitcodes.ERROR
    assert f"run {run_id} already ended rolled_back: canary worse: rolled back" in err


# -- the kill switch ----------------------------------------------------------------------------------


def test_pause_blocks_starts_shows_in_list_and_resume_lifts_it(cli: Cli) -> None:
    code, out, _ = cli("pause", "--reason", "incident 42", "--by", "dave")
    assert code == exitcodes.OK and out.startswith("lifecycle paused by dave: incident 42;")
    code, out, _ = cli("list")
    assert out.startswith("PAUSED since ") and "by dave: incident 42" in out
    assert json.loads(cli("list", "--json")[1])["switch"]["by"] == "dave"
    code, out, _ = cli("start", "churn", "--reason", "x", "--by", "a")
    assert code == exitcodes.BLOCKED and "guardrail paused: the lifecycle is paused by dave: incident 42" in out
    code, out, _ = cli("resume", "--reason", "resolved", "--by", "dave")
    assert code == exitcodes.OK and out.startswith("lifecycle resumed by dave: resolved;")
    assert "PAUSED" not in cli("list")[1]
    cli.start()
    code, out, _ = cli("resume", "--reason", "again", "--by", "dave")
    assert "(it was not paused)" in out


# -- no heavy imports --------------------------------------------------------------------------------------


@pytest.mark.integration
def test_the_commands_load_no_spark_mlflow_or_sdk(config: Path) -> None:
    script = f"""\
import sys
from monitor.cli import main
codes = [main(["lifecycle", "start", "churn", "--reason", "x", "--by", "a", "--config", {str(config)!r}]),
         main(["lifecycle", "list", "--config", {str(config)!r}]),
         main(["lifecycle", "pause", "--reason", "x", "--by", "a", "--config", {str(config)!r}])]
heavy = sorted(m for m in sys.modules if m.split(".")[0] in ("pyspark", "mlflow", "databricks", "py4j"))
print(codes, heavy)
"""
    done = subprocess.run([sys.executable, "-c", script], env=subprocess_env(), capture_output=True, text=True,
                          timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().splitlines()[-1] == "[0, 0, 0] []"
