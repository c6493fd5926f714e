"""The daemon's health as the probes report it: :class:`Health`, updated by the daemon and read by
the HTTP server's ``/healthz`` and ``/readyz``."""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from typing import Any, Protocol

from config.basics.clock import Clock, utc_now
from monitor.logs import redact_text

__all__ = ["Health", "HealthSource"]

_MAX_ERROR_CHARS = 500  # a model's error in /readyz: enough to act on, short enough for a probe


class HealthSource(Protocol):
    """What the probes ask. Each answer is ``(ok, details)``; details are JSON-able and shown as is."""

    def liveness(self) -> tuple[bool, dict[str, Any]]: ...

    def readiness(self) -> tuple[bool, dict[str, Any]]: ...


class Health:
    """The daemon's health, updated by the daemon and read by the HTTP threads (all under one lock).

    Live: always, while the process can answer; also while stopping, because a liveness failure
    gets the process killed and that would cut the graceful drain short.

    Ready: started and not stopping. A model whose source fails does *not* make the service unready:
    readiness decides whether the pod is kept in service, and a failing readiness probe ends in
    restarts or a pod taken out of rotation, for every model. One broken table (a typo in a table
    name, a revoked grant) is a problem of that model, which a restart does not fix and which must not
    stop the watching of the others. It shows in the details instead: status ``degraded`` and the
    model's error, e.g. ``{"status": "degraded", "models": {"churn": {"ok": false, "error": "..."}}}``.

    Not ready, though, while the state database cannot be written (``state_failed``, from the daemon's
    self-check): nothing can be judged, stored or notified then, and no alert can say so (the outbox
    lives in that database). Status ``state_unwritable`` with the reason under ``state``.

    Stale data (``stale_data`` findings of ``signals.freshness``) does not make the service unready
    either: a metric table that stopped getting windows is the data pipeline's problem, which no
    restart of lakewarden fixes, and the stale_data finding already reaches the model's alerts. But
    ``/readyz`` never says a plain ``ok`` over it: the stale streams are listed under the model
    (``"stale": ["the newest window of ... ended 3h ago, ..."]``) and the status is ``stale`` (or
    ``degraded`` when a source also failed).
    """

    def __init__(self, clock: Clock = utc_now) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self._started = False
        self._stopping = False
        self._models: dict[str, dict[str, Any]] = {}
        self._state_error: str | None = None
        self._holdings: Callable[[], dict[str, Any]] | None = None

    def set_holdings(self, holdings: Callable[[], dict[str, Any]]) -> None:
        """What this replica holds (``monitor.leases``), shown under ``leases`` in the readiness details."""
        self._holdings = holdings

    def set_started(self) -> None:
        with self._lock:
            self._started = True

    def set_stopping(self) -> None:
        with self._lock:
            self._stopping = True

    def model_ok(self, name: str, stale: Sequence[str] = ()) -> None:
        """The model's sources were read; ``stale``: its stale streams, in words (none: all fresh)."""
        entry: dict[str, Any] = {"ok": True, "checked_at": self._clock().isoformat()}
        if stale:
            entry["stale"] = [_short(text) for text in stale]
        with self._lock:
            self._models[name] = entry

    def model_failed(self, name: str, error: str, stale: Sequence[str] = ()) -> None:
        entry: dict[str, Any] = {"ok": False, "error": _short(error), "checked_at": self._clock().isoformat()}
        if stale:
            entry["stale"] = [_short(text) for text in stale]
        with self._lock:
            self._models[name] = entry

    def state_ok(self) -> None:
        with self._lock:
            self._state_error = None

    def state_failed(self, error: str) -> None:
        text = redact_text(error)[:_MAX_ERROR_CHARS]
        with self._lock:
            self._state_error = text

    def liveness(self) -> tuple[bool, dict[str, Any]]:
        with self._lock:
            phase = self._phase()
        return True, {"status": "ok", "phase": phase}

    def readiness(self) -> tuple[bool, dict[str, Any]]:
        with self._lock:
            phase = self._phase()
            models = {name: dict(entry) for name, entry in sorted(self._models.items())}
            state_error = self._state_error
        ready = phase == "running" and state_error is None
        if phase != "running":
            status = phase
        elif state_error is not None:
            status = "state_unwritable"
        elif not all(entry["ok"] for entry in models.values()):
            status = "degraded"
        elif any(entry.get("stale") for entry in models.values()):
            status = "stale"
        else:
            status = "ok"
        details: dict[str, Any] = {"status": status, "phase": phase, "models": models}
        if state_error is not None:
            details["state"] = {"ok": False, "error": state_error}
        if self._holdings is not None:
            details["leases"] = self._holdings()
        return ready, details

    def _phase(self) -> str:
        if self._stopping:
            return "stopping"
        return "running" if self._started else "starting"


def _short(text: str) -> str:
    """Errors may quote library messages: registered secrets and URL credentials are masked; long texts cut."""
    text = redact_text(text)
    return text if len(text) <= _MAX_ERROR_CHARS else text[: _MAX_ERROR_CHARS - 1] + "…"
