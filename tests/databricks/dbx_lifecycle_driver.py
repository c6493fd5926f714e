"""A stand-in lakewarden daemon on a Databricks workspace (the emulator) that may SIGKILL itself at a side effect.

Usage::

    python dbx_lifecycle_driver.py --config lakewarden.yaml --calls LOG --result JSON (--run-id ID | --emergency)
                                   [--crash [before:]LABEL] [--bad-canary]
    python dbx_lifecycle_driver.py --serve     (a fork server: one life per line of argv, tests/killpoints.py)

It loads the lakewarden config (``workspace.kind: databricks`` pointing at the emulator), builds the
lifecycle as the daemon does (``dbx_lifecycle.lifecycle_for``: databricks-sdk jobs, UC aliases,
serving endpoints and monitor refreshes; MLflow's UC clients for tags and metrics) with a wall
clock, and calls ``advance`` until the run is final. Every side-effect call is wrapped by
:meth:`tests.killpoints.Calls.around`: logged to ``--calls`` once the workspace answered, and a kill
point right before it (``--crash=before:LABEL``) and right after it (``--crash=LABEL``, before the
lifecycle records it). Labels: ``start:JOB_ID`` (``run-now``), ``cancel`` (``runs/cancel``),
``set_alias:ALIAS=VERSION``, ``delete_alias:ALIAS``, ``put:{routes as sorted JSON}`` (an endpoint
update), ``refresh`` (asking for a monitor refresh, or following the one already there). The canary's
windows are all there at once, calm (``--bad-canary``: high).
``--emergency`` asks for an emergency run first (a restart asks again: the run in flight answers).
The end goes to ``--result`` as ``{"run_id", "state", "decision"}``.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from config.loader import load_settings
from monitor.workspace import WorkspaceBackends
from retrain import Trigger
from tests.databricks.dbx_lifecycle import CalmWindows, lifecycle_for
from tests.killpoints import Calls, serve


def spied(calls: Calls) -> Callable[[WorkspaceBackends], WorkspaceBackends]:
    def wrap(remote: WorkspaceBackends) -> WorkspaceBackends:
        calls.around(remote.jobs, "start", lambda run_id, target, params: f"start:{target}")
        calls.around(remote.jobs, "cancel", lambda external_id: "cancel")
        calls.around(remote.registry, "set_alias", lambda model, alias, version: f"set_alias:{alias}={version}")
        calls.around(remote.registry, "delete_alias", lambda model, alias: f"delete_alias:{alias}")
        calls.around(remote.serving, "put",
                     lambda name, entities, routes: f"put:{json.dumps(dict(routes), sort_keys=True)}")
        calls.around(remote.discovery, "refresh", lambda table, since=None: "refresh")
        return remote

    return wrap


def warm() -> None:
    """Import what every life needs (databricks-sdk, MLflow and its Unity Catalog store) once, before forking."""
    import databricks.sdk  # noqa: F401
    import mlflow.store._unity_catalog.registry.rest_store  # noqa: F401
    from mlflow import MlflowClient  # noqa: F401


def main(argv: list[str]) -> int:
    if argv == ["--serve"]:
        return serve(main, warm)
    parser = argparse.ArgumentParser()
    for name in ("--config", "--calls", "--result"):
        parser.add_argument(name, required=True)
    parser.add_argument("--run-id")
    parser.add_argument("--emergency", action="store_true")
    parser.add_argument("--crash")
    parser.add_argument("--bad-canary", action="store_true")
    args = parser.parse_args(argv)

    def clock() -> datetime:
        return datetime.now(UTC)

    calls = Calls(Path(args.calls), args.crash)
    settings = load_settings(args.config, os.environ)
    # The canary's windows: judged a day ahead, so they are all there at once.
    windows = CalmWindows(lambda: clock() + timedelta(days=1), "high" if args.bad_canary else "low")
    lifecycle, _ = lifecycle_for(settings, clock, windows, spied(calls))
    run_id = args.run_id
    if args.emergency:
        now = clock()
        run_id = lifecycle.emergency(Trigger("churn", "emergency: risk 97", "critical", now - timedelta(hours=1),
                                             now)).run_id
    deadline = time.monotonic() + 60
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
