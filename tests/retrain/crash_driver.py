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
``refresh``. The run's assessments are windows after the canary, all ``low`` (``--bad-canary``: the
first one ``high``). On the end it writes ``{"run_id", "state", "decision"}`` to ``--result``.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import time
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path

import sqlalchemy as sa

from config.lifecycle import LifecycleSettings
from retrain.backends.local import LocalJobBackend
from retrain.backends.local_serving import LocalServingBackend
from retrain.lifecycle import Lifecycle
from retrain.ports import RefreshState, WindowVerdict
from retrain.registry import MlflowRegistry
from retrain.serving import ServedEntity
from retrain.trigger import Trigger

EMERGENCY = Trigger("churn", "emergency: risk 97", "critical", datetime(2026, 3, 1, tzinfo=UTC),
                    datetime(2026, 3, 1, 1, tzinfo=UTC))


class Calls:
    def __init__(self, path: Path, crash: str | None) -> None:
        self.path = path
        self.crash = crash

    def done(self, label: str) -> None:
        with self.path.open("a", encoding="utf-8") as handle:
            handle.write(json.dumps({"pid": os.getpid(), "label": label}) + "\n")
        if label == self.crash:
            with self.path.open("a", encoding="utf-8") as handle:
                handle.write(json.dumps({"pid": os.getpid(), "label": "CRASH"}) + "\n")
            os.kill(os.getpid(), signal.SIGKILL)


class LoggedRegistry(MlflowRegistry):
    calls: Calls

    def set_alias(self, model: str, alias: str, version: str) -> None:
        super().set_alias(model, alias, version)
        self.calls.done(f"set_alias:{alias}={version}")

    def delete_alias(self, model: str, alias: str) -> None:
        super().delete_alias(model, alias)
        self.calls.done(f"delete_alias:{alias}")

    def set_version_tag(self, model: str, version: str, key: str, value: str) -> None:
        super().set_version_tag(model, version, key, value)
        self.calls.done(f"tag:{key}")


class LoggedJobs(LocalJobBackend):
    calls: Calls

    def start(self, run_id: str, target: str, params: Mapping[str, str]) -> str:
        external_id = super().start(run_id, target, params)
        kind = run_id.rsplit("-", 1)[1] if "-" in run_id else "run"
        self.calls.done(f"start:{kind}")
        return external_id


class LoggedServing(LocalServingBackend):
    calls: Calls

    def put(self, name: str, entities: Sequence[ServedEntity], routes: Mapping[str, int]) -> None:
        super().put(name, entities, routes)
        self.calls.done(f"put:{json.dumps(dict(routes), sort_keys=True)}")


class Refresher:
    def __init__(self, calls: Calls) -> None:
        self.calls = calls

    def start_refresh(self, model: str) -> str:
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


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser()
    for name in ("--state-url", "--jobs-dir", "--calls", "--settings", "--result"):
        parser.add_argument(name, required=True)
    parser.add_argument("--run-id")
    parser.add_argument("--emergency", action="store_true")
    parser.add_argument("--crash")
    parser.add_argument("--bad-canary", action="store_true")
    args = parser.parse_args(argv)

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
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        lifecycle.advance()
        run = lifecycle.get(str(run_id))
        if run is not None and run.state.final:
            result = {"run_id": run.run_id, "state": run.state.value, "decision": run.decision}
            Path(args.result).write_text(json.dumps(result), encoding="utf-8")
            return 0
        time.sleep(0.05)
    return 3


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
