"""Chaos with real processes: three replicas on one PostgreSQL through a drift episode, SIGKILLed while
they hold leases (``monitor.leases``).

Six models drift (critical) and recover. Each replica (``replica_worker.py``) syncs the alerts of the
models it holds, judges the alert groups while it holds the flush lease and delivers outbox rows to a
loopback PagerDuty. The test kills the replica holding the most models, measures how long until another
replica holds every model the dead one held (the takeover), restarts it, and does that again during the
firing and during the recovery. At the end every PagerDuty dedup_key has exactly one incident, which
was triggered and ends resolved (nothing lost, no second incident), and no notification went dead.
One replica is also paused (SIGSTOP) past the TTL and let go on: it finds its leases lost and stops.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

import pytest

from alerts import MIGRATIONS, OutboxStatus
from monitor import schema
from monitor.leases import LeaseStore, model_lease
from monitor.state import open_store
from tests.alerts.alert_fakes import ROUTING_KEY, PagerDutyServer

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
WORKER = Path(__file__).with_name("replica_worker.py")
MODELS = tuple(f"m{i}" for i in range(1, 7))
REPLICAS = ("r1", "r2", "r3")
TTL_S = 2


def wait_until(condition: Callable[[], bool], timeout: float, what: str) -> float:
    started = time.monotonic()
    while not condition():
        assert time.monotonic() - started < timeout, f"timed out after {timeout}s waiting for {what}"
        time.sleep(0.02)
    return time.monotonic() - started


class Fleet:
    def __init__(self, tmp_path: Path, url: str, server: PagerDutyServer) -> None:
        self.config = tmp_path / "lakewarden.yaml"
        self.config.write_text(f"""
models: [{', '.join(f'{{name: {m}, sources: {{lakehouse: {{table: main.ml.{m}}}}}}}' for m in MODELS)}]
state: {{url: "{url}"}}
route: {{receiver: oncall, group_by: [model], group_wait: 0s, group_interval: 1s, repeat_interval: 4h}}
receivers:
  - name: oncall
    pagerduty_configs: [{{routing_key: {ROUTING_KEY}, url: "{server.url()}", timeout: 5s}}]
service: {{lease_ttl: {TTL_S}s}}
""", encoding="utf-8")
        self.phases = tmp_path / "phases.json"
        self.set_phase("ok")
        self.engine = engine = open_store(url, {"monitor": schema.MIGRATIONS, "alerts": MIGRATIONS}).engine
        self.leases = LeaseStore(engine)
        self.processes: dict[str, subprocess.Popen[str]] = {}
        self.takeovers: list[float] = []
        self.kills = 0

    def set_phase(self, severity: str) -> None:
        tmp = self.phases.with_suffix(".tmp")
        tmp.write_text(json.dumps(dict.fromkeys(MODELS, severity)), encoding="utf-8")
        os.replace(tmp, self.phases)

    def start(self, replica: str) -> None:
        """Start a replica (not waiting for it: ``ready``)."""
        env = {**os.environ, "PYTHONPATH": str(ROOT)}
        with (self.config.parent / f"{replica}.log").open("a", encoding="utf-8") as log:  # the replica's log
            self.processes[replica] = subprocess.Popen(
                [sys.executable, str(WORKER), str(self.config), str(self.phases), replica],
                cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=log, text=True)

    def ready(self) -> None:
        """Wait until every replica started (it says so once it joined)."""
        for process in self.processes.values():
            if process.stdout is not None and not process.stdout.closed:
                assert process.stdout.readline().strip() == "started", process.communicate(timeout=10)
                process.stdout.close()

    def holders(self) -> dict[str, str]:
        """Model -> the replica holding its lease now (live leases only)."""
        now = datetime.now(UTC)
        return {h.name.removeprefix("model:"): str(h.holder) for h in self.leases.holdings("model:")
                if h.holder is not None and h.expires_at > now}

    def _busiest(self) -> tuple[str, list[str]]:
        self.ready()  # the takeover is measured with the other replicas up
        holders = self.holders()
        victim = max(REPLICAS, key=lambda r: sum(h == r for h in holders.values()))
        held = [m for m, h in holders.items() if h == victim]
        assert held, holders
        return victim, held

    def _takeover(self, victim: str, held: list[str]) -> None:
        def moved() -> bool:
            now = self.holders()
            return all(now.get(m) not in (None, victim) for m in held)

        self.takeovers.append(wait_until(moved, TTL_S * 4, f"the models {held} of {victim} to move"))

    def kill_busiest(self) -> None:
        """SIGKILL the replica holding the most models; measure until others hold all of them; restart it."""
        victim, held = self._busiest()
        os.kill(self.processes[victim].pid, signal.SIGKILL)
        self.processes[victim].wait(timeout=10)
        if self.processes[victim].stdout is not None:
            self.processes[victim].stdout.close()
        self.kills += 1
        self._takeover(victim, held)
        self.start(victim)  # the same instance id comes back (and gets its fair share again)

    def pause_busiest(self) -> str:
        """SIGSTOP the replica holding the most models until others took them over, then let it go on:
        it wakes up believing it holds them (a long GC pause, a frozen VM)."""
        victim, held = self._busiest()
        os.kill(self.processes[victim].pid, signal.SIGSTOP)
        try:
            self._takeover(victim, held)
        finally:
            os.kill(self.processes[victim].pid, signal.SIGCONT)
        return victim

    def log(self, replica: str) -> str:
        return (self.config.parent / f"{replica}.log").read_text(encoding="utf-8")

    def stop(self) -> None:
        for process in self.processes.values():
            if process.poll() is None:
                process.kill()
                process.wait(timeout=10)
        self.engine.dispose()

    def outbox(self) -> list[OutboxStatus]:
        from alerts.schema import alerts_outbox as t

        with self.engine.connect() as conn:
            return [OutboxStatus(s) for (s,) in conn.execute(t.select().with_only_columns(t.c.status))]


@contextmanager
def fleet(tmp_path: Path, url: str, server: PagerDutyServer) -> Iterator[Fleet]:
    run = Fleet(tmp_path, url, server)
    try:
        yield run
    finally:
        run.stop()


def test_three_replicas_killed_while_holding_leases_lose_no_page_and_open_no_second_incident(
        tmp_path: Path, pg_url: str) -> None:
    server = PagerDutyServer()
    with server.running(), fleet(tmp_path, pg_url, server) as run:
        server.hold = 0.2  # answers held back a moment: kills land between a send and its ack too
        for replica in REPLICAS:
            run.start(replica)
        run.ready()
        wait_until(lambda: sorted(run.holders().values()) == sorted(REPLICAS * 2), 20,
                   "two models per replica (the fair share)")
        run.set_phase("critical")
        for _ in range(2):
            run.kill_busiest()
        paused = run.pause_busiest()
        wait_until(lambda: len(server.incidents) == len(MODELS), 30, "an incident per model")
        run.set_phase("ok")
        run.kill_busiest()
        run.ready()
        wait_until(lambda: all(i.status == "resolved" for i in server.incidents)
                   and all(s is OutboxStatus.DONE for s in run.outbox()), 40, "every incident resolved")
        # Every model held again once the last restart has settled (a rebalance hands one over at a time).
        wait_until(lambda: set(run.holders()) == set(MODELS), TTL_S * 4, "every model held")
        wait_until(lambda: '"lease_lost"' in run.log(paused), 10, f"{paused} to notice it lost its leases")
        refused = run.log(paused).count("fence: ")

    print(f"replica chaos: {run.kills} kills and a pause, takeover in {[round(s, 2) for s in run.takeovers]} s "
          f"(lease TTL {TTL_S} s); writes refused by the fence after the pause: {refused}")
    keys = [i.dedup_key for i in server.incidents]
    assert len(keys) == len(set(keys)) == len(MODELS)  # one incident per group, never a second one
    assert all(i.events[0] == "trigger" and i.events[-1] == "resolve" for i in server.incidents), [
        (i.dedup_key, i.events) for i in server.incidents]
    assert run.kills == 3 and max(run.takeovers) < TTL_S * 2
    assert {model_lease(m) for m in MODELS} <= {h.name for h in run.leases.holdings()}
