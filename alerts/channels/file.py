"""Local channels: one JSON line per notification, appended to a file (fsynced) or to stdout."""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any, TextIO

from alerts.channels.base import Delivered, Result, Retryable


def json_line(payload: Mapping[str, Any]) -> str:
    return json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False) + "\n"


class FileChannel:
    """Appends with a single ``write`` on an ``O_APPEND`` descriptor, so concurrent writers do not
    interleave lines, then fsyncs. Filesystem errors are retryable: the operator can fix them."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def send(self, payload: Mapping[str, Any]) -> Result:
        data = json_line(payload).encode("utf-8")
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o640)
            try:
                written = os.write(fd, data)
                if written != len(data):
                    return Retryable(f"short write to {self.path} ({written} of {len(data)} bytes)")
                os.fsync(fd)
            finally:
                os.close(fd)
        except OSError as exc:
            return Retryable(f"cannot append to {self.path}: {exc.strerror or type(exc).__name__}")
        return Delivered(f"appended to {self.path}")


class ConsoleChannel:
    """Writes the same JSON line to a text stream (standard output unless given)."""

    def __init__(self, stream: TextIO | None = None) -> None:
        self._stream = stream

    def send(self, payload: Mapping[str, Any]) -> Result:
        stream = self._stream if self._stream is not None else sys.stdout
        try:
            stream.write(json_line(payload))
            stream.flush()
        except (OSError, ValueError) as exc:
            return Retryable(f"cannot write to the console: {type(exc).__name__}")
        return Delivered("written to the console")
