"""A delivery worker in its own process, for the crash-safety test.

``crash_worker.py CONFIG pause MARKER``: claims the due rows and sends the first one for real, then
writes MARKER and waits forever before acking it (the test kills it with SIGKILL there).
``crash_worker.py CONFIG resume OFFSET_S``: a restarted worker whose clock runs OFFSET_S seconds
ahead (past the dead worker's lease); delivers what is due and exits.
``crash_worker.py CONFIG loop INSTANCE_ID``: the daemon's delivery loop as instance INSTANCE_ID (its
stable identity, as ``alerts.instance`` gives it), on the real clock, until it is killed.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from alerts import MIGRATIONS, AlertStore, build_channels, build_pipeline
from alerts.channels.base import Channel, Result
from config import load_settings
from monitor.state import open_store


class PauseAfterSend:
    def __init__(self, inner: Channel, marker: Path) -> None:
        self.inner, self.marker = inner, marker

    def send(self, payload: Mapping[str, Any]) -> Result:
        result = self.inner.send(payload)
        self.marker.write_text(repr(result), encoding="utf-8")
        while True:  # between the send and the ack
            time.sleep(1)


def main(config: str, mode: str, arg: str) -> int:
    settings = load_settings(config)
    engine = open_store(settings.state.url, {"alerts": MIGRATIONS}).engine
    if mode == "loop":
        store = AlertStore(engine, lambda: datetime.now(UTC))
        channels = build_channels(settings.receivers, store.clock, store.message_refs())
        notifier = build_pipeline(settings, store, channels, worker_id=arg)
        print("started", flush=True)
        while True:
            notifier.run_once()
            time.sleep(0.05)
    offset = timedelta(seconds=float(arg)) if mode == "resume" else timedelta(0)
    store = AlertStore(engine, lambda: datetime.now(UTC) + offset)
    channels = build_channels(settings.receivers, store.clock, store.message_refs())
    if mode == "pause":
        channels = {key: PauseAfterSend(channel, Path(arg)) for key, channel in channels.items()}
    notifier = build_pipeline(settings, store, channels, worker_id=f"{mode}-worker")
    report = notifier.run_once()
    print(report, flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:4]))
