"""Slack: an incoming webhook, or the Web API (``chat.postMessage``, ``chat.update``) with a bot token.

Through ``slack_sdk`` with its retry handlers off: the outbox owns retry timing. HTTP 429 is
retryable after ``Retry-After`` (webhook and Web API alike), 5xx and network errors are retryable,
other answers are permanent with Slack's error code. Web API errors come as HTTP 200 with
``{"ok": false, "error": ...}``: the body is checked. On resolve, the stored message of the group is
rewritten in place (``chat.update``); with ``thread_replies`` each later notification is also
posted in its thread.
"""

from __future__ import annotations

import json
import urllib.error
from collections.abc import Mapping
from typing import Any

from slack_sdk import WebClient, WebhookClient
from slack_sdk.errors import SlackApiError, SlackClientError

from alerts.channels import blocks
from alerts.channels.base import Delivered, Permanent, Result, Retryable
from alerts.channels.http import describe, header, origin_of, parse_retry_after
from alerts.channels.refs import MessageRef, MessageRefs, ref_key
from alerts.templating import TemplateFailed, context, render_title_and_text
from config.basics.clock import Clock, utc_now
from config.slack import SlackConfig

_RETRYABLE_ERRORS = frozenset({"ratelimited", "rate_limited", "internal_error", "fatal_error", "service_unavailable",
                               "request_timeout", "team_added_to_org"})
_STALE_MESSAGE = frozenset({"message_not_found", "cant_update_message", "edit_window_closed"})


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
        ctx = context(payload)
        try:
            title, text = render_title_and_text(self._config, ctx)
        except TemplateFailed as exc:
            return Permanent(str(exc))
        message = {"text": blocks.cut(f"{title}\n{text}", blocks.MAX_FALLBACK_TEXT),
                   "blocks": blocks.message(title, text, ctx)}
        if self._hook is not None:
            return self._send_webhook(message)
        return self._send_web(message, payload)

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

    def _send_web(self, message: Mapping[str, Any], payload: Mapping[str, Any]) -> Result:
        key = ref_key(str(payload.get("groupId") or payload.get("groupKey", "")), self._receiver, "slack", self._index)
        ref = self._refs.get(key) if self._refs is not None else None
        firing = payload.get("status") == "firing"
        try:
            if ref is None:
                posted = self._call("chat_postMessage", channel=self._config.channel, **message)
                if firing and self._refs is not None and payload.get("kind") != "test":
                    self._refs.put(key, MessageRef(str(posted["channel"]), str(posted["ts"])))
                return Delivered(f"posted to {posted['channel']} ts={posted['ts']}")
            if self._config.thread_replies:
                self._call("chat_postMessage", channel=ref.channel, thread_ts=ref.ts, **message)
            if firing and not self._config.thread_replies:
                posted = self._call("chat_postMessage", channel=ref.channel, **message)
                if self._refs is not None:
                    self._refs.put(key, MessageRef(str(posted["channel"]), str(posted["ts"])))
                return Delivered(f"posted to {posted['channel']} ts={posted['ts']}")
            if firing or self._config.update_on_resolve:
                updated = self._update(ref, message)
                if not firing and self._refs is not None:
                    self._refs.forget(key)
                return updated
            if self._refs is not None:
                self._refs.forget(key)
            posted = self._call("chat_postMessage", channel=ref.channel, **message)
            return Delivered(f"posted to {posted['channel']} ts={posted['ts']}")
        except _Failed as failed:
            return failed.result

    def _update(self, ref: MessageRef, message: Mapping[str, Any]) -> Result:
        try:
            self._call("chat_update", channel=ref.channel, ts=ref.ts, **message)
            return Delivered(f"updated {ref.channel} ts={ref.ts}")
        except _Failed as failed:
            if failed.error not in _STALE_MESSAGE:
                raise
        posted = self._call("chat_postMessage", channel=ref.channel, **message)  # the old message is gone
        return Delivered(f"posted to {posted['channel']} ts={posted['ts']} (the old message could not be updated)")

    def _call(self, method: str, **kwargs: Any) -> Mapping[str, Any]:
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
        if not data.get("ok") or "ts" not in data or "channel" not in data:
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
