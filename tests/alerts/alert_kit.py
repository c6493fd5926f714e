"""Helpers for the alerts tests: settings from a few lines, the composed pipeline, reading JSON lines."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from alerts import AlertStore, Notifier, build_channels, build_pipeline
from alerts.channels.base import Channel
from alerts.channels.registry import ChannelKey
from alerts.model import Alert
from config.receivers import Receiver
from config.routing import Route
from config.settings import Settings

MODEL = {"name": "churn", "sources": {"lakehouse": {"table": "main.ml.churn"}}}


def make_settings(route: Route | Mapping[str, Any], receivers: Sequence[Receiver | Mapping[str, Any]],
                  **extra: Any) -> Settings:
    return Settings.model_validate({"models": [MODEL], "route": route, "receivers": list(receivers), **extra})


def file_receiver(tmp_path: Path, name: str, **extra: Any) -> dict[str, Any]:
    return {"name": name, "file_configs": [{"path": str(tmp_path / f"{name}.jsonl")}], **extra}


def notifier(engine: sa.Engine, clock: Callable[[], datetime], settings: Settings,
             channels: Mapping[ChannelKey, Channel] | None = None, worker_id: str = "w1") -> Notifier:
    store = AlertStore(engine, clock)
    if channels is None:
        channels = build_channels(settings.receivers, clock, store.message_refs())
    return build_pipeline(settings, store, channels, worker_id=worker_id)


def alert(clock: Callable[[], datetime], **labels: str) -> Alert:
    return Alert({"alertname": "ModelAtRisk", **labels}, {"summary": f"{labels}"}, clock())


def lines(path: Path) -> list[dict[str, Any]]:
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def sent(path: Path) -> list[tuple[str, str, int]]:
    """(reason, status, number of alerts) per notification a file channel received."""
    return [(n["reason"], n["status"], len(n["alerts"])) for n in lines(path)]
