"""File and console channels: one valid JSON line per notification."""

from __future__ import annotations

import io
import json
from pathlib import Path

from alerts.channels.base import Delivered, Retryable
from alerts.channels.file import ConsoleChannel, FileChannel

PAYLOAD = {"version": 1, "status": "firing", "receiver": "ops", "alerts": [{"labels": {"model": "churn"}}],
           "commonLabels": {"model": "churn"}, "groupKey": "{}:{}", "note": "ünïcode\nand a newline"}


def test_file_channel_appends_one_json_line_per_notification(tmp_path: Path) -> None:
    path = tmp_path / "nested" / "dir" / "alerts.jsonl"
    file = FileChannel(path)
    assert isinstance(file.send(PAYLOAD), Delivered)
    assert isinstance(file.send({**PAYLOAD, "status": "resolved"}), Delivered)
    lines = path.read_text(encoding="utf-8").splitlines()
    assert [json.loads(line)["status"] for line in lines] == ["firing", "resolved"]
    assert json.loads(lines[0]) == PAYLOAD


def test_file_channel_failure_is_retryable(tmp_path: Path) -> None:
    (tmp_path / "taken").mkdir()
    result = FileChannel(tmp_path / "taken").send(PAYLOAD)
    assert isinstance(result, Retryable)
    assert "cannot append to" in result.reason


def test_console_channel_writes_the_same_json_line() -> None:
    stream = io.StringIO()
    assert isinstance(ConsoleChannel(stream).send(PAYLOAD), Delivered)
    assert stream.getvalue().endswith("\n")
    assert stream.getvalue().count("\n") == 1
    assert json.loads(stream.getvalue()) == PAYLOAD
