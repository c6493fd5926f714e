"""Ingress for Databricks job notifications: ``POST /webhooks/databricks/jobs`` wakes the lifecycle.

A Databricks notification destination (type webhook) posts ``{event_type, workspace_id, run:
{run_id}, job: {job_id, name}}`` when a job run starts, succeeds or fails; task-level events add
``run.parent_run_id``. Ids may be strings or numbers, and the payload carries no outcome, so the
ingress only checks that the run is one an unfinished lifecycle run started (its
``job_external_id``, ``validate_job_external_id`` or ``batch_job_external_id``) and puts an
``AdvanceLifecycle`` command on the daemon's inbox: the run is polled now instead of at the next
lifecycle tick, and the outcome is read with ``runs/get`` as usual.

Answers, in the order checked: 404 when no credential is configured (the endpoint is off, never
open); 401 with ``WWW-Authenticate`` for a missing or wrong credential; 415 for a body that is not
``application/json``; 411/413 for a missing length or a body over 64 KiB; 400 for malformed JSON
or a payload without ``run.run_id``; 404 for a run id no unfinished run knows; 202 when accepted.
Credentials are compared with ``hmac.compare_digest`` and never logged.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from email.message import Message
from http import HTTPStatus
from io import BufferedIOBase
from typing import Any

import structlog

from config.service import WebhookSettings
from monitor.bus import Command
from monitor.messages import AdvanceLifecycle
from retrain.runs import RunRecord

__all__ = ["JOBS_PATH", "MAX_BODY", "Reply", "WebhookIngress", "job_run_ids"]

log = structlog.get_logger(__name__)

JOBS_PATH = "/webhooks/databricks/jobs"
MAX_BODY = 64 * 1024  # bytes; a job notification is well under 1 KiB
EXTERNAL_JOB_KEYS = ("job_external_id", "validate_job_external_id", "batch_job_external_id")
_REALM = 'realm="lakewarden"'
# Authorization schemes (the IANA registry and common non-standard ones) that may be named in a log
# line. Anything else before the first space may be the credential itself (a token sent without
# ``Bearer ``), so it is never echoed, not even in part.
_KNOWN_SCHEMES = frozenset({
    "basic", "bearer", "digest", "dpop", "gnap", "hoba", "mutual", "negotiate", "ntlm", "oauth", "privatetoken",
    "scram-sha-1", "scram-sha-256", "vapid", "aws4-hmac-sha256", "token", "apikey", "api-key", "key",
})


@dataclass(frozen=True)
class Reply:
    """The ingress's answer: a status, a JSON body and extra headers (a header may repeat)."""

    status: HTTPStatus
    body: dict[str, Any]
    headers: tuple[tuple[str, str], ...] = field(default=())


def job_run_ids(runs: Iterable[RunRecord]) -> dict[str, str]:
    """Databricks run id -> lakewarden run id, for every job the given runs started."""
    found: dict[str, str] = {}
    for run in runs:
        for key in EXTERNAL_JOB_KEYS:
            value = run.external.get(key)
            if value is not None:
                found[str(value)] = run.run_id
    return found


def _run_id(value: object) -> str | None:
    """A run id as text: a positive integer given as a number or a string of digits, else None."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int) and value > 0:
        return str(value)
    if isinstance(value, str) and value.strip().isdigit():
        return str(int(value.strip()))
    return None


class WebhookIngress:
    """The POST handler the HTTP app dispatches to (``monitor.web.ingress``); thread-safe.

    ``unfinished`` lists the lifecycle runs in flight (``RunBook.unfinished``); ``submit`` puts a
    command on the daemon's inbox (``Daemon.submit``).
    """

    def __init__(self, settings: WebhookSettings, unfinished: Callable[[], Iterable[RunRecord]],
                 submit: Callable[[Command], None]) -> None:
        self._settings = settings
        self._unfinished = unfinished
        self._submit = submit
        # Set-up once: the expected credentials as bytes, so a request only compares.
        basic = None
        if settings.username is not None and settings.password is not None:
            pair = f"{settings.username}:{settings.password.get_secret_value()}"
            basic = pair.encode("utf-8")
        self._basic = basic
        self._token = None if settings.token is None else settings.token.get_secret_value().encode("utf-8")
        challenges = []
        if basic is not None:
            challenges.append(("WWW-Authenticate", f'Basic {_REALM}, charset="UTF-8"'))
        if self._token is not None:
            challenges.append(("WWW-Authenticate", f"Bearer {_REALM}"))
        self._challenges = tuple(challenges)

    @property
    def enabled(self) -> bool:
        return self._settings.enabled

    def serves(self, path: str) -> bool:
        return path == JOBS_PATH

    def post(self, path: str, headers: Message, body: BufferedIOBase, client: str) -> Reply:
        if not self.enabled:
            return Reply(HTTPStatus.NOT_FOUND, {"error": "not found"})
        problem = self._authenticate(headers.get("Authorization"))
        if problem is not None:
            log.warning("webhook_unauthorized", path=path, client=client, problem=problem)
            return Reply(HTTPStatus.UNAUTHORIZED, {"error": "unauthorized"}, self._challenges)
        if headers.get_content_type() != "application/json":  # a missing header reads as text/plain
            return Reply(HTTPStatus.UNSUPPORTED_MEDIA_TYPE, {"error": "send Content-Type: application/json"})
        payload = self._read_json(headers, body)
        if isinstance(payload, Reply):
            return payload
        run = payload.get("run")
        run_id = _run_id(run.get("run_id")) if isinstance(run, dict) else None
        if run_id is None:
            return Reply(HTTPStatus.BAD_REQUEST, {"error": "the payload has no run.run_id (a positive integer)"})
        parent = _run_id(run.get("parent_run_id")) if isinstance(run, dict) else None
        event_type = payload.get("event_type")
        job = payload.get("job")
        job_id = job.get("job_id") if isinstance(job, dict) else None
        known = job_run_ids(self._unfinished())
        ours = known.get(run_id) or (known.get(parent) if parent is not None else None)
        if ours is None:
            log.warning("webhook_rejected", reason="unknown run id", databricks_run_id=run_id,
                        parent_run_id=parent, job_id=str(job_id), event_type=str(event_type), client=client)
            return Reply(HTTPStatus.NOT_FOUND, {"error": f"unknown run id {run_id}: no lifecycle run in flight "
                                                         "started it"})
        self._submit(AdvanceLifecycle())
        log.info("webhook_accepted", databricks_run_id=run_id, run_id=ours, job_id=str(job_id),
                 event_type=str(event_type))
        return Reply(HTTPStatus.ACCEPTED, {"status": "accepted", "run_id": ours, "databricks_run_id": run_id})

    def _authenticate(self, header: str | None) -> str | None:
        """None when the header carries a configured credential, else what was wrong (no secret in it)."""
        if not header:
            return "no Authorization header"
        scheme, _, value = header.strip().partition(" ")
        value = value.strip()
        if scheme.lower() == "basic" and self._basic is not None:
            try:
                given = base64.b64decode(value.encode("ascii"), validate=True)
            except (binascii.Error, UnicodeEncodeError):
                return "basic credentials are not base64"
            return None if hmac.compare_digest(given, self._basic) else "wrong username or password"
        if scheme.lower() == "bearer" and self._token is not None:
            return None if hmac.compare_digest(value.encode("utf-8"), self._token) else "wrong bearer token"
        if scheme.lower() in _KNOWN_SCHEMES:
            return f"scheme {scheme!r} not accepted"
        if not value:
            return "no scheme (a bare credential?): send Authorization: Bearer <token> or Basic <base64>"
        return "an unknown scheme (not shown: it may be part of a credential)"

    def _read_json(self, headers: Message, body: BufferedIOBase) -> dict[str, Any] | Reply:
        length_text = headers.get("Content-Length")
        if length_text is None:
            return Reply(HTTPStatus.LENGTH_REQUIRED, {"error": "Content-Length is required"})
        try:
            length = int(length_text)
        except ValueError:
            return Reply(HTTPStatus.BAD_REQUEST, {"error": "Content-Length is not a number"})
        if length < 0:
            return Reply(HTTPStatus.BAD_REQUEST, {"error": "Content-Length is negative"})
        if length > MAX_BODY:
            return Reply(HTTPStatus.REQUEST_ENTITY_TOO_LARGE, {"error": f"the body is over {MAX_BODY} bytes"})
        data = body.read(length)
        if len(data) < length:
            return Reply(HTTPStatus.BAD_REQUEST, {"error": "the body is shorter than Content-Length"})
        try:
            payload = json.loads(data)
        except (ValueError, UnicodeDecodeError):
            return Reply(HTTPStatus.BAD_REQUEST, {"error": "the body is not valid JSON"})
        if not isinstance(payload, dict):
            return Reply(HTTPStatus.BAD_REQUEST, {"error": "the body is not a JSON object"})
        return payload
