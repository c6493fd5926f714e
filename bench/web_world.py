"""A state database for the web surface's tests and benchmark: models with hourly windows, alerts, silences,
lifecycle runs and outbox rows, written through the stores where they exist (alerts, silences, runs) and
as rows where building real assessments would need Spark (``monitor_assessments``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import sqlalchemy as sa

from alerts.model import Alert
from alerts.outbox import enqueue
from alerts.schema import alerts_outbox as outbox
from alerts.service import AlertService
from alerts.silences import SilenceStore
from config.basics.clock import Clock
from config.matchers import Matcher
from config.settings import Settings
from monitor import schema
from retrain import RunBook
from retrain.trigger import Trigger

FEATURES = ("tenure_months", "monthly_charges", "contract", "support_calls")
LIFECYCLE = {"enabled": True, "registered_model": "main.ml.m000", "retrain": {"module": "lw_fake_job"},
             "trigger": {"cooldown": "0s", "max_runs_per_day": 10}}


def settings_for(models: int, state_url: str, **http: Any) -> Settings:
    names = [f"m{i:03d}" for i in range(models)]
    return Settings.model_validate({
        "models": [{"name": name, "sources": {"lakehouse": {"table": f"main.ml.{name}"}},
                    **({"lifecycle": LIFECYCLE} if i == 0 else {})} for i, name in enumerate(names)],
        "route": {"receiver": "ops", "group_by": ["model"],
                  # a critical alert pages and goes to the team's channel too (two receivers, two groups)
                  "routes": [{"matchers": ['severity="critical"'], "receiver": "pager", "continue": True},
                             {"matchers": ['severity="critical"'], "receiver": "ops",
                              "group_by": ["model", "severity"]}]},
        "receivers": [{"name": "ops", "webhook_configs": [{"url": "http://127.0.0.1:9/ops"}]},
                      {"name": "pager", "webhook_configs": [{"url": "http://127.0.0.1:9/pager"}]}],
        "inhibit_rules": [{"source_matchers": ['severity="critical"'], "target_matchers": ['severity="high"'],
                           "equal": ["model"]}],
        "state": {"url": state_url},
        "service": {"http": {"host": "127.0.0.1", "port": 0, **http}},
    })


def _risk(model: int, hour: int) -> float:
    return round(max(0.0, min(100.0, 30 + 25 * math.sin(hour / 9 + model) + (model % 5) * 8)), 1)


def _tier(risk: float) -> str:
    return "critical" if risk >= 90 else "high" if risk >= 75 else "medium" if risk >= 50 else "low" \
        if risk >= 25 else "ok"


def _drift(model: int, hour: int, feature: int) -> float:
    return round(abs(0.05 + 0.1 * feature + 0.08 * math.sin(hour / 7 + feature + model)), 4)


@dataclass(frozen=True)
class World:
    windows_per_model: int
    silence_id: str
    run_id: str


def seed(settings: Settings, engine: sa.Engine, clock: Clock, *, hours: int) -> World:
    """``hours`` hourly windows per model ending at the clock's hour; alerts for the first models."""
    now = clock()
    end = now.replace(minute=0, second=0, microsecond=0)
    rows: list[dict[str, Any]] = []
    for index, model in enumerate(settings.models):
        for h in range(hours):
            stop = end - timedelta(hours=hours - 1 - h)
            risk = _risk(index, h)
            drift = [_drift(index, h, f) for f in range(len(FEATURES))]
            findings = [{"signal": "feature_drift", "column": FEATURES[f], "statistic": "psi", "value": v,
                         "tier": "high" if v >= 0.25 else "medium", "threshold": 0.2, "weight": 1.0,
                         "drift_type": "CONSECUTIVE", "scope": None, "detail": ""}
                        for f, v in enumerate(drift) if v >= 0.2]
            skipped = [{"signal": "feature_drift", "column": FEATURES[f], "reason": "under the lowest tier (0.2)",
                        "kind": "below", "statistic": "psi", "value": v} for f, v in enumerate(drift) if v < 0.2]
            severity = _tier(risk)
            rows.append({"model": model.name, "stream": f"lakehouse:main.ml.{model.name}", "granularity": "1 hour",
                         "window_start": stop - timedelta(hours=1), "window_end": stop, "version": "1",
                         "revision": 1, "risk": risk, "severity": severity, "findings": findings, "skipped": skipped,
                         "inputs": {}, "measures": {}, "row_count": 1000, "state_firing": severity != "ok",
                         "state_severity": severity, "state_reason": "seeded", "alert_severity": severity,
                         "created_at": now, "updated_at": now})
            if len(rows) >= 5000:
                _insert(engine, rows)
    _insert(engine, rows)
    service = AlertService(engine, settings.route, settings.receivers, clock)
    for index, model in enumerate(settings.models[:10]):
        severity = ("critical", "high", "medium")[index % 3]
        firing = [Alert({"alertname": "ModelAtRisk", "model": model.name, "severity": severity, "signal": "drift"},
                        {"summary": f"{model.name} drifted"}, now)]
        if index == 0:
            firing.append(Alert({"alertname": "ModelAtRisk", "model": model.name, "severity": "high",
                                 "signal": "quality"}, {"summary": "inhibited by the critical one"}, now))
        service.sync(model.name, firing)
    silence = SilenceStore(engine, clock).add([Matcher.parse('model="m001"')], now + timedelta(hours=2),
                                              created_by="ana", comment="deploy in progress")
    book = RunBook(engine, {m.name: m.lifecycle for m in settings.models}, clock)
    decision = book.consider(Trigger(model=settings.models[0].name, reason="manual: seeded", severity="low",
                                     requested_by="ana"))
    assert decision.run_id is not None, decision
    with engine.begin() as conn:
        for i in range(3):
            enqueue(conn, receiver="ops", channel_kind="webhook", channel_index=0, idempotency_key=f"seed-{i}",
                    payload={"kind": "notification", "status": "firing", "groupKey": f"{{}}:{{model=\"m00{i}\"}}"},
                    now=now)
        conn.execute(outbox.update().where(outbox.c.idempotency_key == "seed-2").values(
            status="dead", attempts=5, last_error="HTTP 410 from the webhook: gone"))
    return World(hours, silence.id, decision.run_id)


def _insert(engine: sa.Engine, rows: list[dict[str, Any]]) -> None:
    if rows:
        with engine.begin() as conn:
            conn.execute(schema.window_assessments.insert(), rows)
        rows.clear()
