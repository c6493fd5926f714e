"""Stored assessments as read back from the state database: the read models of ``monitor.assessments``.

They live beside the judge (not in the store) so that ``monitor.risk.explain`` can read them without
the risk package importing the store.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from config.basics.severity import Severity


@dataclass(frozen=True)
class StoredAssessment:
    """One stored window assessment, as read back: datetimes aware (UTC), JSON columns as stored.

    ``findings`` and ``skipped`` hold the stored JSON objects (``monitor.risk.explain`` turns them
    back into ``Finding`` and ``NotRaised``); ``inputs`` is the judged window and feature weights
    (empty for a window stored by schema version 1), ``measures`` the series values later windows need.
    """

    id: int
    model: str
    stream: str
    granularity: str
    window_start: datetime
    window_end: datetime
    version: str | None  # None: judged by schema version 1, version unknown
    revision: int
    risk: float
    severity: Severity
    findings: tuple[dict[str, Any], ...]
    skipped: tuple[dict[str, Any], ...]  # everything not raised, with the reason
    inputs: Mapping[str, Any]
    measures: Mapping[str, Any]
    row_count: int | None
    state_firing: bool
    state_severity: Severity
    state_reason: str
    alert_severity: Severity
    created_at: datetime
    updated_at: datetime

    def as_json(self) -> dict[str, Any]:
        """The stored row as JSON values, in the table's column order (``lakewarden explain --json``)."""
        return {"id": self.id, "model": self.model, "stream": self.stream, "granularity": self.granularity,
                "window_start": str(self.window_start), "window_end": str(self.window_end),
                "version": self.version, "revision": self.revision, "risk": self.risk, "severity": self.severity,
                "findings": list(self.findings), "skipped": list(self.skipped), "inputs": dict(self.inputs),
                "measures": dict(self.measures), "row_count": self.row_count, "state_firing": self.state_firing,
                "state_severity": self.state_severity, "state_reason": self.state_reason,
                "alert_severity": self.alert_severity, "created_at": str(self.created_at),
                "updated_at": str(self.updated_at)}


@dataclass(frozen=True)
class StoredRevision:
    """An assessment's earlier revision, kept when a rewritten window replaced it."""

    id: int
    assessment_id: int
    revision: int
    version: str | None
    risk: float
    severity: Severity
    findings: tuple[dict[str, Any], ...]
    replaced_at: datetime
