"""The Slack channel through slack_sdk against a strict loopback Slack: webhook and Web API."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
import sqlalchemy as sa

from alerts.channels import blocks
from alerts.channels.base import Attempt, Delivered, Permanent, Retryable
from alerts.channels.refs import MessageRefs
from alerts.channels.slack import SlackChannel
from alerts.model import Alert
from alerts.payload import build_payload
from alerts.templating import context
from config.slack import SlackConfig
from tests.alerts.alert_fakes import SLACK_TOKEN, SlackServer
from tests.alerts.alert_servers import blocks_error

pytestmark = pytest.mark.integration

NOW = datetime(2025, 3, 1, 12, tzinfo=UTC)
HOOK_PATH = "/services/T000/B000/SECRET-HOOK-PATH"


def payload(status: str = "firing", count: int = 1, group: str = "g1", **notes: str) -> dict[str, Any]:
    alerts = [Alert({"alertname": "ModelAtRisk", "model": "churn", "severity": "high", "slice": str(i)},
                    {"summary": "prediction drift", "risk": "72", "runbook_url": "https://wiki/churn", **notes},
                    NOW, NOW if status == "resolved" else None) for i in range(count)]
    return build_payload("chat", alerts, "{}:{}", now=NOW, group_id=group)


def webhook(server: SlackServer, **extra: Any) -> SlackChannel:
    cfg = SlackConfig.model_validate({"api_url": server.url(HOOK_PATH), "timeout": "2s", **extra})
    return SlackChannel(cfg, receiver="chat", index=0)


def web(server: SlackServer, engine: sa.Engine, token: str = SLACK_TOKEN, **extra: Any) -> SlackChannel:
    cfg = SlackConfig.model_validate({"bot_token": token, "channel": "#ml-alerts", "timeout": "2s",
                                      "api_base_url": server.url("/api/"), **extra})
    return SlackChannel(cfg, receiver="chat", index=0, refs=MessageRefs(engine))


def test_webhook_posts_block_kit_and_reads_ok(slack_server: SlackServer) -> None:
    assert webhook(slack_server).send(payload()) == Delivered(f"HTTP 200 ok from {slack_server.url()}")
    (posted,) = slack_server.webhook_posts
    assert posted["blocks"][0] == {"type": "header", "text": {"type": "plain_text", "text": "[FIRING:1] churn high"}}
    assert "<https://wiki/churn|Runbook>" in posted["blocks"][1]["text"]["text"]
    assert posted["text"].startswith("[FIRING:1] churn high")


@pytest.mark.parametrize(("status", "body", "expected", "retry_after"), [
    (429, b"rate_limited", Retryable, 30.0),
    (500, b"internal error", Retryable, None),
    (400, b"invalid_payload", Permanent, None),
    (403, b"action_prohibited", Permanent, None),
    (404, b"channel_not_found", Permanent, None),
    (410, b"channel_is_archived", Permanent, None),
])
def test_webhook_failures_are_classified(slack_server: SlackServer, status: int, body: bytes, expected: type,
                                         retry_after: float | None) -> None:
    slack_server.fail_next(status, body, {"Retry-After": "30"} if status == 429 else {})
    result = webhook(slack_server).send(payload())
    assert isinstance(result, expected)
    assert body.decode() in str(result)
    assert getattr(result, "retry_after", None) == retry_after
    assert "SECRET-HOOK-PATH" not in repr(result)


def test_webhook_timeout_is_retryable(slack_server: SlackServer) -> None:
    slack_server.fail_next(200, b"ok", hang=3)
    result = webhook(slack_server, timeout="1s").send(payload())
    assert isinstance(result, Retryable) and "timed out" in result.reason


def test_web_api_posts_then_updates_the_same_message_on_resolve(slack_server: SlackServer, engine: sa.Engine) -> None:
    channel = web(slack_server, engine)
    assert "posted to C0ML" in str(channel.send(payload()))
    result = channel.send(payload("resolved"))
    assert isinstance(result, Delivered) and "updated C0ML" in result.detail
    (message,) = slack_server.messages.values()
    assert message.edits == 1
    assert message.blocks[0]["text"]["text"] == "[RESOLVED] churn high"


def test_web_api_message_ref_survives_a_new_channel_object(slack_server: SlackServer, engine: sa.Engine) -> None:
    web(slack_server, engine).send(payload())
    web(slack_server, engine).send(payload("resolved"))  # as after a restart: the ts is in the database
    assert [m.edits for m in slack_server.messages.values()] == [1]


def test_thread_replies_go_under_the_first_message(slack_server: SlackServer, engine: sa.Engine) -> None:
    channel = web(slack_server, engine, thread_replies=True)
    channel.send(payload())
    channel.send(payload(count=2))
    channel.send(payload("resolved", count=2))
    (parent,) = slack_server.top_level()
    replies = [m for m in slack_server.messages.values() if m.thread_ts == parent.ts]
    assert len(replies) == 2
    assert parent.edits == 2 and parent.blocks[0]["text"]["text"].startswith("[RESOLVED]")


def test_a_new_firing_notification_without_threads_posts_a_new_message(slack_server: SlackServer,
                                                                       engine: sa.Engine) -> None:
    channel = web(slack_server, engine)
    channel.send(payload())
    channel.send(payload(count=2))
    channel.send(payload("resolved", count=2))
    first, second = slack_server.top_level()
    assert (first.edits, second.edits) == (0, 1)  # the resolve rewrote the latest message


def test_a_deleted_message_is_posted_again_on_resolve(slack_server: SlackServer, engine: sa.Engine) -> None:
    channel = web(slack_server, engine)
    channel.send(payload())
    slack_server.messages.clear()
    result = channel.send(payload("resolved"))
    assert isinstance(result, Delivered) and "could not be updated" in result.detail


@pytest.mark.parametrize(("fault", "expected", "reason"), [
    ((200, b'{"ok": false, "error": "channel_not_found"}'), Permanent, "channel_not_found"),
    ((200, b'{"ok": false, "error": "internal_error"}'), Retryable, "internal_error"),
    ((429, b'{"ok": false, "error": "ratelimited"}'), Retryable, "ratelimited"),
    ((503, b"upstream down"), Retryable, "503"),
])
def test_web_api_body_level_errors_are_detected(slack_server: SlackServer, engine: sa.Engine,
                                                fault: tuple[int, bytes], expected: type, reason: str) -> None:
    slack_server.fail_next(fault[0], fault[1], {"Content-Type": "application/json", "Retry-After": "12"})
    result = web(slack_server, engine).send(payload())
    assert isinstance(result, expected) and reason in str(result)
    if fault[0] == 429:
        assert isinstance(result, Retryable) and result.retry_after == 12.0


def test_web_api_bad_token_is_permanent_and_secret(slack_server: SlackServer, engine: sa.Engine) -> None:
    result = web(slack_server, engine, token="xoxb-SECRET-WRONG").send(payload())
    assert isinstance(result, Permanent) and "invalid_auth" in result.reason
    assert "SECRET" not in repr(result)
    channel = web(slack_server, engine)
    assert SLACK_TOKEN not in repr(channel) and "SECRET-HOOK-PATH" not in repr(webhook(slack_server))


def test_block_kit_limits_hold_for_huge_groups(slack_server: SlackServer) -> None:
    big = payload(count=80, summary="x" * 5000, findings="\n".join(["finding " * 50] * 30))
    result = webhook(slack_server, title="{{ summary }}").send(big)
    assert isinstance(result, Delivered), result
    sent = slack_server.webhook_posts[0]["blocks"]
    assert blocks_error(sent) is None
    assert len(sent[0]["text"]["text"]) <= blocks.MAX_HEADER
    assert "70 more alert(s) not shown" in sent[-1]["elements"][0]["text"]


def test_blocks_builder_stays_under_every_limit() -> None:
    ctx = context(payload(count=12, summary="y" * 9000))
    built = blocks.message("t" * 400, "z" * 9000, ctx)
    assert blocks_error(built) is None


# --- idempotent resends: message metadata and conversations.history --------------------------------

def resend(notification_id: str) -> Attempt:
    return Attempt(notification_id, resend_since=datetime.now(UTC))


def test_every_web_api_message_carries_the_notification_and_its_group_in_metadata(
    slack_server: SlackServer, engine: sa.Engine
) -> None:
    assert isinstance(web(slack_server, engine).send_attempt(payload(), Attempt("n1")), Delivered)
    (message,) = slack_server.messages.values()
    assert message.metadata is not None and message.metadata["event_type"] == "lakewarden_notification"
    assert message.metadata["event_payload"]["notification_id"] == "n1"
    assert slack_server.history_calls == 0  # a first send never reads the history


def test_a_resend_adopts_the_message_an_earlier_attempt_posted_and_the_resolve_updates_it(
    slack_server: SlackServer, engine: sa.Engine
) -> None:
    first = web(slack_server, engine)
    assert isinstance(first.send_attempt(payload(), Attempt("n1")), Delivered)
    with engine.begin() as conn:  # the process died before it kept the message's ts
        conn.execute(sa.text("DELETE FROM alerts_message_refs WHERE ts != ''"))
    restarted = web(slack_server, engine)
    result = restarted.send_attempt(payload(), resend("n1"))
    assert isinstance(result, Delivered) and "adopted" in result.detail, result
    (message,) = slack_server.top_level()
    assert slack_server.history_calls == 1
    assert isinstance(restarted.send_attempt(payload("resolved"), Attempt("n2")), Delivered)
    (resolved,) = slack_server.top_level()
    assert (resolved.ts, resolved.edits) == (message.ts, 1) and "RESOLVED" in resolved.text


def test_a_resend_after_a_superseded_firing_updates_that_message_instead_of_posting(
    slack_server: SlackServer, engine: sa.Engine
) -> None:
    channel = web(slack_server, engine)
    assert isinstance(channel.send_attempt(payload(), Attempt("firing-1")), Delivered)
    with engine.begin() as conn:
        conn.execute(sa.text("DELETE FROM alerts_message_refs WHERE ts != ''"))
    # the firing row was superseded by the resolve before its ack: the resolve inherits its first attempt
    assert isinstance(channel.send_attempt(payload("resolved"), resend("resolve-2")), Delivered)
    (message,) = slack_server.top_level()
    assert message.edits == 1 and "RESOLVED" in message.text
    assert message.metadata is not None and message.metadata["event_payload"]["notification_id"] == "resolve-2"


def test_without_the_history_scope_a_resend_posts_again_and_says_why(
    slack_server: SlackServer, engine: sa.Engine
) -> None:
    slack_server.history_scope = False
    channel = web(slack_server, engine)
    channel.send_attempt(payload(), Attempt("n1"))
    with engine.begin() as conn:
        conn.execute(sa.text("DELETE FROM alerts_message_refs WHERE ts != ''"))
    result = channel.send_attempt(payload(), resend("n1"))
    assert isinstance(result, Delivered) and "missing_scope" in result.detail
    assert len(slack_server.top_level()) == 2  # at least once: posted again


def test_a_rate_limited_history_lookup_is_retried_not_guessed_past(
    slack_server: SlackServer, engine: sa.Engine
) -> None:
    channel = web(slack_server, engine, channel="C0ML")
    slack_server.fail_next(429, b'{"ok": false, "error": "ratelimited"}',
                           {"Content-Type": "application/json", "Retry-After": "7"})
    result = channel.send_attempt(payload(), resend("n1"))
    assert result == Retryable(f"Slack at {slack_server.url()} answered HTTP 429 ratelimited", 7.0)
    assert slack_server.messages == {}


def test_the_history_is_read_page_by_page_newest_first(slack_server: SlackServer, engine: sa.Engine) -> None:
    channel = web(slack_server, engine, channel="C0ML")
    channel.send_attempt(payload(group="g1"), Attempt("mine"))
    for index in range(150):  # a busy channel: other groups' messages after it
        channel.send_attempt(payload(group=f"other-{index}"), Attempt(f"other-{index}"))
    with engine.begin() as conn:
        conn.execute(sa.text("DELETE FROM alerts_message_refs"))
    result = web(slack_server, engine, channel="C0ML").send_attempt(payload(group="g1"), resend("mine"))
    assert isinstance(result, Delivered) and "adopted" in result.detail
    assert slack_server.history_calls == 2 and len(slack_server.top_level()) == 151
