"""The demo's readable timeline: one line per window, alert and lifecycle step."""

from __future__ import annotations

import sys
import threading
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, TextIO

from monitor.bus import Message
from monitor.messages import AlertsEnqueued, AssessmentMade, LifecycleProgressed, SourceFailed
from monitor.sources import is_data_stream


@dataclass
class Timeline:
    """Subscribes to the daemon's bus and prints what happened, in order."""

    out: TextIO = field(default_factory=lambda: sys.stdout)
    assessed: int = 0
    fired: int = 0
    resolved: int = 0
    lifecycle: list[str] = field(default_factory=list)
    judged_until: datetime | None = None
    sent: int = 0  # notifications the outbox sent (repeats included)
    shown_rows: set[int] = field(default_factory=set)  # outbox rows printed (they finish out of id order)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def say(self, text: str) -> None:
        with self._lock:
            print(text, file=self.out, flush=True)

    def on_assessment(self, message: AssessmentMade) -> Iterable[Message]:
        a = message.assessment
        if not is_data_stream(a.stream):  # a status period (freshness): shown only when it found something
            if a.findings:
                self.say(f"      {a.stream}: {a.findings[0].describe()}")
            return ()
        self.assessed += 1
        self.judged_until = a.window_end
        top = a.findings[0].describe() if a.findings else ""
        more = f" (+{len(a.findings) - 1} more)" if len(a.findings) > 1 else ""
        self.say(f"  window {a.window_start:%H:%M}-{a.window_end:%H:%M}  risk {a.risk:5.1f}  {a.severity:<8} "
                 f"{top}{more}")
        return ()

    def on_alerts(self, message: AlertsEnqueued) -> Iterable[Message]:
        for note in message.notifications:
            status = str(note.get("status", "?")).upper()
            if status == "FIRING":
                self.fired += 1
            elif status == "RESOLVED":
                self.resolved += 1
            labels = note.get("labels", {})
            label_text = ",".join(f"{k}={v}" for k, v in sorted(labels.items()) if k in ("model", "severity"))
            self.say(f"      alert {status:<8} {labels.get('alertname', '')}{{{label_text}}} -> "
                     f"{note.get('receiver', '?')}")
        return ()

    def on_outbox_rows(self, rows: Iterable[Mapping[str, Any]]) -> None:
        """Every notification the outbox finished with, in id order: sent (with why: first, repeat,
        changed...), not sent because a newer one replaced it, or dead."""
        for row in rows:
            if int(row["id"]) in self.shown_rows:
                continue
            self.shown_rows.add(int(row["id"]))
            payload = row["payload"] or {}
            labels = payload.get("commonLabels") or {}
            label_text = ",".join(f"{k}={v}" for k, v in sorted(labels.items()) if k in ("model", "severity"))
            what = (f"{str(payload.get('status', '?')).upper()} {labels.get('alertname', payload.get('kind', ''))}"
                    f"{{{label_text}}}")
            reason = f" ({payload['reason']})" if payload.get("reason") else ""
            where = f"{row['receiver']}/{row['channel_kind']}"
            if row["superseded_by"] is not None:
                self.say(f"      not sent {where}: {what}{reason}, replaced by a newer notification")
            elif row["status"] == "dead":
                self.say(f"      DEAD     {where}: {what}{reason}: {row['last_error']}")
            else:
                self.sent += 1
                self.say(f"      sent     {where}: {what}{reason}")

    def on_lifecycle(self, message: LifecycleProgressed) -> Iterable[Message]:
        self.lifecycle.append(message.kind)
        self.say(f"      lifecycle {message.kind:<10} run {message.run_id[:8]}: {message.message}")
        return ()

    def on_source_failed(self, message: SourceFailed) -> Iterable[Message]:
        self.say(f"      source FAILED for {message.model}: {message.error}")
        return ()
