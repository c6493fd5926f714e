"""Assessments per model, stream and window, stored with their inputs, their window's version and state.

- A window is judged when its key (model, stream, window) is new or its version changed: a refresh
  that rewrites a window replaces the window's assessment in place (the replaced one is kept in
  ``monitor_assessment_revisions``), so it is re-judged, never counted twice.
- Storing an assessment and re-running the stream's persistence state from that window on happen
  in one transaction; so does the model's alert severity (the worst firing stream).
- A window stored by schema version 1 has no version: the first version seen is adopted without
  judging the window again.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from config.basics.clock import Clock
from config.basics.severity import Severity, worst
from config.basics.sql import begin_write
from config.signals import RiskSettings
from monitor import schema
from monitor.risk import Assessment, PriorWindow, StreamState, advance
from monitor.risk.stored import StoredAssessment, StoredRevision
from monitor.sources import STATUS_KINDS

T = schema.window_assessments


@dataclass(frozen=True)
class Recorded:
    assessment: Assessment  # with its stream state and the model's alert severity filled in
    previous_alert_severity: Severity
    rewrite: bool  # the window had been judged before, with another version


class AssessmentStore:
    def __init__(self, engine: sa.Engine, clock: Clock) -> None:
        self._engine = engine
        self._clock = clock

    def versions(self, model: str, stream: str, since: datetime) -> dict[tuple[datetime, datetime], str | None]:
        """Window (start, end) -> stored version, for the stream's windows that ended after ``since``."""
        with self._engine.connect() as conn:
            rows = conn.execute(sa.select(T.c.window_start, T.c.window_end, T.c.version).where(
                T.c.model == model, T.c.stream == stream, T.c.window_end > since))
            return {(r.window_start, r.window_end): r.version for r in rows}

    def prior(self, model: str, stream: str, before: datetime, limit: int) -> list[PriorWindow]:
        """Up to ``limit`` windows of the stream that started before ``before``, oldest first."""
        with self._engine.connect() as conn:
            rows = conn.execute(sa.select(T.c.window_start, T.c.window_end, T.c.severity, T.c.findings,
                                          T.c.measures, T.c.row_count)
                                .where(T.c.model == model, T.c.stream == stream, T.c.window_start < before)
                                .order_by(T.c.window_start.desc()).limit(limit)).all()
        return [PriorWindow(r.window_start, r.window_end, r.severity,
                            frozenset(_finding_key(f) for f in r.findings or []),
                            {k: float(v) for k, v in (r.measures or {}).items()}, r.row_count)
                for r in reversed(rows)]

    def record(self, assessment: Assessment, risk: RiskSettings) -> Recorded | None:
        """Store the assessment (None when this version of the window is stored already)."""
        now = self._clock()
        a = assessment
        with begin_write(self._engine) as conn:  # read, then insert or update: one writer at a time
            previous_alert = _model_alert(conn, a.model)
            found = conn.execute(sa.select(T.c.id, T.c.version, T.c.revision, T.c.risk, T.c.severity, T.c.findings)
                                 .where(T.c.model == a.model, T.c.stream == a.stream,
                                        T.c.window_start == a.window_start, T.c.window_end == a.window_end)).first()
            values = _values(a, now)
            if found is not None and found.version == a.version:
                return None
            if found is not None and found.version is None:
                conn.execute(sa.update(T).where(T.c.id == found.id).values(version=a.version, updated_at=now))
                return None
            if found is None:
                conn.execute(sa.insert(T).values(**values, revision=1, created_at=now))
            else:
                conn.execute(sa.insert(schema.assessment_revisions).values(
                    assessment_id=found.id, revision=found.revision, version=found.version, risk=found.risk,
                    severity=found.severity, findings=found.findings, replaced_at=now))
                conn.execute(sa.update(T).where(T.c.id == found.id).values(**values, revision=found.revision + 1))
            state = _rerun_states(conn, a, risk)
            alert = _model_alert(conn, a.model)
            conn.execute(sa.update(T).where(T.c.model == a.model, T.c.stream == a.stream,
                                            T.c.window_start == a.window_start).values(alert_severity=alert))
        return Recorded(replace(a, state=state, alert_severity=alert), previous_alert, found is not None)

    def model_alert(self, model: str) -> Severity:
        """The model's alert severity now: the worst state among the latest windows of its streams."""
        with self._engine.connect() as conn:
            return _model_alert(conn, model)

    def newest_window_end(self, model: str) -> datetime | None:
        """The end of the model's newest stored data window; None when none is stored. The status streams
        (the monitor's, freshness) are left out: their window is the current period, whatever the data."""
        data = [T.c.stream.not_like(f"{kind}:%") for kind in STATUS_KINDS]
        with self._engine.connect() as conn:
            return conn.execute(sa.select(sa.func.max(T.c.window_end)).where(T.c.model == model, *data)).scalar()

    def latest(self, model: str) -> StoredAssessment | None:
        rows = self.history(model, limit=1)
        return rows[0] if rows else None

    def history(self, model: str, limit: int = 50, stream: str | None = None,
                until: datetime | None = None) -> list[StoredAssessment]:
        """Newest window first; ``until``: only windows that ended at or before it (``explain --as-of``)."""
        query = sa.select(T).where(T.c.model == model)
        if stream is not None:
            query = query.where(T.c.stream == stream)
        if until is not None:
            query = query.where(T.c.window_end <= until)
        with self._engine.connect() as conn:
            rows = conn.execute(query.order_by(T.c.window_end.desc(), T.c.id.desc()).limit(limit))
            return [_stored(r) for r in rows]

    def window(self, model: str, start: datetime, stream: str | None = None) -> list[StoredAssessment]:
        """The assessments of the window starting at ``start`` (one per stream, or the given stream)."""
        query = sa.select(T).where(T.c.model == model, T.c.window_start == start)
        if stream is not None:
            query = query.where(T.c.stream == stream)
        with self._engine.connect() as conn:
            return [_stored(r) for r in conn.execute(query.order_by(T.c.stream))]

    def streams(self, model: str) -> list[str]:
        with self._engine.connect() as conn:
            return list(conn.execute(sa.select(T.c.stream).where(T.c.model == model).distinct()
                                     .order_by(T.c.stream)).scalars())

    def revisions(self, assessment_id: int) -> list[StoredRevision]:
        table = schema.assessment_revisions
        with self._engine.connect() as conn:
            rows = conn.execute(sa.select(table).where(table.c.assessment_id == assessment_id)
                                .order_by(table.c.revision))
            return [StoredRevision(r.id, r.assessment_id, r.revision, r.version, r.risk, r.severity,
                                   tuple(r.findings or ()), r.replaced_at) for r in rows]

    def audit(self, kind: str, subject: str, detail: dict[str, Any]) -> None:
        with self._engine.begin() as conn:
            conn.execute(sa.insert(schema.audit).values(at=self._clock(), kind=kind, subject=subject,
                                                        detail=_jsonable(detail)))


def _values(a: Assessment, now: datetime) -> dict[str, Any]:
    return {"model": a.model, "stream": a.stream, "granularity": a.granularity, "window_start": a.window_start,
            "window_end": a.window_end, "version": a.version, "risk": a.risk, "severity": a.severity,
            "findings": _jsonable(a.findings_json()), "skipped": _jsonable(a.not_raised_json()),
            "inputs": _jsonable(a.inputs), "measures": _jsonable(a.measures), "row_count": a.row_count,
            "state_firing": False, "state_severity": "ok", "state_reason": "", "alert_severity": "ok",
            "updated_at": now}


def _rerun_states(conn: sa.Connection, a: Assessment, risk: RiskSettings) -> StreamState:
    """Persistence from the stored window on (later windows too: a rewritten window can change them)."""
    cols = (T.c.id, T.c.window_start, T.c.severity, T.c.state_firing, T.c.state_severity, T.c.state_reason)
    where = (T.c.model == a.model, T.c.stream == a.stream)
    before = conn.execute(sa.select(*cols).where(*where, T.c.window_start < a.window_start)
                          .order_by(T.c.window_start.desc()).limit(risk.history_windows)).all()[::-1]
    after = conn.execute(sa.select(*cols).where(*where, T.c.window_start >= a.window_start)
                         .order_by(T.c.window_start)).all()
    state = (StreamState(bool(before[-1].state_firing), before[-1].state_severity, before[-1].state_reason)
             if before else StreamState())
    severities: list[Severity] = [r.severity for r in before]
    mine = StreamState()
    for row in after:
        severities.append(row.severity)
        state = advance(state, severities, risk)
        if row.window_start == a.window_start:
            mine = state
        if (bool(row.state_firing), row.state_severity, row.state_reason) != (state.firing, state.severity,
                                                                                state.reason):
            conn.execute(sa.update(T).where(T.c.id == row.id).values(
                state_firing=state.firing, state_severity=state.severity, state_reason=state.reason))
    return mine


def _model_alert(conn: sa.Connection, model: str) -> Severity:
    newest = (sa.select(T.c.stream, sa.func.max(T.c.window_start).label("start"))
              .where(T.c.model == model).group_by(T.c.stream).subquery())
    rows = conn.execute(sa.select(T.c.state_firing, T.c.state_severity).join(
        newest, sa.and_(T.c.stream == newest.c.stream, T.c.window_start == newest.c.start))
        .where(T.c.model == model)).all()
    return worst(row.state_severity for row in rows if row.state_firing)


def _finding_key(data: dict[str, Any]) -> str:
    scope = data.get("scope") or {}
    scope_key = f"{scope.get('slice_key') or ''}={scope.get('slice_value') or ''}@{scope.get('model_id') or ''}"
    return "|".join((data.get("signal", ""), data.get("statistic", ""), data.get("column", ""), scope_key,
                     data.get("drift_type") or ""))


def _stored(r: sa.Row[Any]) -> StoredAssessment:
    """The one place a ``monitor_assessments`` row becomes a :class:`StoredAssessment`."""
    return StoredAssessment(
        id=r.id, model=r.model, stream=r.stream, granularity=r.granularity, window_start=r.window_start,
        window_end=r.window_end, version=r.version, revision=r.revision, risk=r.risk, severity=r.severity,
        findings=tuple(r.findings or ()), skipped=tuple(r.skipped or ()), inputs=r.inputs or {},
        measures=r.measures or {}, row_count=r.row_count, state_firing=bool(r.state_firing),
        state_severity=r.state_severity, state_reason=r.state_reason, alert_severity=r.alert_severity,
        created_at=r.created_at, updated_at=r.updated_at)



def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)  # JSON has no NaN/inf; keep what was seen, as text
    if isinstance(value, datetime):
        return value.isoformat()
    return value
