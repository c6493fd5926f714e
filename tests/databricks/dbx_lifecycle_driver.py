"""A stand-in lakewarden daemon on a Databricks workspace (the emulator) that may SIGKILL itself after a side effect.

Usage::

    python dbx_lifecycle_driver.py --config lakewarden.yaml --calls LOG --result JSON --run-id ID [--crash LABEL]

It loads the lakewarden config (``workspace.kind: databricks`` pointing at the emulator), builds the
lifecycle as the daemon does (``dbx_lifecycle.lifecycle_for``: databricks-sdk jobs, UC aliases,
serving endpoints and monitor refreshes; MLflow's UC clients for tags and metrics) with a wall
clock, and calls ``advance`` until the run is final. Every side-effect call is appended to
``--calls`` as ``{"pid", "label"}`` once the workspace answered; when the label equals ``--crash``
the driver appends ``CRASH`` and kills itself with SIGKILL, before the lifecycle records it.
Labels: ``start:JOB_ID``, ``set_alias:ALIAS=VERSION``, ``delete_alias:ALIAS``, ``put:{routes as
sorted JSON}``, ``refresh``. The canary's windows are calm and all there at once. The end goes to ``--result`` as
``{"run_id", "state", "decision"}``.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from config.loader import load_settings
from monitor.workspace import WorkspaceBackends
from tests.databricks.dbx_lifecycle import CalmWindows, lifecycle_for


class Calls:
    def __init__(self, path: Path, crash: str | None) -> None:
        self.path = path
        self.crash = crash

    def done(self, label: str) -> None:
        with self.path.open("a", encoding="utf-8") as handle:
            handle.write(json.dumps({"pid": os.getpid(), "label": label}) + "\n")
            if label == self.crash:
                handle.write(json.dumps({"pid": os.getpid(), "label": "CRASH"}) + "\n")
        if label == self.crash:
            os.kill(os.getpid(), signal.SIGKILL)

    def after(self, target: Any, method: str, label: Callable[..., str]) -> None:
        """Log ``target.method`` calls by ``label(*args)`` once they returned."""
        original = getattr(target, method)

        def call(*args: Any) -> Any:
            result = original(*args)
            self.done(label(*args))
            return result

        setattr(target, method, call)


def spied(calls: Calls) -> Callable[[WorkspaceBackends], WorkspaceBackends]:
    def wrap(remote: WorkspaceBackends) -> WorkspaceBackends:
        calls.after(remote.jobs, "start", lambda run_id, target, params: f"start:{target}")
        calls.after(remote.registry, "set_alias", lambda model, alias, version: f"set_alias:{alias}={version}")
        calls.after(remote.registry, "delete_alias", lambda model, alias: f"delete_alias:{alias}")
        calls.after(remote.serving, "put",
                    lambda name, entities, routes: f"put:{json.dumps(dict(routes), sort_keys=True)}")
        calls.after(remote.discovery, "refresh", lambda table: "refresh")
        return remote

    return wrap


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser()
    for name in ("--config", "--calls", "--result", "--run-id"):
        parser.add_argument(name, required=True)
    parser.add_argument("--crash")
    args = parser.parse_args(argv)

    def clock() -> datetime:
        return datetime.now(UTC)

    calls = Calls(Path(args.calls), args.crash)
    settings = load_settings(args.config, os.environ)
    # The canary's windows: judged a day ahead, so they are all there at once (calm, every one).
    lifecycle, _ = lifecycle_for(settings, clock, CalmWindows(lambda: clock() + timedelta(days=1)), spied(calls))
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        lifecycle.advance()
        run = lifecycle.get(args.run_id)
        if run is not None and run.state.final:
            result = {"run_id": run.run_id, "state": run.state.value, "decision": run.decision}
            Path(args.result).write_text(json.dumps(result), encoding="utf-8")
            return 0
        time.sleep(0.05)
    return 3


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
