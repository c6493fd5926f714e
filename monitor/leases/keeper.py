"""What this replica holds, kept by a heartbeat: its models (a fair share of them) and the alert flushes.

Each replica has its own liveness lease (``replica:<instance id>``) and holds up to a fair share of
the configured models: ``ceil(models / live replicas)``. On every beat (a sixth of the TTL) it renews
what it holds, drops what it lost, releases models beyond its fair share that no work is using
(another replica joined), and acquires free or expired models up to its share (a replica left or
died), asking for a poll of each model it took over at once (``on_acquired``). So models spread
over the replicas, and a dead replica's models move one TTL after its last renewal, plus at most one
beat. Every replica that runs tries the one ``alerts:flush`` lease too: a single leader judges the
due alert groups (see ``docs/high-availability.md`` for why one leader, not a lease per group).

The work itself asks at its start (:meth:`LeaseKeeper.gate`): held (or acquired now, within the
fair share) means go, with the lease's fence bound so every write transaction checks the token; not
held means another replica does it, and this one skips it. A lease that is close to its expiry is
renewed first, so a replica whose heartbeat stalled does not start work on a lease it may have lost.

A keeper that was never started (``lakewarden check``, tests) lets every gate through, unfenced.
"""

from __future__ import annotations

import math
import threading
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from datetime import datetime
from typing import Any

import structlog

from config.basics.fence import always, fenced
from monitor.leases.store import REPLICA, Holding, Lease, LeaseStore

log = structlog.get_logger(__name__)

MODEL = "model:"
FLUSH = "alerts:flush"
_KINDS = ("model", "alerts_flush", "replica")


def model_lease(model: str) -> str:
    return f"{MODEL}{model}"


def lease_kind(name: str) -> str:
    """A lease's kind, for metrics: ``model``, ``alerts_flush`` or ``replica``."""
    if name == FLUSH:
        return "alerts_flush"
    return name.split(":", 1)[0]


class LeaseKeeper:
    def __init__(self, store: LeaseStore, holder: str, models: Sequence[str],
                 on_acquired: Callable[[str], None] | None = None) -> None:
        self.store = store
        self.holder = holder
        self.models = tuple(models)
        self._shared = frozenset(model_lease(m) for m in self.models)  # the leases the fair share is of
        self.on_acquired = on_acquired  # called with a model's name when a beat took it over
        self._held: dict[str, Lease] = {}
        self._in_use: Counter[str] = Counter()
        self._lock = threading.RLock()
        self._acquiring = threading.Lock()  # one acquisition at a time in this replica (``_acquire``)
        self._live = 1  # replicas seen alive at the last beat
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._started = False
        self._logged: frozenset[str] = frozenset()  # the holdings last logged (``leases_held``)
        self._takeovers: Counter[str] = Counter()  # by kind: acquired after another replica's lease expired
        self._lost: Counter[str] = Counter()  # by kind: found taken over while this replica held it

    @property
    def interval(self) -> float:
        return self.store.ttl.total_seconds() / 6

    def start(self, heartbeat: bool = True) -> None:
        """Join: take this replica's liveness lease, then a first beat (models, flush); then beat on a
        thread (``heartbeat``; without, the caller calls :meth:`beat`)."""
        with fenced():
            me = self.store.acquire(REPLICA + self.holder, self.holder)
        if me is None:  # only when another process renews a lease under the same id
            raise RuntimeError(f"instance id {self.holder!r} is held by another running replica: give each replica "
                               "its own LAKEWARDEN_INSTANCE_ID (or alerting.instance_id)")
        with self._lock:
            self._held[me.name] = me
            self._started = True
        self.beat()
        if heartbeat:
            self._thread = threading.Thread(target=self._beat_loop, name="leases", daemon=True)
            self._thread.start()

    def stop(self) -> None:
        """Stop the heartbeat and give every lease up, so the other replicas take the work over at once."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(self.interval + 5)
        with self._lock:
            held, self._held = list(self._held.values()), {}
        if held:
            try:
                with fenced():
                    released = self.store.release(held)
                log.info("leases_released", reason="stopping", count=released, leases=sorted(h.name for h in held))
            except Exception:
                log.exception("leases_release_failed", note="the other replicas take them over after the TTL")

    @property
    def fair_share(self) -> int:
        return math.ceil(len(self.models) / max(1, self._live))

    def gate(self, name: str) -> AbstractContextManager[bool]:
        """Enter before doing ``name``'s work: True means go (fenced inside), False means another replica has it."""
        if not self._started:
            return always()
        return self._gate(name)

    def model_gate(self, model: str) -> AbstractContextManager[bool]:
        return self.gate(model_lease(model))

    @contextmanager
    def _gate(self, name: str) -> Iterator[bool]:
        lease = self._usable(name)
        if lease is None:
            yield False
            return
        with self._lock:
            self._in_use[name] += 1
        try:
            with fenced(lease):
                yield True
        finally:
            with self._lock:
                self._in_use[name] -= 1

    def _usable(self, name: str) -> Lease | None:
        """The lease on ``name``, renewed first when a third of its TTL or less is left; acquired if
        free and within the fair share; None when another replica holds it (or the database cannot
        say: then nobody can write either)."""
        try:
            return self._renewed_or_acquired(name)
        except Exception as exc:
            log.warning("lease_check_failed", lease=name, holder=self.holder, error=f"{type(exc).__name__}: {exc}")
            return None

    def _renewed_or_acquired(self, name: str) -> Lease | None:
        with self._lock:
            lease = self._held.get(name)
        with fenced():
            if lease is not None:
                if (lease.expires_at - self.store.clock()) > self.store.ttl / 3:
                    return lease
                renewed = self.store.renew(lease)
                with self._lock:
                    self._forget_or_keep(lease, renewed)
                return renewed
            return self._acquire(name, "work")[0]

    def _acquire(self, name: str, by: str, previous: str | None = None) -> tuple[Lease | None, bool]:
        """Acquire ``name`` unless this replica holds it already (the work and the heartbeat may both
        try: only one acquires, or the other's token would be stale at once) or its fair share is
        full. Returns the lease (None: not held) and whether this call acquired it."""
        with self._acquiring:
            with self._lock:
                held = self._held.get(name)
            if held is not None:
                return held, False
            if name in self._shared and self._count() >= self.fair_share:
                return None, False
            acquired = self.store.acquire(name, self.holder)
            if acquired is None:
                return None, False
            with self._lock:
                self._held[name] = acquired
                if previous is not None and previous != self.holder:
                    self._takeovers[lease_kind(name)] += 1
        log.info("lease_acquired", lease=name, fence=acquired.token, holder=self.holder, by=by,
                 previous_holder=previous)
        return acquired, True

    def _forget_or_keep(self, old: Lease, renewed: Lease | None) -> None:
        if renewed is None:
            self._held.pop(old.name, None)
            self._lost[lease_kind(old.name)] += 1
            log.warning("lease_lost", lease=old.name, fence=old.token, holder=self.holder,
                        note="another replica took it over (this one paused past the TTL?); stopped acting on it")
        else:
            self._held[old.name] = renewed

    def _count(self) -> int:
        """How many of the configured models this replica holds (the fair share counts only those)."""
        with self._lock:
            return sum(name in self._shared for name in self._held)

    def _beat_loop(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                self.beat()
            except Exception:  # a busy or unreachable database: the leases have slack for a few beats
                log.warning("lease_heartbeat_failed", holder=self.holder, exc_info=True)

    def beat(self) -> None:
        """Renew, count the live replicas, give back the excess, take free models up to the fair share."""
        with fenced():
            with self._lock:
                held = list(self._held.values())
            renewed, lost = self.store.renew_all(held)
            with self._lock:
                for lease in lost:
                    self._forget_or_keep(lease, None)
                for lease in renewed:
                    self._held[lease.name] = lease
            rows = {h.name: h for h in self.store.holdings()}
            now = self.store.clock()
            live = [h for h in rows.values() if h.name.startswith(REPLICA) and h.holder and h.expires_at > now]
            self._live = max(1, len(live))
            self._rebalance()
            self._take_free(rows, now)
        with self._lock:
            names = frozenset(self._held)
        if names != self._logged:
            self._logged = names
            log.info("leases_held", **self.holdings())

    def _take_free(self, rows: dict[str, Holding], now: datetime) -> None:
        free = [name for name in [*sorted(self._shared), FLUSH]
                if name not in self._held and (name not in rows or rows[name].holder is None
                                               or rows[name].expires_at <= now)]
        for name in free:
            previous = rows.get(name)
            try:
                lease, new = self._acquire(name, "heartbeat", previous.holder if previous else None)
            except Exception as exc:  # one lease the database cannot give now: the others still may
                log.warning("lease_acquire_failed", lease=name, holder=self.holder,
                            error=f"{type(exc).__name__}: {exc}")
                continue
            if new and lease is not None and name.startswith(MODEL) and self.on_acquired is not None:
                self.on_acquired(name[len(MODEL):])

    def _rebalance(self) -> None:
        with self._lock:
            mine = sorted(name for name in self._held if name in self._shared)
            excess = len(mine) - self.fair_share
            spare = [self._held[name] for name in reversed(mine) if not self._in_use[name]][:max(0, excess)]
            for lease in spare:
                del self._held[lease.name]
        if spare:
            self.store.release(spare)
            log.info("leases_released", reason="rebalance", live_replicas=self._live, fair_share=self.fair_share,
                     leases=[lease.name for lease in spare])

    def metrics(self) -> dict[str, dict[str, int]] | None:
        """For ``/metrics``: leases held now, takeovers and losses since start, each by kind (None: not
        started, one process holding everything)."""
        if not self._started:
            return None
        with self._lock:
            held = Counter(lease_kind(name) for name in self._held)
            return {what: {kind: counts.get(kind, 0) for kind in _KINDS}
                    for what, counts in (("held", held), ("takeovers", self._takeovers), ("lost", self._lost))}

    def holdings(self) -> dict[str, Any]:
        """What this replica holds, for ``/readyz`` and the logs."""
        if not self._started:
            return {"leases": "not started (one process: holds everything)"}
        with self._lock:
            names = sorted(self._held)
        return {"instance_id": self.holder, "live_replicas": self._live, "fair_share": self.fair_share,
                "models": [name[len(MODEL):] for name in names if name.startswith(MODEL)],
                "alerts_flush": FLUSH in names, "ttl_s": self.store.ttl.total_seconds()}
