"""No part of a credential is ever logged, whatever shape it arrives in.

The webhook ingress is called directly (``WebhookIngress.post``, no server) with Authorization headers
a confused client may send; ``structlog.testing.capture_logs`` sees the raw events, before any
redaction, so nothing may be in them. Free text that reaches the log pipeline (a library's message,
an exception) goes through the configured redactor, checked on the rendered lines.
"""

from __future__ import annotations

import base64
import io
import logging
from collections.abc import Iterator
from email.message import Message

import pytest
import structlog
from structlog.testing import capture_logs

from config.service import WebhookSettings
from monitor.logs import NOISY_LOGGERS, configure_logging
from monitor.webhooks import JOBS_PATH, WebhookIngress

USER = "databricks"
PASSWORD = "Hs5Gd8Kw2Qp9Xv3Nt6Rm"
TOKEN = "Zq8vT3xK9mW2rP7nL4bY6cJ1"
BASIC = base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()


def fragments(secret: str, size: int = 4) -> set[str]:
    return {secret[i:i + size] for i in range(len(secret) - size + 1)}


def leaked(text: str, *secrets: str) -> set[str]:
    return {part for secret in secrets for part in fragments(secret) if part in text}


def post(ingress: WebhookIngress, authorization: str | None) -> int:
    headers = Message()
    if authorization is not None:
        headers["Authorization"] = authorization
    headers["Content-Type"] = "application/json"
    headers["Content-Length"] = "2"
    return int(ingress.post(JOBS_PATH, headers, io.BytesIO(b"{}"), "127.0.0.1").status)


SHAPES = [
    TOKEN,                                   # the token alone, no scheme (the reported leak)
    f"{TOKEN[:8]} {TOKEN[8:]}",              # a token with a space in it: its head looks like a scheme
    f"Bearer{TOKEN}",                        # no space after the scheme
    f"bearer:{TOKEN}",
    f"Token {TOKEN}",                        # a known scheme we do not take
    f"Digest username={USER}, response={TOKEN}",
    f"Bearer {TOKEN}x",                      # a near miss
    f"Basic {base64.b64encode(f'{USER}:{PASSWORD}x'.encode()).decode()}",
    f"Basic {BASIC}x",                       # not base64 any more
    BASIC,                                   # basic credentials without the scheme
    f"{USER}:{PASSWORD}",                    # user:password in clear
    f"https://{USER}:{PASSWORD}@example.com/",
    PASSWORD,
]


@pytest.mark.parametrize("authorization", SHAPES)
def test_the_webhook_ingress_logs_no_fragment_of_a_credential(authorization: str) -> None:
    settings = WebhookSettings.model_validate({"username": USER, "password": PASSWORD, "token": TOKEN})
    ingress = WebhookIngress(settings, list, lambda command: None)
    with capture_logs() as logs:
        status = post(ingress, authorization)
    assert status == 401
    assert [e["event"] for e in logs] == ["webhook_unauthorized"]
    assert leaked(repr(logs), TOKEN, PASSWORD, BASIC) == set(), logs


def test_a_bare_token_is_told_apart_from_an_unknown_scheme() -> None:
    ingress = WebhookIngress(WebhookSettings.model_validate({"token": TOKEN}), list, lambda command: None)
    with capture_logs() as logs:
        post(ingress, TOKEN)
        post(ingress, f"{TOKEN[:8]} {TOKEN[8:]}")
        post(ingress, f"Digest {TOKEN}")
    assert [e["problem"] for e in logs] == [
        "no scheme (a bare credential?): send Authorization: Bearer <token> or Basic <base64>",
        "an unknown scheme (not shown: it may be part of a credential)",
        "scheme 'Digest' not accepted",
    ]


@pytest.fixture
def rendered() -> Iterator[io.StringIO]:
    root = logging.getLogger()
    saved = (root.level, list(root.handlers))
    libs = {name: (logging.getLogger(name).level, list(logging.getLogger(name).handlers)) for name in NOISY_LOGGERS}
    out = io.StringIO()
    configure_logging(fmt="json", stream=out)
    yield out
    root.handlers[:] = saved[1]
    root.setLevel(saved[0])
    for name, (level, handlers) in libs.items():
        logging.getLogger(name).handlers[:] = handlers
        logging.getLogger(name).setLevel(level)
    structlog.reset_defaults()


@pytest.mark.parametrize("text", [
    f"request failed: Authorization: Bearer {TOKEN}",
    f"sent header Basic {BASIC}",
    f"POST https://{USER}:{PASSWORD}@hooks.example/x failed",
    f"POST https://{USER}:{PASSWORD[:6]}@{PASSWORD[6:]}@hooks.example/x failed",   # an @ in the password
    f"POST https://{USER}:{PASSWORD[:6]}/{PASSWORD[6:]}@hooks.example/x failed",   # a / in the password
    f"POST https://{USER}:{PASSWORD[:6]}#{PASSWORD[6:]}@hooks.example/x failed",   # a # in the password
    f"GET https://hooks.example/x?token={TOKEN}&a=1",
])
def test_credentials_in_free_text_are_masked_whole(rendered: io.StringIO, text: str) -> None:
    structlog.get_logger("lw.test").warning("delivery_failed", error=text)
    logging.getLogger("urllib3").warning("library says %s", text)
    shown = rendered.getvalue()
    assert shown.count("delivery_failed") == 1 and "library says" in shown
    assert leaked(shown, TOKEN, PASSWORD, BASIC) == set(), shown


@pytest.mark.parametrize("text", ["wrong bearer token", "Basic auth needs both username and password",
                                  "https://hooks.example/path ok"])
def test_prose_about_credentials_is_left_readable(rendered: io.StringIO, text: str) -> None:
    structlog.get_logger("lw.test").info("note", detail=text)
    assert text in rendered.getvalue()
