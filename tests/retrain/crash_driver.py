"""A stand-in lakewarden daemon for the crash-resume tests: advances one lifecycle run, and may SIGKILL itself.

Usage::

    python crash_driver.py --state-url URL --jobs-dir DIR --calls LOG --settings JSON --result JSON
                           (--run-id ID | --emergency) [--crash LABEL] [--bad-canary]

It builds a :class:`Lifecycle` the way the daemon does, on the real backends (MLflow from
``MLFLOW_TRACKING_URI``, the local job backend in ``--jobs-dir``, local serving records in the
state database) with a wall clock, and calls ``advance`` until the run is final. Every side effect
call (job start, alias move, version tag, endpoint update, monitor refresh) is appended to
``--calls`` as a JSON line ``{"pid": ..., "label": ...}`` after it returned; when its label equals
``--crash`` the driver appends ``CRASH`` and kills itself with SIGKILL, before the lifecycle can
record the side effect. Labels: ``start:run``, ``start:validate``, ``start:batch``,
``set_alias:ALIAS=VERSION``, ``delete_alias:ALIAS``, ``tag:KEY``, ``put:{routes as sorted JSON}``,
``refresh``, ``launched:KIND`` (the job's runner spawned, its claim not yet confirmed),
``cancel:KIND``, ``consider:REASON``; ``--crash=before:LABEL`` kills right before the call instead
(``tests/killpoints.py``). ``--serve`` makes it a fork server (one life per forked child).
``--serve`` pays MLflow's imports and its stores' first use once, before forking (:func:`warm`).
``--consider`` asks for a run with a fixed windowed trigger first.
The run's assessments are windows after the canary, all ``low`` (``--bad-canary``: the
first one ``high``). On the end it writes ``{"run_id", "state", "decision"}`` to ``--result``.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from subprocess import Popen

import sqlalchemy as sa

from config.lifecycle import LifecycleSettings
from retrain.backends.local import LocalJobBackend
from retrain.backends.local_serving import LocalServingBackend
from retrain.lifecycle import Lifecycle
from retrain.ports import RefreshState, WindowVerdict
from retrain.registry import MlflowRegistry
from retrain.serving import ServedEntity
from retrain.trigger import Trigger

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from tests.killpoints import Calls, serve

TRIGGER = Trigger("churn", "drift: psi 0.4", "high", datetime(2026, 3, 1, tzinfo=UTC),
                  datetime(2026, 3, 1, 1, tzinfo=UTC))
EMERGENCY = Trigger("churn", "emergency: risk 97", "critical", datetime(2026, 3, 1, tzinfo=UTC),
                    datetime(2026, 3, 1, 1, tzinfo=UTC))


class LoggedRegistry(MlflowRegistry):
    calls: Calls

    def set_alias(self, model: str, alias: str, version: str) -> None:
        self.calls.before(f"set_alias:{alias}={version}")
        super().set_alias(model, alias, version)
        self.calls.done(f"set_alias:{alias}={version}")

    def delete_alias(self, model: str, alias: str) -> None:
        self.calls.before(f"delete_alias:{alias}")
        super().delete_alias(model, alias)
        self.calls.done(f"delete_alias:{alias}")

    def set_version_tag(self, model: str, version: str, key: str, value: str) -> None:
        self.calls.before(f"tag:{key}")
        super().set_version_tag(model, version, key, value)
        self.calls.done(f"tag:{key}")


class LoggedJobs(LocalJobBackend):
    calls: Calls

    def start(self, run_id: str, target: str, params: Mapping[str, str]) -> str:
        kind = _kind(run_id)
        self.calls.before(f"start:{kind}")
        external_id = super().start(run_id, target, params)
        self.calls.done(f"start:{kind}")
        return external_id

    def _launch(self, run_id: str, target: str, params: Mapping[str, str]) -> tuple[Popen[bytes], int]:
        launched = super()._launch(run_id, target, params)
        self.calls.done(f"launched:{_kind(run_id)}")  # the runner is spawned, its claim not yet answered
        return launched

    def cancel(self, external_id: str) -> None:
        self.calls.before(f"cancel:{_kind(external_id)}")
        super().cancel(external_id)
        self.calls.done(f"cancel:{_kind(external_id)}")


def _kind(run_id: str) -> str:
    return run_id.rsplit("-", 1)[1] if "-" in run_id else "run"


class LoggedServing(LocalServingBackend):
    calls: Calls

    def put(self, name: str, entities: Sequence[ServedEntity], routes: Mapping[str, int]) -> None:
        self.calls.before(f"put:{json.dumps(dict(routes), sort_keys=True)}")
        super().put(name, entities, routes)
        self.calls.done(f"put:{json.dumps(dict(routes), sort_keys=True)}")


class Refresher:
    def __init__(self, calls: Calls) -> None:
        self.calls = calls

    def start_refresh(self, model: str, since: datetime | None = None) -> str:
        self.calls.before("refresh")
        self.calls.done("refresh")
        return f"refresh-{os.getpid()}"

    def refresh_state(self, model: str, refresh_id: str) -> tuple[RefreshState, str]:
        return RefreshState.SUCCEEDED, "refreshed"


class Verdicts:
    def __init__(self, bad: bool) -> None:
        self.bad = bad

    def windows_since(self, model: str, since: datetime) -> list[WindowVerdict]:
        severities = ["high" if self.bad else "low", "low", "low"]
        return [WindowVerdict(since + timedelta(hours=i), since + timedelta(hours=i + 1), severity, 10.0,
                              {"quality": severity}) for i, severity in enumerate(severities)]


def warm() -> None:
    """Import MLflow and open its SQLite stores once (``LW_MLFLOW_TEMPLATE``: an empty MLflow database to copy).

    MLflow imports its stores, SQLAlchemy models and alembic on a client's first call: seconds per
    process, paid here once instead of in every life. The engines are disposed: no SQLite
    connection crosses a fork.
    """
    import shutil
    import tempfile

    from mlflow import MlflowClient
    from mlflow.store.model_registry.sqlalchemy_store import SqlAlchemyStore as RegistryStore
    from mlflow.store.tracking.sqlalchemy_store import SqlAlchemyStore as TrackingStore

    template = os.environ.get("LW_MLFLOW_TEMPLATE")
    if not template:
        return
    with tempfile.TemporaryDirectory() as tmp:
        shutil.copyfile(template, Path(tmp) / "mlflow.db")
        uri = f"sqlite:///{tmp}/mlflow.db"
        client = MlflowClient(tracking_uri=uri, registry_uri=uri)
        client.search_experiments()
        client.search_registered_models()
        for store in (RegistryStore, TrackingStore):
            for engine in getattr(store, "_engine_map", {}).values():  # MLflow's per-URI engine cache
                engine.dispose()


def main(argv: list[str]) -> int:
    if argv == ["--serve"]:
        return serve(main, warm)
    parser = argparse.ArgumentParser()
    for name in ("--state-url", "--jobs-dir", "--calls", "--settings", "--result"):
        parser.add_argument(name, required=True)
    parser.add_argument("--run-id")
    parser.add_argument("--emergency", action="store_true")
    parser.add_argument("--consider", action="store_true", help="ask for a run with TRIGGER first (max_runs_per_day)")
    parser.add_argument("--crash")
    parser.add_argument("--bad-canary", action="store_true")
    parser.add_argument("--cancel", help="ask to cancel the run with this reason once its job start is recorded")
    parser.add_argument("--mlflow-uri", help="MLflow tracking and registry URI (instead of the environment's)")
    args = parser.parse_args(argv)
    if args.mlflow_uri:
        os.environ["MLFLOW_TRACKING_URI"] = os.environ["MLFLOW_REGISTRY_URI"] = args.mlflow_uri

    def clock() -> datetime:
        return datetime.now(UTC)

    calls = Calls(Path(args.calls), args.crash)
    engine = sa.create_engine(args.state_url)
    uri = os.environ["MLFLOW_TRACKING_URI"]
    registry = LoggedRegistry(uri)
    env = {key: os.environ[key] for key in ("MLFLOW_TRACKING_URI", "MLFLOW_REGISTRY_URI", "PYTHONPATH")}
    jobs = LoggedJobs(workdir=Path(args.jobs_dir), env=env)
    serving = LoggedServing(engine, clock)
    registry.calls = jobs.calls = serving.calls = calls
    settings = LifecycleSettings.model_validate(json.loads(Path(args.settings).read_text(encoding="utf-8")))
    lifecycle = Lifecycle(engine, {"churn": settings}, jobs, registry, clock, serving=serving,
                          monitors=Refresher(calls), verdicts=Verdicts(args.bad_canary))
    run_id = args.run_id
    if args.emergency:  # a restart asks again: the run in flight answers
        run_id = lifecycle.emergency(EMERGENCY).run_id
    if args.consider:  # a restart asks again: the run it created answers (duplicate)
        calls.before("consider")
        decision = lifecycle.consider(TRIGGER)
        calls.done(f"consider:{decision.reason.value}")
        run_id = decision.run_id
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        lifecycle.advance()
        run = lifecycle.get(str(run_id))
        if args.cancel and run is not None and "job_external_id" in run.external and not run.cancel_requested:
            lifecycle.cancel(run.run_id, args.cancel, by="driver")
            continue
        if run is not None and run.state.final:
            result = {"run_id": run.run_id, "state": run.state.value, "decision": run.decision}
            Path(args.result).write_text(json.dumps(result), encoding="utf-8")
            return 0
        time.sleep(0.05)
    return 3


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
