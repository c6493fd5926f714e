"""The input the lifecycle accepts: a request to retrain one model, with why and for which window."""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from config.basics.severity import ALERT_SEVERITIES
from config.lifecycle import RESERVED_PARAMETERS

_PARAMETER = re.compile(r"[A-Za-z_][A-Za-z0-9_.-]*")


def reason_kind(reason: str) -> str:
    """The stable part of a reason: the text before the first ':' (``"drift: psi 0.3"`` -> ``"drift"``).

    Two triggers for the same model and window whose reasons differ only after the colon (numbers
    that moved a little between two polls) are the same request.
    """
    return reason.split(":", 1)[0].strip().lower()


@dataclass(frozen=True)
class Trigger:
    """A request to start a lifecycle run for ``model`` (the model's name in lakewarden's config)."""

    model: str
    reason: str
    severity: str
    window_start: datetime | None = None
    window_end: datetime | None = None
    requested_by: str = "policy"
    # Facts for the guardrails, from the monitor: the end of the newest judged window, and whether
    # the newest window had labels to judge quality on (None: not known).
    data_end: datetime | None = None
    labels_present: bool | None = None
    # Extra job parameters of a manual run (``lifecycle start --param k=v``), over the configured ones.
    parameters: tuple[tuple[str, str], ...] = ()

    def __post_init__(self) -> None:
        if not self.model:
            raise ValueError("a trigger needs a model name")
        if not reason_kind(self.reason):
            raise ValueError("a trigger needs a reason, e.g. 'drift: psi on tenure_months 0.31'")
        if self.severity not in ALERT_SEVERITIES:  # "ok" is a verdict, not a reason to retrain
            raise ValueError(f"severity must be one of {', '.join(ALERT_SEVERITIES)}, not {self.severity!r}")
        for name in ("window_start", "window_end", "data_end"):
            value = getattr(self, name)
            if value is not None and value.utcoffset() != timedelta(0):
                raise ValueError(f"{name} must be a timezone-aware UTC datetime, got {value!r}")
        for key, _ in self.parameters:
            if key in RESERVED_PARAMETERS or not _PARAMETER.fullmatch(key):
                raise ValueError(f"job parameter {key!r}: reserved, or not letters, digits, '_', '.', '-'")
        if self.window_start and self.window_end and self.window_start >= self.window_end:
            raise ValueError(f"window_start {self.window_start} is not before window_end {self.window_end}")

    @property
    def idempotency_key(self) -> str:
        """64 hex characters, the same for the same model, reason kind and window.

        Short enough for a Databricks ``idempotency_token`` (at most 64 characters).
        """
        parts = [
            self.model,
            reason_kind(self.reason),
            self.window_start.isoformat() if self.window_start else "",
            self.window_end.isoformat() if self.window_end else "",
        ]
        return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()

    def to_json(self) -> dict[str, Any]:
        """The trigger as JSON-ready values (datetimes as ISO 8601)."""
        return {
            "model": self.model,
            "reason": self.reason,
            "severity": self.severity,
            "window_start": self.window_start.isoformat() if self.window_start else None,
            "window_end": self.window_end.isoformat() if self.window_end else None,
            "requested_by": self.requested_by,
            "data_end": self.data_end.isoformat() if self.data_end else None,
            "labels_present": self.labels_present,
            "parameters": dict(self.parameters),
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Trigger:
        """The inverse of :meth:`to_json`."""

        def when(key: str) -> datetime | None:
            value = data.get(key)
            return datetime.fromisoformat(str(value)) if value else None

        labels = data.get("labels_present")
        return cls(
            model=str(data["model"]),
            reason=str(data["reason"]),
            severity=str(data["severity"]),
            window_start=when("window_start"),
            window_end=when("window_end"),
            requested_by=str(data.get("requested_by") or "policy"),
            data_end=when("data_end"),
            labels_present=None if labels is None else bool(labels),
            parameters=_pairs(data.get("parameters")),
        )


def _pairs(value: Any) -> tuple[tuple[str, str], ...]:
    return tuple(sorted((str(k), str(v)) for k, v in dict(value or {}).items()))
