"""The OpenAPI 3.1 document of ``/api/v1`` (served at ``/api/v1/openapi.json``), written by hand next to the routes.

``/api/v2`` follows Alertmanager's own document (docs/external/alertmanager-api.md) and is not repeated here.
"""

from __future__ import annotations

from typing import Any

from monitor.web.metrics import version

_ERROR = {"description": "an error",
          "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}


def _op(summary: str, *, params: tuple[str, ...] = (), body: str | None = None, ok: str = "200",
        schema: str | None = None, write: bool = False, errors: tuple[str, ...] = ()) -> dict[str, Any]:
    op: dict[str, Any] = {"summary": summary, "parameters": [{"$ref": f"#/components/parameters/{p}"} for p in params]}
    if body is not None:
        op["requestBody"] = {"required": True,
                             "content": {"application/json": {"schema": {"$ref": f"#/components/schemas/{body}"}}}}
    content = {"application/json": {"schema": {"$ref": f"#/components/schemas/{schema}"}}} if schema else {}
    op["responses"] = {ok: {"description": "done", **({"content": content} if content else {})},
                       **dict.fromkeys(errors, _ERROR)}
    if write:
        op["security"] = [{"bearer": []}]
        op["responses"]["401"] = _ERROR
    return op


def document() -> dict[str, Any]:
    obj: dict[str, Any] = {"type": "object"}
    return {
        "openapi": "3.1.0",
        "info": {"title": "lakewarden API", "version": version(),
                 "description": "Models, assessments, alerts, silences, lifecycle runs and the outbox. Writes "
                                "need `Authorization: Bearer <service.http.api_token>`; reads too when "
                                "`service.http.protect_reads` is set."},
        "paths": {
            "/api/v1/models": {"get": _op("Every configured model with its newest windows combined",
                                          schema="ModelSummaries")},
            "/api/v1/models/{model}": {"get": _op("One model: summary and the latest assessment of each stream, with "
                                                  "the explain text", params=("model",), schema="ModelDetail",
                                                  errors=("404",))},
            "/api/v1/models/{model}/assessments": {"get": _op(
                "Assessments with findings for a time range (default: the last day), oldest first",
                params=("model", "since", "until", "stream"), schema="History", errors=("400", "404"))},
            "/api/v1/alerts": {"get": _op("Alerts firing now, with Alertmanager's status",
                                          params=("filter", "receiver", "active", "silenced", "inhibited"),
                                          schema="Alerts", errors=("400",))},
            "/api/v1/silences": {
                "get": _op("Silences (pending, active, expired within the retention)", schema="Silences"),
                "post": _op("Create a silence", body="NewSilence", ok="201", schema="Silence", write=True,
                            errors=("400",))},
            "/api/v1/silences/{silence_id}": {"delete": _op("Expire a silence now", params=("silence_id",),
                                                            schema="Silence", write=True, errors=("404", "409"))},
            "/api/v1/lifecycle/runs": {
                "get": _op("Lifecycle runs, newest first", params=("model_query",), schema="Runs", errors=("404",)),
                "post": _op("Ask for a run (through the guardrails; 409 when one blocks it)", body="NewRun",
                            ok="201", schema="StartDecision", write=True, errors=("400", "404", "409"))},
            "/api/v1/lifecycle/runs/{run_id}": {"get": _op("One run with its audit trail", params=("run_id",),
                                                           schema="Run", errors=("404",))},
            "/api/v1/lifecycle/runs/{run_id}/cancel": {"post": _op(
                "Ask a run to stop (the daemon cancels its jobs and rolls back at its next tick)",
                params=("run_id",), body="Cancel", schema="Run", write=True, errors=("400", "404", "409"))},
            "/api/v1/outbox": {"get": _op("Outbox rows by state and the age of the oldest waiting one",
                                          schema="Outbox")},
            "/api/v1/outbox/dead": {"get": _op("Dead letters, newest first (200 at most)", schema="DeadLetters")},
        },
        "components": {
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
            "parameters": {
                "model": {"name": "model", "in": "path", "required": True, "schema": {"type": "string"}},
                "model_query": {"name": "model", "in": "query", "schema": {"type": "string"}},
                "run_id": {"name": "run_id", "in": "path", "required": True, "schema": {"type": "string"}},
                "silence_id": {"name": "silence_id", "in": "path", "required": True, "schema": {"type": "string"}},
                "since": {"name": "since", "in": "query", "schema": {"type": "string", "format": "date-time"}},
                "until": {"name": "until", "in": "query", "schema": {"type": "string", "format": "date-time"}},
                "stream": {"name": "stream", "in": "query", "schema": {"type": "string"}},
                "filter": {"name": "filter", "in": "query", "description": 'a matcher such as severity="critical"; '
                           "repeat for more", "schema": {"type": "array", "items": {"type": "string"}}},
                "receiver": {"name": "receiver", "in": "query", "schema": {"type": "string"}},
                **{flag: {"name": flag, "in": "query", "schema": {"type": "boolean", "default": True}}
                   for flag in ("active", "silenced", "inhibited")},
            },
            "schemas": {
                "Error": {"type": "object", "required": ["error"], "properties": {"error": {"type": "string"}}},
                "ModelSummary": {"type": "object", "properties": {
                    "model": {"type": "string"}, "risk": {"type": ["number", "null"]},
                    "severity": {"type": "string"}, "alert_severity": {"type": "string"},
                    "newest_window_end": {"type": ["string", "null"]}, "firing_alerts": {"type": "integer"},
                    "lifecycle": {"type": ["string", "null"]}, "findings": obj}},
                "ModelSummaries": {"type": "array", "items": {"$ref": "#/components/schemas/ModelSummary"}},
                "ModelDetail": obj, "History": obj, "Alerts": {"type": "array", "items": obj},
                "Silence": {"type": "object", "properties": {
                    "id": {"type": "string"}, "state": {"type": "string", "enum": ["pending", "active", "expired"]},
                    "matchers": {"type": "array", "items": {"type": "string"}}, "starts_at": {"type": "string"},
                    "ends_at": {"type": "string"}, "created_by": {"type": "string"}, "comment": {"type": "string"}}},
                "Silences": {"type": "array", "items": {"$ref": "#/components/schemas/Silence"}},
                "NewSilence": {"type": "object", "required": ["matchers", "created_by", "comment"], "properties": {
                    "matchers": {"type": "array", "minItems": 1, "items": {"type": "string"}},
                    "starts_at": {"type": "string", "format": "date-time"},
                    "ends_at": {"type": "string", "format": "date-time"},
                    "duration": {"type": "string", "description": "instead of ends_at, e.g. 2h"},
                    "created_by": {"type": "string"}, "comment": {"type": "string"}}},
                "Run": obj, "Runs": {"type": "array", "items": obj},
                "NewRun": {"type": "object", "required": ["model", "reason", "requested_by"], "properties": {
                    "model": {"type": "string"}, "reason": {"type": "string"}, "requested_by": {"type": "string"},
                    "parameters": {"type": "object", "additionalProperties": {"type": "string"}}}},
                "Cancel": {"type": "object", "required": ["reason", "requested_by"], "properties": {
                    "reason": {"type": "string"}, "requested_by": {"type": "string"}}},
                "StartDecision": obj, "Outbox": obj, "DeadLetters": {"type": "array", "items": obj},
            },
        },
    }
