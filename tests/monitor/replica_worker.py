"""One lakewarden replica in its own process, for the replica chaos test (``test_replica_chaos.py``).

``replica_worker.py CONFIG PHASES INSTANCE_ID``: joins the replicas on the state database of CONFIG
under INSTANCE_ID (``monitor.leases``), then loops like the daemon does, without Spark: for each model
it holds (the same gate the daemon's poll passes), it syncs the model's alert to the severity that
PHASES (a JSON file the test rewrites: model -> "critical" or "ok") says its latest window has, as the
risk handler would after judging it; then judges the due alert groups when it holds the flush lease,
and delivers outbox rows (every replica). It runs until it is killed.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

from alerts import Alert, AlertStore, build_channels, build_pipeline
from config import load_settings
from config.basics.clock import utc_now
from config.basics.fence import FenceLost, install_fencing
from monitor.leases import FLUSH, LeaseKeeper, LeaseStore, bound_idle_transactions
from monitor.logs import configure_logging
from monitor.state.store import create_engine


def main(config: str, phases_path: str, instance: str) -> int:
    configure_logging(stream=sys.stderr)  # stdout says "started", nothing else
    settings = load_settings(config)
    engine = create_engine(str(settings.state.url))  # the schema is the test's
    install_fencing(engine)
    bound_idle_transactions(engine, settings.service.lease_ttl)
    store = AlertStore(engine, utc_now)
    notifier = build_pipeline(settings, store, build_channels(settings.receivers, utc_now, store.message_refs()),
                              worker_id=instance)
    keeper = LeaseKeeper(LeaseStore(engine, settings.service.lease_ttl), instance, [m.name for m in settings.models])
    notifier.dispatcher.gate = lambda: keeper.gate(FLUSH)
    keeper.start()
    print("started", flush=True)
    phases = Path(phases_path)
    while True:
        severity = json.loads(phases.read_text(encoding="utf-8"))
        for model in settings.models:
            with keeper.model_gate(model.name) as held:
                if not held:
                    continue
                firing = [Alert({"alertname": "ModelRisk", "model": model.name, "severity": "critical"},
                                {"summary": f"{model.name} drifted"}, utc_now())
                          ] if severity[model.name] == "critical" else []
                try:
                    notifier.service.sync(model.name, firing)
                except FenceLost as exc:
                    print(f"fence: {exc}", file=sys.stderr, flush=True)
                except Exception as exc:  # as the daemon's command_failed: e.g. a session ended under a pause
                    print(f"sync failed: {type(exc).__name__}", file=sys.stderr, flush=True)
        try:
            notifier.run_once()
        except Exception as exc:  # as the daemon's delivery_failed
            print(f"delivery failed: {type(exc).__name__}", file=sys.stderr, flush=True)
        time.sleep(0.05)


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:4]))
