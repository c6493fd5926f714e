"""Slack Block Kit messages within Slack's limits (docs/external/notification-channels.md, "Slack").

At most 50 blocks, a header of at most 150 characters, section text of at most 3000, at most 10
fields of at most 2000 each; the whole stays under 12,000 characters of blocks (Slack rejects
messages near 13k with ``msg_blocks_too_long``). Longer text is cut with an ellipsis.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

MAX_BLOCKS = 50
MAX_HEADER = 150
MAX_SECTION = 3000
MAX_FIELDS = 10
MAX_FIELD = 2000
MAX_TOTAL = 12000
MAX_FALLBACK_TEXT = 3000
_FIELD_SHARE = 700


def cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def message(title: str, text: str, ctx: Mapping[str, Any]) -> list[dict[str, Any]]:
    blocks: list[dict[str, Any]] = [
        {"type": "header", "text": {"type": "plain_text", "text": cut(title.strip() or "lakewarden", MAX_HEADER)}},
    ]
    if text.strip():
        blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": cut(text.strip(), MAX_SECTION)}})
    fields = []
    for alert in list(ctx.get("alerts", []))[:MAX_FIELDS]:
        labels = ", ".join(f"{k}={v}" for k, v in sorted(alert["labels"].items()) if k != "alertname")
        # 10 fields of 2000 would pass the total limit: each gets a share of it.
        fields.append({"type": "mrkdwn", "text": cut(f"*{alert['status'].upper()}* {labels}", _FIELD_SHARE)})
    if fields:
        blocks.append({"type": "section", "fields": fields})
    hidden = len(ctx.get("alerts", [])) - len(fields)
    footer = f"group {ctx.get('group_id', '')}" + (f" · {hidden} more alert(s) not shown" if hidden > 0 else "")
    blocks.append({"type": "context", "elements": [{"type": "mrkdwn", "text": cut(footer, MAX_FIELD)}]})
    blocks = blocks[:MAX_BLOCKS]
    while len(json.dumps(blocks)) > MAX_TOTAL and len(blocks) > 1:
        blocks.pop(-2 if len(blocks) > 2 else -1)  # drop detail before the header
    return blocks
