"""Lifecycle runs as notifications: the composed daemon (``build_app``) from a judged window to the receivers' files.

Real parts throughout: the state database migrated by every package, the alert pipeline with file
receivers (every alert to ``alerts.jsonl``, high and critical also to ``pages.jsonl``), MLflow on
SQLite, the local job backend running a real subprocess (``tests/retrain/jobs/lw_fake_job.py``,
which registers nothing: the test stages the version it would have registered), the local serving
records, and the assessments read back by ``AssessmentVerdicts`` while a canary is watched.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from dataclasses import replace
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from config.basics.clock import SimulatedClock
from monitor.app import App, build_app
from monitor.lifecycle_notices import alert_sets, severity
from monitor.lifecycle_ports import AssessmentVerdicts, LocalProfileRefresher
from monitor.lifecycle_triggers import manual_trigger
from monitor.messages import AdvanceLifecycle, AssessmentMade, LifecycleProgressed
from retrain import RUN_ID_TAG, LocalServingBackend, MlflowRegistry, RunRecord, RunState, ServedEntity
from tests.monitor.judge_support import T0
from tests.monitor.lifecycle_support import CRITICAL, HIGH, QUIET, merged, mlflow_db, quality, record

JOBS = Path(__file__).resolve().parents[1] / "retrain" / "jobs"
ENDPOINT = "churn-ep"
LIFECYCLE: dict[str, Any] = {
    "enabled": True,
    "registered_model": "churn",
    "steps": ["retrain", "validate", "promote", "rollout"],
    "trigger": {"min_severity": "high", "held_for": {"windows": 1, "of": 1}},
    "retrain": {"module": "lw_fake_job", "parameters": {"register": "no"}},
    "validate": {"metric": "roc_auc"},
    "rollout": {"endpoint": ENDPOINT, "canary_percent": 10, "observe_windows": 1, "rollback_on": "high"},
}
GOOD = {"holdout_roc_auc": 0.9, "champion_holdout_roc_auc": 0.8}
WORSE = {"holdout_roc_auc": 0.7, "champion_holdout_roc_auc": 0.8}


class World:
    """The composed app on one state database, with its clock, receivers' files and registry."""

    def __init__(self, tmp_path: Path, lifecycle: dict[str, Any]) -> None:
        from config import parse_settings

        self.tmp_path = tmp_path
        self.clock = SimulatedClock(T0 + timedelta(days=1))
        mlflow = mlflow_db(tmp_path)
        text = f"""
engine: {{kind: local_spark, lakehouse_root: {tmp_path}/lakehouse}}
state: {{url: "sqlite:///{tmp_path}/state.db"}}
workspace: {{kind: local, mlflow_tracking_uri: "{mlflow}", jobs_dir: {tmp_path}/jobs}}
models:
  - name: churn
    team: ml
    runbook_url: https://runbooks.example/churn
    sources: {{lakehouse: {{table: main.ml.t, label_column: label, lookback: 3650d}}}}
    lifecycle: {json.dumps(lifecycle)}
route:
  receiver: log
  group_by: [model, alertname]
  group_wait: 0s
  group_interval: 1s
  routes:
    - {{receiver: log, continue: true}}
    - {{matchers: ['severity=~"high|critical"'], receiver: pages}}
receivers:
  - name: log
    file_configs: [{{path: "{tmp_path}/alerts.jsonl"}}]
  - name: pages
    file_configs: [{{path: "{tmp_path}/pages.jsonl"}}]
"""
        self.app: App = build_app(parse_settings(text, "t.yaml", {}), clock=self.clock)
        self.model = self.app.settings.models[0]
        self.registry = MlflowRegistry(mlflow)
        self.serving = LocalServingBackend(self.app.store.engine, self.clock)

    # -- the world's parts ---------------------------------------------------------------------------

    def version(self, metrics: dict[str, float], tags: dict[str, str] | None = None) -> str:
        client = self.registry.client
        if not client.search_registered_models("name = 'churn'"):
            client.create_registered_model("churn")
        experiment = client.get_experiment_by_name("notices")
        experiment_id = (experiment.experiment_id if experiment is not None else
                         client.create_experiment("notices", artifact_location=str(self.tmp_path / "art")))
        run = client.create_run(experiment_id)
        for key, value in metrics.items():
            client.log_metric(run.info.run_id, key, value)
        client.set_terminated(run.info.run_id)
        return str(client.create_model_version("churn", f"{run.info.artifact_uri}/model", run.info.run_id,
                                               tags=tags).version)

    def champion_serving(self) -> str:
        """Version 1 as champion, served alone by the endpoint."""
        version = self.version({})
        self.registry.set_alias("churn", "champion", version)
        entity = ServedEntity(f"churn-{version}", "churn", version)
        self.serving.create(ENDPOINT, [entity], {entity.name: 100})
        return version

    def window(self, index: int, *rows: Any) -> None:
        """A judged window, its event handled by the bus as after a poll."""
        assessment = record(self.app.assessments, self.model, index, *rows)
        self.app.bus.handle(AssessmentMade(assessment, "ok"))

    def advance(self, until: RunState | None = None, run_id: str | None = None, ticks: int = 200) -> RunRecord:
        """Lifecycle ticks (a minute apart on the clock) until the run ends, or its step's note is ``until``."""
        for _ in range(ticks):
            self.clock.now += timedelta(minutes=1)
            self.app.bus.handle(AdvanceLifecycle())
            # The daemon's delivery loop runs every few seconds: a notice goes out before the next tick
            # (and is not superseded by a later state of its group that a test never let it precede).
            self.app.delivery.run_once()
            run = self.run(run_id)
            if run.state.final or (until is not None and run.state is until and run.external.get("canary_live_at")):
                return run
            time.sleep(0.02)  # the job is a real process
        raise AssertionError(f"run did not get there: {self.run(run_id)}")

    def run(self, run_id: str | None = None) -> RunRecord:
        if run_id is not None:
            found = self.app.lifecycle.get(run_id)
            assert found is not None
            return found
        (latest, *_) = self.app.lifecycle.runs("churn")
        return latest

    def bad_champion_serving(self) -> str:
        """A new champion serves all traffic, the one before it kept as previous_champion (returned)."""
        previous = self.champion_serving()
        bad = self.version({})
        self.registry.set_alias("churn", "previous_champion", previous)
        self.registry.set_alias("churn", "champion", bad)
        self.serving.put(ENDPOINT, [ServedEntity(f"churn-{bad}", "churn", bad)], {f"churn-{bad}": 100})
        return previous

    def delivered(self, name: str = "alerts") -> list[tuple[str, str, str]]:
        """(status, severity, summary) of every LifecycleRun alert in every notification so far."""
        self.clock.now += timedelta(minutes=1)
        self.app.delivery.run_once()
        path = self.tmp_path / f"{name}.jsonl"
        lines = path.read_text(encoding="utf-8").splitlines() if path.exists() else []
        return [(a["status"], a["labels"]["severity"], a["annotations"]["summary"])
                for line in lines for a in json.loads(line)["alerts"] if a["labels"]["alertname"] == "LifecycleRun"]


@pytest.fixture
def world(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[World]:
    monkeypatch.setenv("PYTHONPATH", str(JOBS))  # the local backend's jobs inherit it
    made = World(tmp_path, LIFECYCLE)
    yield made
    made.app.close()


def make(world: World, **changes: Any) -> World:
    """The world again on the same folder with other lifecycle settings (a restart with a new config)."""
    folder = world.tmp_path / "other"
    folder.mkdir()
    return World(folder, merged(LIFECYCLE, changes))


@pytest.mark.integration
def test_the_local_app_wires_the_local_ports(world: World) -> None:
    deps = world.app.lifecycle.deps
    assert isinstance(deps.serving, LocalServingBackend)
    assert isinstance(deps.monitors, LocalProfileRefresher)
    assert isinstance(deps.verdicts, AssessmentVerdicts)


@pytest.mark.integration
def test_a_run_that_succeeds_says_it_started_then_resolves_with_the_outcome(world: World) -> None:
    champion = world.champion_serving()
    world.window(20, HIGH)  # the trigger: high in 1 of 1 windows
    run = world.run()
    assert run.state is RunState.PENDING
    ((status, level, summary),) = world.delivered()
    assert (status, level) == ("firing", "info")
    assert summary.startswith("churn: lifecycle run pending (retrain): severity high held: risk 75")
    world.version(GOOD, {RUN_ID_TAG: run.run_id})  # what the job registers
    run = world.advance(until=RunState.RUNNING)  # retrained, validated, promoted; the canary is live
    assert world.serving.read(ENDPOINT).routes == {f"churn-{champion}": 90, f"churn-{run.model_version}": 10}
    world.window(40, QUIET)  # a quiet window after the canary went live
    run = world.advance()
    assert run.state is RunState.SUCCEEDED
    sent = world.delivered()
    assert all(level == "info" for _, level, _ in sent)
    final_status, _, final_summary = sent[-1]
    assert final_status == "resolved"
    assert final_summary.startswith("churn: lifecycle run succeeded (done): version 2 serves all traffic")
    assert world.delivered("pages") == []


@pytest.mark.integration
def test_a_rejected_challenger_resolves_quietly_with_the_reason(world: World) -> None:
    world.champion_serving()
    world.window(20, HIGH)
    world.version(WORSE, {RUN_ID_TAG: world.run().run_id})
    run = world.advance()
    assert run.state is RunState.REJECTED
    sent = world.delivered()
    assert sent[0][:2] == ("firing", "info") and sent[-1][:2] == ("resolved", "info")
    assert "lifecycle run rejected (done): challenger" in sent[-1][2]
    assert world.delivered("pages") == []


@pytest.mark.integration
def test_a_failed_job_pages_high_until_the_next_run(world: World) -> None:
    world.champion_serving()
    trigger = manual_trigger(world.model, world.app.assessments, "try again", "alice")
    decision = world.app.lifecycle.consider(replace(trigger, parameters=(("fail", "out of memory"),)))
    assert decision.started
    run = world.advance()  # the first notice comes from the tick that starts the job
    assert run.state is RunState.FAILED
    sent = world.delivered()
    assert sent[0][:2] == ("firing", "info")
    (failed,) = [summary for status, level, summary in sent if (status, level) == ("firing", "high")]
    assert "lifecycle run failed (done)" in failed
    assert "fatal: out of memory" in failed  # the job's log tail says why
    assert ("resolved", "info") in [s[:2] for s in sent]
    pages = world.delivered("pages")
    assert [p[:2] for p in pages] == [("firing", "high")]
    world.clock.now += timedelta(hours=7)  # past the cooldown: the next run starts, and its start ends the page
    assert world.app.lifecycle.consider(manual_trigger(world.model, world.app.assessments, "again", "alice")).started
    world.clock.now += timedelta(minutes=1)
    world.app.bus.handle(AdvanceLifecycle())
    assert [p[:2] for p in world.delivered("pages")] == [("firing", "high"), ("resolved", "high")]
    assert ("firing", "info") in [s[:2] for s in world.delivered()[-2:]]  # one notification: info fires, high ends


@pytest.mark.integration
def test_a_canary_that_gets_worse_rolls_back_and_pages_high(world: World) -> None:
    champion = world.champion_serving()
    world.window(20, HIGH)
    world.version(GOOD, {RUN_ID_TAG: world.run().run_id})
    run = world.advance(until=RunState.RUNNING)
    # quality, a watched signal, is high in a window after the canary went live: macro F1 down 0.12
    world.window(40, *quality(0.78))
    run = world.advance()
    assert run.state is RunState.ROLLED_BACK, run.decision
    assert run.decision is not None and "had quality at high" in run.decision
    assert world.serving.read(ENDPOINT).routes == {f"churn-{champion}": 100}
    assert world.registry.get_alias("churn", "champion") == champion
    pages = world.delivered("pages")
    assert pages[-1][:2] == ("firing", "high") and "lifecycle run rolled_back (done)" in pages[-1][2]


@pytest.mark.integration
def test_an_emergency_moves_traffic_back_and_pages_critical(world: World) -> None:
    world = make(world, emergency={"enabled": True, "min_risk": 90})
    previous = world.bad_champion_serving()
    world.window(20, CRITICAL)  # critical, risk 100: an emergency, not a retrain
    run = world.run()
    assert [s.value for s in run.plan] == ["emergency"] and run.state is RunState.ROLLED_BACK
    assert world.serving.read(ENDPOINT).routes == {f"churn-{previous}": 100}
    pages = world.delivered("pages")
    assert [p[:2] for p in pages] == [("firing", "critical")]
    assert "lifecycle run rolled_back (done): run" in pages[0][2]
    world.app.close()


@pytest.mark.integration
def test_after_an_emergency_critical_windows_wait_for_the_cooldown_then_retrain(world: World) -> None:
    """The previous champion serves now: a second emergency has nothing to fall back to and would page hourly."""
    world = make(world, emergency={"enabled": True, "min_risk": 90})
    world.bad_champion_serving()
    world.window(20, CRITICAL)
    (emergency,) = world.app.lifecycle.runs("churn")
    assert emergency.state is RunState.ROLLED_BACK
    world.clock.now += timedelta(hours=1)
    world.window(21, CRITICAL)  # input drift persists whichever model serves
    assert world.app.lifecycle.runs("churn") == [emergency]  # no second emergency, the retrain waits
    assert [p[:2] for p in world.delivered("pages")] == [("firing", "critical")]
    world.clock.now += timedelta(hours=6)  # past the cooldown
    world.window(27, CRITICAL)
    retrain = world.run()
    assert retrain.run_id != emergency.run_id and retrain.plan[0].value == "retrain"
    assert retrain.trigger.requested_by == "policy"
    world.app.close()


@pytest.mark.integration
def test_an_emergency_pages_once_per_incident_and_again_for_the_next_one(world: World) -> None:
    """A retrain that ends without a new champion does not end the incident; a recovered window does."""
    world = make(world, emergency={"enabled": True, "min_risk": 90})
    world.bad_champion_serving()
    world.window(20, CRITICAL)
    (emergency,) = world.app.lifecycle.runs("churn")
    assert [p[:2] for p in world.delivered("pages")] == [("firing", "critical")]
    world.clock.now += timedelta(hours=6)  # past the cooldown: the policy retrains
    world.window(26, CRITICAL)
    retrain = world.run()
    assert retrain.plan[0].value == "retrain"
    world.app.lifecycle.cancel(retrain.run_id, "not this one", by="bob")  # ends without a new champion
    assert world.advance(run_id=retrain.run_id).state is RunState.CANCELLED
    world.clock.now += timedelta(hours=1)
    world.window(27, CRITICAL)  # still the same incident: the previous champion serves already
    assert [r.run_id for r in world.app.lifecycle.runs("churn")] == [retrain.run_id, emergency.run_id]
    critical = [p for p in world.delivered("pages") if p[:2] == ("firing", "critical")]
    assert len(critical) == 1, critical

    next_window = 28
    while world.app.assessments.model_alert("churn") == "critical":  # calm windows until the alert clears
        assert next_window < 40, "the model's alert never left critical"
        world.clock.now += timedelta(hours=1)
        world.window(next_window, QUIET)  # the model recovered: the incident is over
        next_window += 1
    assert [r.run_id for r in world.app.lifecycle.runs("churn")] == [retrain.run_id, emergency.run_id]
    world.clock.now += timedelta(hours=1)
    world.window(next_window, CRITICAL)  # a new incident pages again
    latest = world.run()
    assert latest.run_id not in (emergency.run_id, retrain.run_id) and [s.value for s in latest.plan] == ["emergency"]
    critical = [p for p in world.delivered("pages") if p[:2] == ("firing", "critical")]
    assert len(critical) == 2, critical
    world.app.close()


@pytest.mark.integration
def test_an_emergency_during_a_canary_rolls_the_run_back_and_pages_critical(world: World) -> None:
    world = make(world, emergency={"enabled": True, "min_risk": 90})
    champion = world.champion_serving()
    world.window(20, HIGH)
    world.version(GOOD, {RUN_ID_TAG: world.run().run_id})
    run = world.advance(until=RunState.RUNNING)  # the challenger is champion and serves the canary share
    assert world.serving.read(ENDPOINT).routes != {f"churn-{champion}": 100}
    world.window(40, CRITICAL)  # critical, risk 100, while the canary is watched: the emergency brake
    run = world.run(run.run_id)
    assert run.state is RunState.CANCELLED and run.decision is not None and "emergency" in run.decision
    assert world.serving.read(ENDPOINT).routes == {f"churn-{champion}": 100}
    assert world.registry.get_alias("churn", "champion") == champion
    assert [s.value for s in world.run().plan] != ["emergency"]  # the run's own rollback was the fallback
    pages = world.delivered("pages")
    assert [p[:2] for p in pages] == [("firing", "critical")]
    assert "lifecycle run cancelled (done)" in pages[0][2]
    world.app.close()


@pytest.mark.integration
def test_only_the_last_event_of_a_finished_run_speaks(world: World) -> None:
    world.champion_serving()
    world.window(20, HIGH)
    run = world.run()
    world.app.lifecycle.cancel(run.run_id, "not now", by="bob")
    events = [LifecycleProgressed(e.run_id, e.model, e.kind, e.message) for e in world.app.lifecycle.advance()]
    assert [e.kind for e in events] == ["cancelled"]
    before = world.delivered()
    # an older event of the run, handled after its end, must not fire the run's alert again
    world.app.bus.handle(LifecycleProgressed(run.run_id, "churn", "started", "job started"))
    assert world.delivered() == before
    world.app.bus.handle(events[0])
    sent = world.delivered()
    assert sent[-1][0] == "resolved" and "lifecycle run cancelled (done): cancelled: not now (by bob)" in sent[-1][2]


# -- the table of states, without the pipeline ---------------------------------------------------------------


@pytest.mark.parametrize(("state", "plan", "decision", "expected"), [
    (RunState.PENDING, ("retrain",), None, "info"),
    (RunState.RUNNING, ("emergency",), None, "critical"),
    (RunState.SUCCEEDED, ("retrain",), "done", None),
    (RunState.REJECTED, ("retrain",), "worse", None),
    (RunState.CANCELLED, ("retrain",), "cancelled", None),
    (RunState.FAILED, ("retrain",), "job failed", "high"),
    (RunState.ROLLED_BACK, ("retrain",), "canary worse", "high"),
    (RunState.FAILED, ("retrain",), "ROLLBACK INCOMPLETE: step rollback failed", "critical"),
    (RunState.FAILED, ("emergency",), "EMERGENCY FALLBACK FAILED: gone", "critical"),
    (RunState.ROLLED_BACK, ("emergency",), "emergency: all traffic moved", "critical"),
])
def test_the_severity_of_each_state(state: RunState, plan: tuple[str, ...], decision: str | None,
                                    expected: str | None) -> None:
    from retrain import Step, Trigger

    run = RunRecord("r1", "churn", "churn", state, Step.DONE if state.final else Step(plan[0]),
                    Trigger("churn", "drift: x", "high"), "k", 0, {"plan": list(plan)}, decision, T0, T0,
                    T0 if state.final else None)
    assert severity(run) == expected
    from tests.monitor.lifecycle_support import model_settings

    sets = alert_sets(model_settings(), run, "the message", T0)
    if expected is None:
        assert [[a.labels["severity"] for a in s] for s in sets] == [["info"], []]  # refreshed, then resolved
    else:
        assert [[a.labels["severity"] for a in s] for s in sets] == [[expected]]
    assert sets[0][0].annotations["summary"].endswith(": the message")


@pytest.mark.parametrize(("state", "cancel", "expected"), [
    (RunState.RUNNING, "emergency: risk 100 (critical) (by emergency)", "critical"),  # rolling back
    (RunState.CANCELLED, "emergency: risk 100 (critical) (by emergency)", "critical"),
    (RunState.FAILED, "emergency: risk 100 (critical) (by emergency)", "critical"),
    (RunState.CANCELLED, "not now (by bob)", None),
    (RunState.RUNNING, "not now (by bob)", "info"),
])
def test_a_run_an_emergency_cancelled_pages_like_the_emergency(state: RunState, cancel: str,
                                                               expected: str | None) -> None:
    from retrain import Step, Trigger

    run = RunRecord("r1", "churn", "churn", state, Step.DONE if state.final else Step.ROLLBACK,
                    Trigger("churn", "drift: x", "high"), "k", 0,
                    {"plan": ["retrain", "validate", "promote", "rollout"], "cancel_requested": cancel},
                    f"cancelled: {cancel}" if state.final else None, T0, T0, T0 if state.final else None)
    assert severity(run) == expected
