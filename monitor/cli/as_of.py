"""``--as-of TIME`` of ``check`` and ``explain``: history replayed on purpose, at a time of the caller's choosing."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from config.basics.clock import utc

HELP = "replay as of this time, ISO 8601 (UTC unless an offset is given), e.g. 2025-03-03T05:00"


def add_argument(parser: Any, help_text: str = HELP) -> None:
    parser.add_argument("--as-of", dest="as_of", metavar="TIME", help=help_text)


def parse_time(text: str) -> datetime | None:
    """``text`` as an aware UTC time (a time without an offset is UTC), or None when it is not ISO 8601."""
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        return None
    return utc(value)


def not_a_time(command: str, option: str, text: str) -> str:
    return f"lakewarden {command}: {option} {text!r} is not an ISO 8601 time such as 2025-03-03T05:00"
