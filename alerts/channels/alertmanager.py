"""Forwarding to an existing Prometheus Alertmanager: ``POST /api/v2/alerts``.

Each alert goes as ``{labels, annotations, startsAt, endsAt, generatorURL}``: firing ones with
``endsAt`` = now + ``firing_ttl``, resolved ones with their own end (in the past), which makes
Alertmanager resolve them at once. Alertmanager answers 200; 400 is permanent (a payload it
rejects), 429/5xx and network errors are retryable.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from alerts.channels.base import Delivered, Result
from alerts.channels.http import Answer, Poster, verifying_context
from alerts.model import iso
from config.basics.clock import Clock, utc_now
from config.forwarding import AlertmanagerConfig


class AlertmanagerChannel:
    def __init__(self, config: AlertmanagerConfig, clock: Clock = utc_now) -> None:
        self._config = config
        self._clock = clock
        context = verifying_context(str(config.ca_file) if config.ca_file else None)
        self._poster = Poster(f"{config.url}/api/v2/alerts", config.timeout.total_seconds(), clock, context)
        self.origin = self._poster.origin

    def __repr__(self) -> str:
        return f"AlertmanagerChannel({self.origin})"

    def alerts(self, payload: Mapping[str, Any]) -> list[dict[str, Any]]:
        now = self._clock()
        out = []
        for alert in payload.get("alerts") or []:
            firing = alert.get("status", "firing") == "firing"
            item: dict[str, Any] = {
                "labels": dict(alert.get("labels") or {}),
                "annotations": dict(alert.get("annotations") or {}),
                "startsAt": alert.get("startsAt") or iso(now),
                "endsAt": iso(now + self._config.firing_ttl) if firing else (alert.get("endsAt") or iso(now)),
            }
            if self._config.generator_url:
                item["generatorURL"] = self._config.generator_url
            out.append(item)
        return out

    def send(self, payload: Mapping[str, Any]) -> Result:
        alerts = self.alerts(payload)
        if not alerts:
            return Delivered("nothing to forward")
        headers = {"Content-Type": "application/json"}
        if self._config.bearer_token is not None:
            headers["Authorization"] = f"Bearer {self._config.bearer_token.get_secret_value()}"
        answer = self._poster.post(json.dumps(alerts, ensure_ascii=False).encode("utf-8"), headers)
        if not isinstance(answer, Answer):
            return answer
        if answer.ok:
            return Delivered(f"HTTP {answer.status} from {self.origin}: {len(alerts)} alert(s) forwarded")
        return self._poster.classify(answer)
