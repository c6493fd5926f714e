"""The status page: ``/`` (every model at a glance, alerts, silences, lifecycle runs, delivery) and
``/models/{name}`` (risk and per-feature drift over time, the latest findings as ``explain`` words
them, its alerts, silences and lifecycle runs with their audit trail).

HTML from the server, charts as inline SVG (``monitor.web.status.svg``): it works offline and
without script. Each page is a fixed number of queries, whatever the number of models.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import BaseRoute, Route

from config.basics.severity import SEVERITIES
from monitor.risk.explain import render
from monitor.web import reads
from monitor.web.api_v1 import dead_letters
from monitor.web.auth import TokenCheck
from monitor.web.context import WebState
from monitor.web.errors import ApiError
from monitor.web.status.svg import Series, line_chart
from monitor.web.status.templates import ENV
from retrain.runs import LifecycleEvent

# Risk tiers shaded behind the risk chart (lower bounds on 0-100): low, medium, high, critical.
_BANDS = ((25.0, "#1a73e8"), (50.0, "#f9ab00"), (75.0, "#e8710a"), (90.0, "#b3261e"))
_HEADERS = {"Cache-Control": "no-store", "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; "
            "img-src 'self' data:", "X-Content-Type-Options": "nosniff"}


def age_text(now: datetime, then: datetime | None) -> str:
    if then is None:
        return "-"
    seconds = max(0, int((now - then).total_seconds()))
    if seconds < 5400:
        return f"{seconds // 60}m"
    if seconds < 172800:
        return f"{seconds // 3600}h"
    return f"{seconds // 86400}d"


class StatusPages:
    def __init__(self, state: WebState, auth: TokenCheck) -> None:
        self._state = state
        self._auth = auth

    def routes(self) -> list[BaseRoute]:
        return [Route("/", self.overview, methods=["GET"]), Route("/models/{model}", self.model, methods=["GET"])]

    async def overview(self, request: Request) -> Response:
        self._auth.read(request)
        return HTMLResponse(await run_in_threadpool(self.render_overview), headers=_HEADERS)

    async def model(self, request: Request) -> Response:
        self._auth.read(request)
        name = request.path_params["model"]
        if name not in self._state.model_names():
            raise ApiError(404, f"unknown model {name!r}")
        text = request.query_params.get("days", "30")
        if not text.isdigit() or not 1 <= int(text) <= 400:
            raise ApiError(400, f"days: a whole number of days from 1 to 400, not {text!r}")
        return HTMLResponse(await run_in_threadpool(self.render_model, name, int(text)), headers=_HEADERS)

    def render_overview(self) -> str:
        state = self._state
        now = state.clock()
        with state.engine.connect() as conn:
            models = reads.by_severity(reads.summaries(conn, state.model_names()))
            outbox = reads.outbox_counts(conn)
        alerts = state.listing.query()
        silences = state.silences.list()
        runs = state.runbook.runs()[:20]
        worst = models[0].alert_severity if models else SEVERITIES[0]
        return ENV.get_template("overview.html").render(
            now=now, models=models, ages={m.name: age_text(now, m.newest_window_end) for m in models},
            alerts=alerts, silences=silences, runs=runs, outbox=outbox, worst=worst,
            oldest_age=age_text(now, outbox.oldest_pending), dead=dead_letters(state, limit=20))

    def render_model(self, name: str, days: int) -> str:
        state = self._state
        now = state.clock()
        with state.engine.connect() as conn:
            [summary] = reads.summaries(conn, [name])
            points = reads.model_windows(conn, name, now - timedelta(days=days))
        by_stream: dict[str, list[tuple[datetime, float]]] = {}
        for point in points:
            by_stream.setdefault(point.stream, []).append((point.window_end, point.risk))
        risk_chart = line_chart(f"risk of {name} over the last {days} days",
                                [Series(stream, pts) for stream, pts in sorted(by_stream.items())],
                                y_max=100.0, chart_id="risk", bands=_BANDS)
        drift = reads.drift_series(points)
        drift_chart = line_chart(f"drift per feature of {name}", [Series(k, v) for k, v in drift.items()],
                                 chart_id="drift")
        store = state.assessments
        alert = store.model_alert(name)
        latest = [row for stream in store.streams(name) for row in store.history(name, 1, stream)]
        explained = [render(row, alert) for row in latest]
        alerts = [item for item in state.listing.query() if item.scope == name]
        silence_ids = {sid for item in alerts for sid in item.status.silenced_by}
        silences = [x for x in state.silences.list() if x.id in silence_ids]
        runs = state.runbook.runs(name)[:10]
        audit: dict[str, list[LifecycleEvent]] = {run.run_id: state.runbook.history(run.run_id) for run in runs}
        context: dict[str, Any] = {
            "now": now, "m": summary, "age": age_text(now, summary.newest_window_end), "days": days,
            "risk_chart": risk_chart, "drift_chart": drift_chart, "explained": explained, "alerts": alerts,
            "silences": silences, "runs": runs, "audit": audit}
        return ENV.get_template("model.html").render(**context)
