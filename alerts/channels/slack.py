"""Slack: an incoming webhook, or the Web API (``chat.postMessage``, ``chat.update``) with a bot token.

Through ``slack_sdk`` with its retry handlers off: the outbox owns retry timing. HTTP 429 is
retryable after ``Retry-After`` (webhook and Web API alike), 5xx and network errors are retryable,
other answers are permanent with Slack's error code. Web API errors come as HTTP 200 with
``{"ok": false, "error": ...}``: the body is checked. On resolve, the stored message of the group is
rewritten in place (``chat.update``); with ``thread_replies`` each later notification is also
posted in its thread.

Idempotent resends (Web API): every message lakewarden posts carries Slack message metadata,
``{"event_type": "lakewarden_notification", "event_payload": {"notification_id", "group"}}``
(``chat.update`` rewrites it too). When the outbox says a send is a resend (an earlier attempt of this
notification, or of one of the same group it superseded, may have posted before the process died or
the answer was lost), the channel first reads ``conversations.history`` of the channel with
``include_all_metadata=true`` from a minute before that first attempt (at most ``HISTORY_PAGES`` pages
of ``HISTORY_PAGE`` messages, newest first) and adopts the newest message of the group it finds:
its own (nothing is posted again), or one an earlier notification of the group posted (it is updated
in place). ``conversations.history`` needs ``channels:history`` (``groups:history`` for a private
channel) and a channel id; a configured name is resolved by remembering the id Slack answered to an
earlier post. Without the scope or the id, the resend posts again (at least once), and says so in
its result; a rate-limited or failed lookup is retried, never guessed past.
"""

from __future__ import annotations

import json
import re
import urllib.error
from collections.abc import Mapping
from datetime import timedelta
from typing import Any

from slack_sdk import WebClient, WebhookClient
from slack_sdk.errors import SlackApiError, SlackClientError

from alerts.channels import blocks
from alerts.channels.base import Attempt, Delivered, Permanent, Result, Retryable
from alerts.channels.http import describe, header, origin_of, parse_retry_after
from alerts.channels.refs import MessageRef, MessageRefs, ref_key
from alerts.templating import TemplateFailed, context, render_title_and_text
from config.basics.clock import Clock, utc_now
from config.slack import SlackConfig

_RETRYABLE_ERRORS = frozenset({"ratelimited", "rate_limited", "internal_error", "fatal_error", "service_unavailable",
                               "request_timeout", "team_added_to_org"})
_STALE_MESSAGE = frozenset({"message_not_found", "cant_update_message", "edit_window_closed"})
EVENT_TYPE = "lakewarden_notification"
HISTORY_PAGES = 3
HISTORY_PAGE = 100
HISTORY_LOOKBACK = timedelta(minutes=1)  # before the first attempt: clock skew between us and Slack
_CHANNEL_ID = re.compile(r"^[CGD][A-Z0-9]{2,}$")  # names are lowercase


class SlackChannel:
    def __init__(self, config: SlackConfig, *, receiver: str, index: int, refs: MessageRefs | None = None,
                 clock: Clock = utc_now) -> None:
        self._config = config
        self._receiver = receiver
        self._index = index
        self._refs = refs
        self._clock = clock
        timeout = max(1, round(config.timeout.total_seconds()))
        if config.bot_token is not None:
            self._web: WebClient | None = WebClient(token=config.bot_token.get_secret_value(),
                                                     base_url=config.api_base_url, timeout=timeout, retry_handlers=[])
            self._hook: WebhookClient | None = None
            self.origin = origin_of(config.api_base_url)
        else:
            assert config.api_url is not None  # noqa: S101 - the config requires one of the two
            self._web = None
            self._hook = WebhookClient(config.api_url.get_secret_value(), timeout=timeout, retry_handlers=[])
            self.origin = origin_of(config.api_url.get_secret_value())

    def __repr__(self) -> str:
        return f"SlackChannel({'web api' if self._web else 'webhook'} {self.origin})"

    def send(self, payload: Mapping[str, Any]) -> Result:
        return self.send_attempt(payload, Attempt(""))

    def send_attempt(self, payload: Mapping[str, Any], attempt: Attempt) -> Result:
        ctx = context(payload)
        try:
            title, text = render_title_and_text(self._config, ctx)
        except TemplateFailed as exc:
            return Permanent(str(exc))
        message = {"text": blocks.cut(f"{title}\n{text}", blocks.MAX_FALLBACK_TEXT),
                   "blocks": blocks.message(title, text, ctx)}
        if self._hook is not None:
            return self._send_webhook(message)  # no message ids: a resend posts again (at least once)
        return self._send_web(message, payload, attempt)

    # --- incoming webhook -------------------------------------------------------------------------

    def _send_webhook(self, message: Mapping[str, Any]) -> Result:
        assert self._hook is not None  # noqa: S101
        try:
            response = self._hook.send_dict(dict(message))
        except (urllib.error.URLError, TimeoutError, OSError, SlackClientError) as exc:
            reason = exc.reason if isinstance(exc, urllib.error.URLError) else exc
            return Retryable(f"cannot reach Slack at {self.origin}: {describe(reason)}")
        status, body = response.status_code, (response.body or "").strip()
        if status == 200 and body == "ok":
            return Delivered(f"HTTP 200 ok from {self.origin}")
        headers = {k: (v[0] if isinstance(v, list) else v) for k, v in (response.headers or {}).items()}
        return self._classify(status, body[:100], headers)

    # --- Web API ----------------------------------------------------------------------------------

    def _send_web(self, message: Mapping[str, Any], payload: Mapping[str, Any], attempt: Attempt) -> Result:
        key = ref_key(str(payload.get("groupId") or payload.get("groupKey", "")), self._receiver, "slack", self._index)
        message = {**message, "metadata": {"event_type": EVENT_TYPE, "event_payload": {
            "notification_id": attempt.notification_id, "group": key}}}
        ref = self._refs.get(key) if self._refs is not None else None
        firing = payload.get("status") == "firing"
        keep = firing and payload.get("kind") != "test"
        note, adopted = "", False
        try:
            if attempt.resend_since is not None:
                found, note = self._find(key, attempt)
                if found is not None and found[1] == attempt.notification_id:
                    self._remember(key, found[0] if keep else None)
                    return Delivered(f"an earlier attempt posted it: adopted {found[0].channel} ts={found[0].ts}, "
                                     "not posted again")
                if found is not None:  # posted for a notification of the group this one superseded
                    ref, adopted = found[0], True
            if ref is None:
                posted = self._post(channel=self._config.channel, **message)
                if keep:
                    self._remember(key, MessageRef(str(posted["channel"]), str(posted["ts"])))
                return Delivered(f"posted to {posted['channel']} ts={posted['ts']}{note}")
            if self._config.thread_replies:
                self._post(channel=ref.channel, thread_ts=ref.ts, **message)
            if firing and not self._config.thread_replies and not adopted:
                posted = self._post(channel=ref.channel, **message)
                self._remember(key, MessageRef(str(posted["channel"]), str(posted["ts"])))
                return Delivered(f"posted to {posted['channel']} ts={posted['ts']}{note}")
            if firing or self._config.update_on_resolve:
                updated, now_at = self._update(ref, message)
                self._remember(key, now_at if keep else None)
                return updated
            self._remember(key, None)
            posted = self._post(channel=ref.channel, **message)
            return Delivered(f"posted to {posted['channel']} ts={posted['ts']}{note}")
        except _Failed as failed:
            return failed.result

    def _remember(self, key: str, ref: MessageRef | None) -> None:
        if self._refs is None:
            return
        if ref is None:
            self._refs.forget(key)
        else:
            self._refs.put(key, ref)

    def _post(self, **kwargs: Any) -> Mapping[str, Any]:
        posted = self._call("chat_postMessage", **kwargs)
        self._learn_channel_id(str(posted["channel"]))
        return posted

    # --- finding what an earlier attempt posted ----------------------------------------------------

    def _channel_key(self) -> str:
        return ref_key("channel-id", self._receiver, "slack", self._index)

    def _channel_id(self) -> str | None:
        configured = (self._config.channel or "").strip()
        if _CHANNEL_ID.match(configured):
            return configured
        learned = self._refs.get(self._channel_key()) if self._refs is not None else None
        return learned.channel if learned is not None else None

    def _learn_channel_id(self, channel: str) -> None:
        if self._refs is not None and channel and self._channel_id() != channel:
            self._refs.put(self._channel_key(), MessageRef(channel, ""))

    def _find(self, key: str, attempt: Attempt) -> tuple[tuple[MessageRef, str] | None, str]:
        """The newest message of the group posted since a minute before ``attempt.resend_since``, with
        the notification id it carries, and a note for the result when the history could not be read."""
        assert attempt.resend_since is not None  # noqa: S101
        channel = self._channel_id()
        if channel is None:
            return None, " (could not check for an earlier post: the channel id is not known yet)"
        oldest = f"{(attempt.resend_since - HISTORY_LOOKBACK).timestamp():.6f}"
        cursor: str | None = None
        for _ in range(HISTORY_PAGES):
            try:
                data = self._call("conversations_history", check=False, channel=channel, oldest=oldest,
                                  limit=HISTORY_PAGE, include_all_metadata=True, cursor=cursor)
            except _Failed as failed:
                if isinstance(failed.result, Retryable):
                    raise
                return None, f" (could not check for an earlier post: {failed.error or failed.result})"
            for item in data.get("messages") or []:
                meta = item.get("metadata") or {}
                body = meta.get("event_payload") or {}
                if meta.get("event_type") == EVENT_TYPE and body.get("group") == key and item.get("ts"):
                    return (MessageRef(channel, str(item["ts"])), str(body.get("notification_id", ""))), ""
            cursor = str((data.get("response_metadata") or {}).get("next_cursor") or "") or None
            if not data.get("has_more") or cursor is None:
                return None, ""
        return None, f" (checked the last {HISTORY_PAGES * HISTORY_PAGE} messages only)"

    def _update(self, ref: MessageRef, message: Mapping[str, Any]) -> tuple[Result, MessageRef]:
        """Rewrite the message at ``ref``; post anew when it is gone. Returns where the message is now."""
        try:
            self._call("chat_update", channel=ref.channel, ts=ref.ts, **message)
            return Delivered(f"updated {ref.channel} ts={ref.ts}"), ref
        except _Failed as failed:
            if failed.error not in _STALE_MESSAGE:
                raise
        posted = self._post(channel=ref.channel, **message)  # the old message is gone
        return (Delivered(f"posted to {posted['channel']} ts={posted['ts']} (the old message could not be updated)"),
                MessageRef(str(posted["channel"]), str(posted["ts"])))

    def _call(self, method: str, check: bool = True, **kwargs: Any) -> Mapping[str, Any]:
        assert self._web is not None  # noqa: S101
        try:
            response = getattr(self._web, method)(**kwargs)
        except SlackApiError as exc:
            answer = exc.response
            data = answer.data if isinstance(answer.data, dict) else {}
            error = str(data.get("error") or "")
            headers = {k: (v[0] if isinstance(v, list) else v) for k, v in (answer.headers or {}).items()}
            raise _Failed(self._classify(answer.status_code, error, headers), error) from None
        except (urllib.error.URLError, TimeoutError, OSError, SlackClientError) as exc:
            reason = exc.reason if isinstance(exc, urllib.error.URLError) else exc
            raise _Failed(Retryable(f"cannot reach Slack at {self.origin}: {describe(reason)}")) from None
        except json.JSONDecodeError:
            raise _Failed(Retryable(f"Slack at {self.origin} answered with a body that is not JSON")) from None
        data = response.data if isinstance(response.data, dict) else {}
        if not data.get("ok") or (check and ("ts" not in data or "channel" not in data)):
            raise _Failed(Permanent(f"Slack {method} answered without ok, channel and ts: not the contract"))
        return data

    def _classify(self, status: int, error: str, headers: Mapping[str, str]) -> Result:
        what = f"Slack at {self.origin} answered HTTP {status}" + (f" {error}" if error else "")
        if status == 429 or error in ("ratelimited", "rate_limited"):
            return Retryable(what, parse_retry_after(header(headers, "Retry-After"), self._clock()))
        if status >= 500 or error in _RETRYABLE_ERRORS:
            return Retryable(what, parse_retry_after(header(headers, "Retry-After"), self._clock()))
        return Permanent(what)


class _Failed(Exception):
    def __init__(self, result: Result, error: str = "") -> None:
        super().__init__(error)
        self.result = result
        self.error = error
