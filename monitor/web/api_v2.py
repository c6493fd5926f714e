"""Alertmanager's API v2, for what lakewarden owns: ``amtool`` and Grafana's Alertmanager data source work.

``GET /api/v2/status``, ``/receivers``, ``/alerts`` (``filter``, ``receiver``, ``active``, ``silenced``,
``inhibited``), ``/alerts/groups`` (also ``muted``), ``GET``/``POST /silences``, ``GET``/``DELETE
/silence/{id}``, in the shapes of Alertmanager's OpenAPI document (docs/external/alertmanager-api.md).
Alerts cannot be posted: lakewarden makes its own (``POST /api/v2/alerts`` is 405).

Errors are the message as a JSON string with a 4xx status, as Alertmanager answers (a filter that is not a
matcher or a ``receiver`` that is not an RE2 regex: 400, an unknown silence: 404); amtool prints it.
Writes need the API token (``service.http.api_token``): ``amtool --http.config.file`` with
``authorization: {credentials: ...}`` sends it.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import yaml
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from alerts.listing import AlertFilter, ListedAlert, muted_by
from alerts.model import iso
from alerts.silences import Silence, SilenceState
from config.matchers import Matcher, Op
from monitor.web.auth import TokenCheck
from monitor.web.bodies import read_json_object
from monitor.web.context import WebState
from monitor.web.errors import ApiError, Json
from monitor.web.metrics import version

_ZERO_TIME = "0001-01-01T00:00:00.000Z"  # Go's zero time: a firing alert has no end yet
_STARTED = datetime.now(UTC)


def _flag(request: Request, name: str) -> bool:
    value = request.query_params.get(name)
    if value is None:
        return True
    if value.lower() in ("true", "1"):
        return True
    if value.lower() in ("false", "0"):
        return False
    raise ApiError(400, f"{name} must be true or false, not {value!r}")


def alert_filter(request: Request) -> AlertFilter:
    try:
        return AlertFilter.parse(request.query_params.getlist("filter"), receiver=request.query_params.get("receiver"),
                                 active=_flag(request, "active"), silenced=_flag(request, "silenced"),
                                 inhibited=_flag(request, "inhibited"))
    except ValueError as exc:
        raise ApiError(400, str(exc)) from None


def gettable_alert(item: ListedAlert, muted: tuple[str, ...] = ()) -> dict[str, Any]:
    alert = item.alert
    return {
        "labels": dict(alert.labels), "annotations": dict(alert.annotations),
        "receivers": [{"name": name} for name in item.receivers], "fingerprint": alert.fingerprint,
        "startsAt": iso(alert.starts_at), "updatedAt": iso(item.updated_at),
        "endsAt": iso(alert.ends_at) if alert.ends_at is not None else _ZERO_TIME,
        "generatorURL": "",
        "status": {"state": item.status.state.value, "silencedBy": list(item.status.silenced_by),
                   "inhibitedBy": list(item.status.inhibited_by), "mutedBy": list(muted)},
    }


def matcher_json(m: Matcher) -> dict[str, Any]:
    return {"name": m.name, "value": m.value, "isRegex": m.op in (Op.RE, Op.NRE), "isEqual": m.op in (Op.EQ, Op.RE)}


def gettable_silence(x: Silence, now: datetime) -> dict[str, Any]:
    return {"id": x.id, "status": {"state": x.state(now).value}, "updatedAt": iso(x.updated_at),
            "matchers": [matcher_json(m) for m in x.matchers], "startsAt": iso(x.starts_at),
            "endsAt": iso(x.ends_at), "createdBy": x.created_by, "comment": x.comment}


class AlertmanagerApi:
    def __init__(self, state: WebState, auth: TokenCheck, max_body: int, max_depth: int, timeout: float) -> None:
        self._state = state
        self._auth = auth
        self._limits = (max_body, max_depth, timeout)

    def routes(self) -> list[BaseRoute]:
        return [
            Route("/api/v2/status", self.status, methods=["GET"]),
            Route("/api/v2/receivers", self.receivers, methods=["GET"]),
            Route("/api/v2/alerts", self.alerts, methods=["GET"]),
            Route("/api/v2/alerts/groups", self.groups, methods=["GET"]),
            Route("/api/v2/silences", self.silences, methods=["GET"]),
            Route("/api/v2/silences", self.post_silence, methods=["POST"]),
            Route("/api/v2/silence/{silence_id}", self.silence, methods=["GET"]),
            Route("/api/v2/silence/{silence_id}", self.delete_silence, methods=["DELETE"]),
        ]

    async def status(self, request: Request) -> Response:
        self._auth.read(request)
        settings = self._state.settings
        config = {"route": {"receiver": settings.route.receiver},
                  "receivers": [{"name": r.name} for r in settings.receivers]}
        return Json({
            "cluster": {"name": "lakewarden", "status": "disabled", "peers": []},
            "versionInfo": {"version": version(), "revision": "", "branch": "", "buildUser": "", "buildDate": "",
                            "goVersion": "none (lakewarden, Python)"},
            "config": {"original": yaml.safe_dump(config, sort_keys=False)},
            "uptime": iso(_STARTED),
        })

    async def receivers(self, request: Request) -> Response:
        self._auth.read(request)
        return Json([{"name": r.name} for r in self._state.settings.receivers])

    async def alerts(self, request: Request) -> Response:
        self._auth.read(request)
        where = alert_filter(request)
        items = await run_in_threadpool(self._state.listing.query, where)
        return Json([gettable_alert(item) for item in items])

    async def groups(self, request: Request) -> Response:
        self._auth.read(request)
        where = alert_filter(request)
        show_muted = _flag(request, "muted")
        # As Alertmanager: ``receiver`` keeps the groups whose route's receiver it matches; each alert
        # still lists every receiver its routes notify. Routes carry no labels here: ``routeLabels`` {}.
        items = await run_in_threadpool(self._state.listing.query, where.without_receiver())
        intervals = {t.name: t for t in self._state.settings.time_intervals}
        now = self._state.clock()
        groups: dict[tuple[str, str], dict[str, Any]] = {}
        for item in items:
            for route in item.routes:
                if not where.keeps_receivers((route.receiver,)):
                    continue
                labels = route.group_labels(item.alert.labels)
                key = (route.path_text, route.group_key(item.alert.labels))
                muted = muted_by(route, intervals, now)
                group = groups.get(key)
                if group is None:
                    group = groups[key] = {"labels": labels, "routeLabels": {}, "receiver": {"name": route.receiver},
                                           "alerts": [], "_muted": muted}
                group["alerts"].append(gettable_alert(item, muted))
        out = []
        for group in groups.values():
            if group.pop("_muted") and not show_muted:
                continue
            out.append(group)
        return Json(out)

    async def silences(self, request: Request) -> Response:
        self._auth.read(request)
        try:
            matchers = [m for text in request.query_params.getlist("filter") for m in Matcher.parse_list(text)]
        except ValueError as exc:
            raise ApiError(400, f"bad matcher in filter: {exc}") from None
        states = [state for state in SilenceState if _flag(request, state.value)]
        found = await run_in_threadpool(self._state.silences.list, states)
        now = self._state.clock()
        chosen = [x for x in found if all(any(_same(m, own) for own in x.matchers) for m in matchers)]
        return Json([gettable_silence(x, now) for x in chosen])

    async def silence(self, request: Request) -> Response:
        self._auth.read(request)
        found = await run_in_threadpool(self._get, request.path_params["silence_id"])
        return Json(gettable_silence(found, self._state.clock()))

    async def delete_silence(self, request: Request) -> Response:
        self._auth.write(request)
        silence_id = request.path_params["silence_id"]
        found = await run_in_threadpool(self._get, silence_id)
        try:
            await run_in_threadpool(self._state.silences.expire, found.id)
        except ValueError as exc:
            raise ApiError(400, str(exc)) from None
        return Response(status_code=200)

    async def post_silence(self, request: Request) -> Response:
        self._auth.write(request)
        body = await read_json_object(request, *self._limits)
        matchers, starts, ends, by, comment = _postable(body)
        old_id = body.get("id")

        def write() -> Silence:
            if old_id:  # Alertmanager's update: the old one expires and a new one takes its place
                old = self._get(str(old_id))
                if old.state(self._state.clock()) is not SilenceState.EXPIRED:
                    self._state.silences.expire(old.id)
            return self._state.silences.add(matchers, ends, created_by=by, comment=comment, starts_at=starts)

        try:
            created = await run_in_threadpool(write)
        except ValueError as exc:
            raise ApiError(400, str(exc)) from None
        return Json({"silenceID": created.id})

    def _get(self, silence_id: str) -> Silence:
        try:
            return self._state.silences.get(silence_id)
        except KeyError as exc:
            raise ApiError(404, str(exc.args[0])) from None


def _same(wanted: Matcher, own: Matcher) -> bool:
    return (wanted.name, wanted.op, wanted.value) == (own.name, own.op, own.value)


def _time(body: dict[str, Any], name: str, required: bool = True) -> datetime | None:
    value = body.get(name)
    if value in (None, "") and not required:
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


def _postable(body: dict[str, Any]) -> tuple[list[Matcher], datetime | None, datetime, str, str]:
    raw = body.get("matchers")
    if not isinstance(raw, list) or not raw:
        raise ApiError(400, "matchers: a list of at least one {name, value, isRegex, isEqual} is required")
    matchers: list[Matcher] = []
    for index, item in enumerate(raw):
        where = f"matchers[{index}]"
        if not isinstance(item, dict):
            raise ApiError(400, f"{where}: an object {{name, value, isRegex, isEqual}} is required")
        name, value, is_regex = item.get("name"), item.get("value"), item.get("isRegex")
        is_equal = item.get("isEqual", True)
        if not isinstance(name, str) or not name:
            raise ApiError(400, f"{where}.name: a label name is required")
        if not isinstance(value, str):
            raise ApiError(400, f"{where}.value: a string is required")
        if not isinstance(is_regex, bool) or not isinstance(is_equal, bool):
            raise ApiError(400, f"{where}.isRegex and isEqual: true or false")
        op = (Op.RE if is_equal else Op.NRE) if is_regex else (Op.EQ if is_equal else Op.NE)
        try:
            matchers.append(Matcher.create(name, op, value))
        except ValueError as exc:
            raise ApiError(400, f"{where}: {exc}") from None
    starts = _time(body, "startsAt", required=False)
    ends = _time(body, "endsAt")
    assert ends is not None  # noqa: S101 - required above
    texts = {}
    for name in ("createdBy", "comment"):
        value = body.get(name)
        if not isinstance(value, str) or not value.strip():
            raise ApiError(400, f"{name}: a non-empty string is required")
        texts[name] = value
    return matchers, starts, ends, texts["createdBy"], texts["comment"]
