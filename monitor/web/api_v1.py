"""lakewarden's own JSON API under ``/api/v1`` (described by ``/api/v1/openapi.json``).

Models with their latest assessment; assessment history with findings for a time range; the alerts
firing now (with Alertmanager's status); silences (list, create, expire); lifecycle runs (list, show
with the audit trail, start through the guardrails, cancel); the outbox summary and dead letters.
Writes need the API token; reads too when ``protect_reads`` is set. Errors: ``{"error": "..."}`` naming
the field or what is unknown (400, 404), 401 without echoing what was sent.
"""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from alerts.model import iso
from alerts.schema import alerts_outbox as o
from alerts.silences import Silence
from config.durations import parse_duration
from config.matchers import Matcher
from config.models import ModelSettings
from monitor.lifecycle_triggers import manual_trigger
from monitor.risk.explain import render
from monitor.risk.stored import StoredAssessment
from monitor.web import reads
from monitor.web.api_v2 import alert_filter, gettable_alert
from monitor.web.auth import TokenCheck
from monitor.web.bodies import read_json_object
from monitor.web.context import WebState
from monitor.web.errors import ApiError, Json
from retrain.runs import LifecycleEvent, RunRecord

MAX_HISTORY = 5000  # windows per answer; ask for a shorter range for more


def _summary(m: reads.ModelSummary) -> dict[str, Any]:
    return {"model": m.name, "risk": m.risk, "severity": m.severity, "alert_severity": m.alert_severity,
            "newest_window_end": iso(m.newest_window_end) if m.newest_window_end else None,
            "firing_alerts": m.firing, "lifecycle": m.lifecycle,
            "findings": m.findings_by_severity()}


def assessment_json(row: StoredAssessment, model_alert: str | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {
        "stream": row.stream, "granularity": row.granularity, "window_start": iso(row.window_start),
        "window_end": iso(row.window_end), "risk": row.risk, "severity": row.severity, "revision": row.revision,
        "row_count": row.row_count, "state": {"firing": row.state_firing, "severity": row.state_severity,
                                              "reason": row.state_reason},
        "alert_severity": row.alert_severity, "findings": list(row.findings)}
    if model_alert is not None:
        out["explain"] = render(row, model_alert)
    return out


def run_json(run: RunRecord, events: list[LifecycleEvent] | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {
        "run_id": run.run_id, "model": run.model, "state": run.state.value, "step": run.step.value,
        "reason": run.trigger.reason, "severity": run.trigger.severity, "requested_by": run.trigger.requested_by,
        "decision": run.decision, "attempts": run.attempts, "created_at": iso(run.created_at),
        "updated_at": iso(run.updated_at), "finished_at": iso(run.finished_at) if run.finished_at else None,
        "plan": [step.value for step in run.plan], "cancel_requested": run.cancel_requested}
    if events is not None:
        out["audit"] = [{"at": iso(e.at), "kind": e.kind, "message": e.message} for e in events]
    return out


def silence_json(x: Silence, now: datetime) -> dict[str, Any]:
    return {"id": x.id, "state": x.state(now).value, "matchers": [str(m) for m in x.matchers],
            "starts_at": iso(x.starts_at), "ends_at": iso(x.ends_at), "created_by": x.created_by,
            "comment": x.comment, "updated_at": iso(x.updated_at)}


def _when(request: Request, name: str) -> datetime | None:
    text = request.query_params.get(name)
    if text is None or text == "":
        return None
    try:
        value = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise ApiError(400, f"{name}: {text!r} is not an ISO 8601 time such as 2026-01-02T15:00:00Z") from None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _text(body: dict[str, Any], name: str) -> str:
    value = body.get(name)
    if not isinstance(value, str) or not value.strip():
        raise ApiError(400, f"{name}: a non-empty string is required")
    return " ".join(value.split())


class LakewardenApi:
    def __init__(self, state: WebState, auth: TokenCheck, max_body: int, max_depth: int, timeout: float) -> None:
        self._state = state
        self._auth = auth
        self._limits = (max_body, max_depth, timeout)

    def routes(self) -> list[BaseRoute]:
        return [
            Route("/api/v1/models", self.models, methods=["GET"]),
            Route("/api/v1/models/{model}", self.model, methods=["GET"]),
            Route("/api/v1/models/{model}/assessments", self.assessments, methods=["GET"]),
            Route("/api/v1/alerts", self.alerts, methods=["GET"]),
            Route("/api/v1/silences", self.silences, methods=["GET"]),
            Route("/api/v1/silences", self.add_silence, methods=["POST"]),
            Route("/api/v1/silences/{silence_id}", self.expire_silence, methods=["DELETE"]),
            Route("/api/v1/lifecycle/runs", self.runs, methods=["GET"]),
            Route("/api/v1/lifecycle/runs", self.start_run, methods=["POST"]),
            Route("/api/v1/lifecycle/runs/{run_id}", self.run, methods=["GET"]),
            Route("/api/v1/lifecycle/runs/{run_id}/cancel", self.cancel_run, methods=["POST"]),
            Route("/api/v1/outbox", self.outbox, methods=["GET"]),
            Route("/api/v1/outbox/dead", self.dead_letters, methods=["GET"]),
        ]

    def _model(self, name: str) -> ModelSettings:
        try:
            return self._state.settings.model(name)
        except KeyError:
            raise ApiError(404, f"unknown model {name!r}; GET /api/v1/models lists them",
                           models=self._state.model_names()[:50]) from None

    async def models(self, request: Request) -> Response:
        self._auth.read(request)

        def read() -> list[reads.ModelSummary]:
            with self._state.engine.connect() as conn:
                return reads.summaries(conn, self._state.model_names())

        return Json([_summary(m) for m in await run_in_threadpool(read)])

    async def model(self, request: Request) -> Response:
        self._auth.read(request)
        model = self._model(request.path_params["model"])

        def read() -> dict[str, Any]:
            store = self._state.assessments
            with self._state.engine.connect() as conn:
                [summary] = reads.summaries(conn, [model.name])
            alert = store.model_alert(model.name)
            latest = [row for stream in store.streams(model.name) for row in store.history(model.name, 1, stream)]
            return {**_summary(summary), "latest": [assessment_json(row, alert) for row in latest]}

        return Json(await run_in_threadpool(read))

    async def assessments(self, request: Request) -> Response:
        self._auth.read(request)
        model = self._model(request.path_params["model"])
        until = _when(request, "until") or self._state.clock()
        since = _when(request, "since") or until - timedelta(days=1)
        if since > until:
            raise ApiError(400, "since: must not be after until")
        stream = request.query_params.get("stream") or None
        rows = await run_in_threadpool(history, self._state, model.name, since, until, stream)
        return Json({"model": model.name, "since": iso(since), "until": iso(until),
                             "truncated": len(rows) >= MAX_HISTORY,
                             "assessments": [assessment_json(row) for row in rows]})

    async def alerts(self, request: Request) -> Response:
        self._auth.read(request)
        items = await run_in_threadpool(self._state.listing.query, alert_filter(request))
        return Json([{**gettable_alert(item), "model": item.scope} for item in items])

    async def silences(self, request: Request) -> Response:
        self._auth.read(request)
        found = await run_in_threadpool(self._state.silences.list, None)
        now = self._state.clock()
        return Json([silence_json(x, now) for x in found])

    async def add_silence(self, request: Request) -> Response:
        self._auth.write(request)
        body = await read_json_object(request, *self._limits)
        raw = body.get("matchers")
        if not isinstance(raw, list) or not raw or not all(isinstance(x, str) for x in raw):
            raise ApiError(400, 'matchers: a list of matcher strings such as ["model=\\"churn\\""] is required')
        matchers: list[Matcher] = []
        for index, text in enumerate(raw):
            try:
                matchers.extend(Matcher.parse_list(text))
            except ValueError as exc:
                raise ApiError(400, f"matchers[{index}]: {exc}") from None
        now = self._state.clock()
        starts = _body_time(body, "starts_at") or now
        ends = _body_time(body, "ends_at")
        if ends is None:
            duration = body.get("duration")
            if not isinstance(duration, str):
                raise ApiError(400, "ends_at or duration: give when the silence ends (ends_at, RFC 3339) or how long "
                                    "it lasts (duration, e.g. 2h)")
            try:
                ends = starts + parse_duration(duration)
            except ValueError as exc:
                raise ApiError(400, f"duration: {exc}") from None
        by, comment = _text(body, "created_by"), _text(body, "comment")
        try:
            created = await run_in_threadpool(
                lambda: self._state.silences.add(matchers, ends, created_by=by, comment=comment, starts_at=starts))
        except ValueError as exc:
            raise ApiError(400, f"matchers or times: {exc}") from None
        return Json(silence_json(created, now), 201)

    async def expire_silence(self, request: Request) -> Response:
        self._auth.write(request)
        silence_id = request.path_params["silence_id"]
        try:
            expired = await run_in_threadpool(self._state.silences.expire, silence_id)
        except KeyError as exc:
            raise ApiError(404, str(exc.args[0])) from None
        except ValueError as exc:
            raise ApiError(409, str(exc)) from None
        return Json(silence_json(expired, self._state.clock()))

    async def runs(self, request: Request) -> Response:
        self._auth.read(request)
        model = request.query_params.get("model")
        if model is not None:
            self._model(model)
        found = await run_in_threadpool(self._state.runbook.runs, model)
        return Json([run_json(run) for run in found])

    async def run(self, request: Request) -> Response:
        self._auth.read(request)
        run_id = request.path_params["run_id"]
        run = await run_in_threadpool(self._state.runbook.get, run_id)
        if run is None:
            raise ApiError(404, f"no lifecycle run {run_id}; GET /api/v1/lifecycle/runs lists them")
        events = await run_in_threadpool(self._state.runbook.history, run_id)
        return Json(run_json(run, events))

    async def start_run(self, request: Request) -> Response:
        self._auth.write(request)
        body = await read_json_object(request, *self._limits)
        if not isinstance(body.get("model"), str):
            raise ApiError(400, "model: the name of a configured model is required")
        model = self._model(body["model"])
        reason, by = _text(body, "reason"), _text(body, "requested_by")
        params = body.get("parameters", {})
        if not isinstance(params, dict) or not all(isinstance(v, str) for v in params.values()):
            raise ApiError(400, "parameters: an object of string values is required")

        def start() -> Any:
            trigger = manual_trigger(model, self._state.assessments, reason, by)
            try:
                trigger = dataclasses.replace(trigger, parameters=tuple(sorted(params.items())))
            except ValueError as exc:
                raise ApiError(400, f"parameters: {exc}") from None
            return self._state.runbook.consider(trigger)

        decision = await run_in_threadpool(start)
        body_out = {"started": decision.started, "reason": decision.reason.value, "message": decision.message,
                    "run_id": decision.run_id}
        return Json(body_out, 201 if decision.started else 409)

    async def cancel_run(self, request: Request) -> Response:
        self._auth.write(request)
        body = await read_json_object(request, *self._limits)
        reason, by = _text(body, "reason"), _text(body, "requested_by")
        run_id = request.path_params["run_id"]
        try:
            run = await run_in_threadpool(self._state.runbook.cancel, run_id, reason, by)
        except KeyError as exc:
            raise ApiError(404, str(exc.args[0])) from None
        except ValueError as exc:
            raise ApiError(409, str(exc)) from None
        return Json(run_json(run))

    async def outbox(self, request: Request) -> Response:
        self._auth.read(request)

        def read() -> reads.OutboxCounts:
            with self._state.engine.connect() as conn:
                return reads.outbox_counts(conn)

        counts = await run_in_threadpool(read)
        oldest = counts.oldest_pending
        age = None if oldest is None else (self._state.clock() - oldest).total_seconds()
        return Json({"by_state": counts.by_state, "oldest_pending_age_seconds": age,
                     "oldest_pending_created_at": iso(oldest) if oldest else None})

    async def dead_letters(self, request: Request) -> Response:
        self._auth.read(request)
        return Json(await run_in_threadpool(dead_letters, self._state))


def history(state: WebState, model: str, since: datetime, until: datetime,
            stream: str | None) -> list[StoredAssessment]:
    """The windows of ``model`` that ended within [since, until], oldest first."""
    rows = state.assessments.history(model, limit=MAX_HISTORY, stream=stream, until=until)
    return [row for row in reversed(rows) if row.window_end >= since]


def dead_letters(state: WebState, limit: int = 200) -> list[dict[str, Any]]:
    query = sa.select(o).where(o.c.status == "dead").order_by(o.c.id.desc()).limit(limit)
    with state.engine.connect() as conn:
        rows = conn.execute(query).all()
    return [{"id": row.id, "receiver": row.receiver, "channel": row.channel_kind, "attempts": row.attempts,
             "created_at": iso(row.created_at), "last_error": row.last_error,
             "kind": (row.payload or {}).get("kind", "notification"), "status": (row.payload or {}).get("status"),
             "group_key": (row.payload or {}).get("groupKey")} for row in rows]


def _body_time(body: dict[str, Any], name: str) -> datetime | None:
    value = body.get(name)
    if value is None:
        return None
    if not isinstance(value, str):
        raise ApiError(400, f"{name}: an RFC 3339 time such as 2026-01-02T15:04:05Z is required")
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise ApiError(400, f"{name}: {value!r} is not an RFC 3339 time such as 2026-01-02T15:04:05Z") from None
    if parsed.tzinfo is None:
        raise ApiError(400, f"{name}: {value!r} has no time zone (end it with Z or +00:00)")
    return parsed.astimezone(UTC)
