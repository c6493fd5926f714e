"""Two real ``lakewarden run`` replicas on one PostgreSQL share the models of one config, reading the
metric tables through the SQL warehouse (the emulator; no Spark in the daemons), and one is SIGKILLed.

Two models on one monitored table. The replicas split the models (``/readyz`` ``leases``: one each)
and judge the three windows of every model once between them. Then one replica is killed and a
fourth window lands: the survivor takes the dead one's models over within the lease TTL (plus a
heartbeat) and judges the new window of every model. At the end each (model, stream, window) was
judged exactly once across both replicas (one first ``assessment_made`` each, no ``judge_failed``;
the freshness stream's current window is rewritten when the new window changes what it says), and no
notification was sent twice.
"""

from __future__ import annotations

import json
import signal
import time
from collections import Counter
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest
import sqlalchemy as sa

from monitor.engines.local_spark import LocalSparkEngine
from tests.databricks.dbx_support import DATABRICKS, TOKEN, WAREHOUSE_ID
from tests.databricks.dbx_tables import START, WINDOWS, add_window, put, write_metric_tables
from tests.monitor.cli_support import DaemonProcess, daemon_process, wait_for

pytestmark = pytest.mark.integration

TABLE = "main.dbx_replicas.inference"
OUTPUT_SCHEMA = "main.dbx_replicas_out"
MODELS = ("m1", "m2")
REPLICAS = ("r1", "r2")
TTL_S = 2
STREAM = "lakehouse:1 hour"


def write_config(tmp: Path, emulator_url: str, state_url: str) -> Path:
    source = (f"{{table: {TABLE}, granularity: 1 hour, drift_type: BASELINE, lookback: 3650d, "
              f"output_schema: {OUTPUT_SCHEMA}}}")
    models = "\n".join(f"  - {{name: {m}, poll_interval: 3s, sources: {{lakehouse: {source}}}}}" for m in MODELS)
    config = tmp / "lakewarden.yaml"
    config.write_text(DATABRICKS.format(warehouse=WAREHOUSE_ID, host=emulator_url, token=TOKEN) + f"""\
state: {{url: "{state_url}"}}
service: {{log_format: json, http: {{host: 127.0.0.1, port: 0}}, lease_ttl: {TTL_S}s, delivery_interval: 0.5s}}
models:
{models}
route: {{receiver: log, group_by: [model], group_wait: 0s, group_interval: 1s, repeat_interval: 24h}}
receivers:
  - name: log
    file_configs: [{{path: "{tmp}/alerts.jsonl"}}]
""", encoding="utf-8")
    return config


@pytest.fixture(scope="module")
def table(spark_engine: LocalSparkEngine) -> Path:
    write_metric_tables(spark_engine.root, "dbx_replicas_out")
    put(spark_engine.root, TABLE, pa.table({"prediction": [0.5]}))
    return spark_engine.root


def judged(engine: sa.Engine) -> Counter[str]:
    """Model -> how many windows of the metric stream are stored."""
    with engine.connect() as conn:
        rows = conn.execute(sa.text("SELECT model FROM monitor_assessments WHERE stream = :s"), {"s": STREAM})
        return Counter(model for (model,) in rows)


def held(daemon: DaemonProcess) -> list[str]:
    leases: dict[str, Any] = daemon.readiness().get("leases", {})
    return list(leases.get("models", []))


def test_two_daemons_share_the_models_and_one_takes_over_when_the_other_is_killed(
        tmp_path: Path, table: Path, emulator, pg_url: str) -> None:  # type: ignore[no-untyped-def]
    emulator.monitors.add(TABLE, OUTPUT_SCHEMA, pending_seconds=0)
    config = write_config(tmp_path, emulator.url, pg_url)
    state = sa.create_engine(pg_url)
    daemons: dict[str, DaemonProcess] = {}
    with ExitStack() as stack:
        for replica in REPLICAS:
            daemons[replica] = stack.enter_context(daemon_process(
                config, tmp_path / f"{replica}.log", {"LAKEWARDEN_INSTANCE_ID": replica}))
        for daemon in daemons.values():
            daemon.http_port(timeout=120)
        wait_for(lambda: all(len(held(d)) == 1 for d in daemons.values()), 60, "a model per replica")
        split = {replica: held(daemon) for replica, daemon in daemons.items()}
        assert sorted(split["r1"] + split["r2"]) == list(MODELS)
        wait_for(lambda: judged(state) == dict.fromkeys(MODELS, WINDOWS), 90, f"{WINDOWS} windows of each model judged")

        victim, survivor = daemons["r1"], daemons["r2"]
        victim.process.send_signal(signal.SIGKILL)
        killed = time.monotonic()
        victim.process.wait(timeout=10)
        add_window(table, f"{OUTPUT_SCHEMA}.inference", WINDOWS)  # a new window for every model
        wait_for(lambda: sorted(held(survivor)) == list(MODELS), TTL_S * 4, "the survivor to hold every model")
        takeover = time.monotonic() - killed
        wait_for(lambda: judged(state) == dict.fromkeys(MODELS, WINDOWS + 1), 60, "the new window judged everywhere")
        judged_after = time.monotonic() - killed
        wait_for(lambda: outbox_done(state), 30, "every notification sent")
        code, _ = survivor.signal_and_wait(signal.SIGTERM, 60)
        assert code == 0, survivor.output()[-3000:]
        logs = {replica: daemon.events() for replica, daemon in daemons.items()}
    state.dispose()

    print(f"two replicas on warehouse: split {split}; takeover {takeover:.2f} s, new window of every model "
          f"judged {judged_after:.2f} s after the kill (lease TTL {TTL_S} s)")
    events = [e for replica_events in logs.values() for e in replica_events]
    assert not [e for e in events if e.get("event") in ("judge_failed", "command_failed", "lease_lost_during_work")]
    judgements = [e for e in events if e.get("event") == "assessment_made"]
    made = Counter((e["model"], e["stream"], e["window_start"]) for e in judgements if not e["rewrite"])
    assert made and max(made.values()) == 1, [k for k, n in made.items() if n > 1]  # each window judged once
    rewrites = [e for e in judgements if e["rewrite"]]  # only a window whose verdict changed is judged again
    assert all(e["stream"].startswith("freshness:") for e in rewrites), rewrites
    assert len({(e["model"], e["stream"], e["window_start"], tuple(e["top"])) for e in judgements}) == len(judgements)
    assert {m for m, s, _ in made if s == STREAM} == set(MODELS)
    assert len([k for k in made if k[1] == STREAM]) == len(MODELS) * (WINDOWS + 1)
    new_window = (START.replace(hour=WINDOWS)).isoformat()
    judged_by = {e["model"]: replica for replica, replica_events in logs.items() for e in replica_events
                 if e.get("event") == "assessment_made" and e["stream"] == STREAM and e["window_start"] == new_window}
    assert judged_by == dict.fromkeys(MODELS, "r2")
    lines = [json.loads(line) for line in (tmp_path / "alerts.jsonl").read_text(encoding="utf-8").splitlines()]
    sent = Counter(json.dumps({k: v for k, v in line.items() if k not in ("timestamp",)}, sort_keys=True)
                   for line in lines)
    assert lines and max(sent.values()) == 1, [k for k, n in sent.items() if n > 1]
    assert takeover < TTL_S * 2


def outbox_done(engine: sa.Engine) -> bool:
    with engine.connect() as conn:
        statuses = [s for (s,) in conn.execute(sa.text("SELECT status FROM alerts_outbox"))]
    return bool(statuses) and all(s == "done" for s in statuses)
