"""One lakewarden replica that drives lifecycle runs, in its own process, for the lifecycle chaos test
(``test_lifecycle_chaos.py``).

``lifecycle_worker.py CONFIG INSTANCE_ID [CRASH_AFTER_STARTS]``: joins the replicas on the state
database of CONFIG under INSTANCE_ID (``monitor.leases``), builds the lifecycle the way the daemon
does (``monitor.app``: the local job backend in ``workspace.jobs_dir``, MLflow from
``workspace.mlflow_tracking_uri``, local serving records) and then loops on the daemon's own handler
for ``AdvanceLifecycle`` (``Handlers.advance_lifecycle``: each model's runs moved on behind its
lease gate, so its writes are fenced), as the daemon's command loop does, without Spark or polling.

MLflow is imported and its client made before the replica says ``started`` (once per process, out of
the loop). With CRASH_AFTER_STARTS = N the replica SIGKILLs itself right after its N-th job start
returned, before the lifecycle could record the job: the next holder of that model must find the
job started (the local backend's claim on the run id), not start a second one.
"""

from __future__ import annotations

import os
import signal
import sys
import time
from collections.abc import Mapping
from pathlib import Path

from config import load_settings
from config.basics.clock import utc_now
from config.basics.fence import FenceLost, install_fencing
from monitor.app import build_alert_store, build_notifier, lifecycle_models, mlflow_env
from monitor.assessments import AssessmentStore
from monitor.handlers import Handlers
from monitor.health import Health
from monitor.leases import LeaseKeeper, LeaseStore, bound_idle_transactions
from monitor.lifecycle_ports import AssessmentVerdicts
from monitor.logs import configure_logging
from monitor.messages import AdvanceLifecycle
from monitor.state import StateStore
from monitor.state.store import create_engine
from retrain import Lifecycle, LocalJobBackend, LocalServingBackend, MlflowRegistry


class CrashingJobs(LocalJobBackend):
    """The local job backend; the replica dies right after its ``crash_after``-th start (0: never)."""

    crash_after = 0
    started = 0

    def start(self, run_id: str, target: str, params: Mapping[str, str]) -> str:
        external_id = super().start(run_id, target, params)
        self.started += 1
        if self.started == self.crash_after:
            print(f"crashing after the start of {run_id}", file=sys.stderr, flush=True)
            os.kill(os.getpid(), signal.SIGKILL)
        return external_id


def main(config: str, instance: str, crash_after: str = "0") -> int:
    configure_logging(stream=sys.stderr)  # stdout says "started", nothing else
    settings = load_settings(config)
    engine = create_engine(str(settings.state.url))  # the schema is the test's
    install_fencing(engine)
    bound_idle_transactions(engine, settings.service.lease_ttl)
    ws = settings.workspace
    registry = MlflowRegistry(ws.mlflow_tracking_uri, ws.registry_uri)
    registry.client.search_registered_models(max_results=1)  # MLflow imported and connected, out of the loop
    jobs = CrashingJobs(workdir=Path(ws.jobs_dir), env=mlflow_env(settings))
    jobs.crash_after = int(crash_after)
    lifecycle = Lifecycle(engine, lifecycle_models(settings), jobs, registry, utc_now,
                          serving=LocalServingBackend(engine, utc_now), verdicts=AssessmentVerdicts(engine))
    alerts = build_notifier(settings, build_alert_store(StateStore(engine), utc_now), worker_id=instance).service
    keeper = LeaseKeeper(LeaseStore(engine, settings.service.lease_ttl), instance, [m.name for m in settings.models])
    handlers = Handlers(settings, (), AssessmentStore(engine, utc_now), alerts, lifecycle, Health(), utc_now,
                        model_gate=keeper.model_gate)
    keeper.start()
    print("started", flush=True)
    while True:
        try:  # as the daemon's command loop handles AdvanceLifecycle
            for _event in handlers.advance_lifecycle(AdvanceLifecycle()):
                pass
        except FenceLost as exc:
            print(f"fence: {exc}", file=sys.stderr, flush=True)
        except Exception as exc:  # as the daemon's command_failed
            print(f"advance failed: {type(exc).__name__}: {exc}", file=sys.stderr, flush=True)
        time.sleep(0.05)


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:4]))
