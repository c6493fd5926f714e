"""The emulator's clock: real time plus an offset tests move forward (``advance``) to skip waits."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime


class EmuClock:
    def __init__(self) -> None:
        self._offset = 0.0
        self._lock = threading.Lock()

    def now(self) -> float:
        """Seconds since the epoch."""
        with self._lock:
            return time.time() + self._offset

    def utc(self) -> datetime:
        """The emulator's time as lakewarden's ``Clock`` gives it (aware UTC): pass ``emulator.clock.utc``."""
        return datetime.fromtimestamp(self.now(), UTC)

    def now_ms(self) -> int:
        return int(self.now() * 1000)

    def advance(self, seconds: float) -> None:
        with self._lock:
            self._offset += seconds
