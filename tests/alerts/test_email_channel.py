"""The email channel against aiosmtpd on 127.0.0.1: STARTTLS, implicit TLS, AUTH, multipart, failures."""

from __future__ import annotations

import email
import socket
import ssl
from collections.abc import Iterator
from datetime import UTC, datetime
from email.message import Message
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

from alerts.channels.base import Delivered, Permanent, Retryable
from alerts.channels.smtp import EmailChannel
from alerts.model import Alert
from alerts.payload import build_payload
from config.smtp import EmailConfig
from tests.alerts.alert_servers import make_cert, server_context

pytestmark = [pytest.mark.integration,
              pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS:UserWarning")]

NOW = datetime(2025, 3, 1, 12, tzinfo=UTC)
PASSWORD = "SECRET-SMTP-PASSWORD"


class Inbox:
    def __init__(self) -> None:
        self.messages: list[Message] = []
        self.envelopes: list[tuple[str, list[str]]] = []
        self.reject_rcpt: str | None = None

    async def handle_RCPT(self, server: Any, session: Any, envelope: Any, address: str, options: Any) -> str:
        if self.reject_rcpt:
            return self.reject_rcpt
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.envelopes.append((envelope.mail_from, list(envelope.rcpt_tos)))
        self.messages.append(email.message_from_bytes(envelope.content))
        return "250 Message accepted for delivery"


def authenticator(server: Any, session: Any, envelope: Any, mechanism: str, data: Any) -> AuthResult:
    ok = isinstance(data, LoginPassword) and data.login == b"lakewarden" and data.password == PASSWORD.encode()
    return AuthResult(success=ok, handled=False)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="module")
def tls(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, ssl.SSLContext]:
    cert, key = make_cert(tmp_path_factory.mktemp("smtp-tls"), "smtp")
    return cert, server_context(cert, key)


@pytest.fixture
def starttls_server(tls: tuple[Path, ssl.SSLContext]) -> Iterator[tuple[Controller, Inbox]]:
    inbox = Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=free_port(), tls_context=tls[1],
                            require_starttls=True, authenticator=authenticator, auth_required=True)
    controller.start()
    yield controller, inbox
    controller.stop()


@pytest.fixture
def implicit_server(tls: tuple[Path, ssl.SSLContext]) -> Iterator[tuple[Controller, Inbox]]:
    inbox = Inbox()
    # aiosmtpd does not count implicit TLS as TLS for AUTH; the connection is TLS all the same.
    controller = Controller(inbox, hostname="127.0.0.1", port=free_port(), ssl_context=tls[1],
                            authenticator=authenticator, auth_required=True, auth_require_tls=False)
    controller.start()
    yield controller, inbox
    controller.stop()


def config(port: int, ca: Path | None, **extra: Any) -> EmailConfig:
    values: dict[str, Any] = {"to": "oncall@example.com, ml@example.com", "from": "lakewarden@example.com",
                              "smarthost": f"127.0.0.1:{port}", "auth_username": "lakewarden",
                              "auth_password": PASSWORD, "timeout": "3s", "tls": "starttls"}
    if ca is not None:
        values["ca_file"] = str(ca)
    values.update(extra)
    return EmailConfig.model_validate(values)


def payload(status: str = "firing", alertname: str = "ModelAtRisk") -> dict[str, Any]:
    labels = {"alertname": alertname, "model": "churn", "severity": "critical"} if alertname else {"model": "churn"}
    alert = Alert(labels,
                  {"summary": "prediction drift <b>on</b> churn", "risk": "91", "findings": "psi 0.4\njs 0.3",
                   "runbook_url": "https://wiki.example.com/churn"}, NOW,
                  NOW if status == "resolved" else None)
    return build_payload("mail", [alert], '{}:{model="churn"}', now=NOW, group_id="g1")


def test_starttls_with_auth_delivers_a_multipart_message(
    starttls_server: tuple[Controller, Inbox], tls: tuple[Path, ssl.SSLContext]
) -> None:
    controller, inbox = starttls_server
    result = EmailChannel(config(controller.port, tls[0])).send(payload())
    assert isinstance(result, Delivered), result
    (message,) = inbox.messages
    assert inbox.envelopes == [("lakewarden@example.com", ["oncall@example.com", "ml@example.com"])]
    assert message["Subject"] == "[FIRING:1] churn critical"
    assert message.get_content_type() == "multipart/alternative"
    text, html = (part.get_payload(decode=True).decode() for part in message.get_payload())  # type: ignore[union-attr]
    assert "Risk 91/100" in text and "- psi 0.4" in text and "https://wiki.example.com/churn" in text
    assert "prediction drift &lt;b&gt;on&lt;/b&gt; churn" in html  # HTML is escaped
    assert '<a href="https://wiki.example.com/churn">Runbook</a>' in html


def test_implicit_tls_delivers(implicit_server: tuple[Controller, Inbox], tls: tuple[Path, ssl.SSLContext]) -> None:
    controller, inbox = implicit_server
    result = EmailChannel(config(controller.port, tls[0], tls="implicit")).send(payload("resolved"))
    assert isinstance(result, Delivered), result
    assert inbox.messages[0]["Subject"] == "[RESOLVED] churn critical"


def test_wrong_password_is_permanent_and_never_shows_the_password(
    starttls_server: tuple[Controller, Inbox], tls: tuple[Path, ssl.SSLContext]
) -> None:
    controller, inbox = starttls_server
    result = EmailChannel(config(controller.port, tls[0], auth_password="wrong")).send(payload())
    assert isinstance(result, Permanent)
    assert "refused the login of 'lakewarden' (SMTP 535)" in result.reason
    assert inbox.messages == []
    assert PASSWORD not in repr(result) and "wrong" not in result.reason


def test_an_unverifiable_certificate_is_permanent(starttls_server: tuple[Controller, Inbox]) -> None:
    controller, _ = starttls_server
    result = EmailChannel(config(controller.port, None)).send(payload())  # the system CAs do not know it
    assert isinstance(result, Permanent)
    assert "could not be verified" in result.reason


def test_a_temporary_recipient_failure_is_retryable_and_a_permanent_one_is_not(
    starttls_server: tuple[Controller, Inbox], tls: tuple[Path, ssl.SSLContext]
) -> None:
    controller, inbox = starttls_server
    inbox.reject_rcpt = "450 mailbox busy"
    assert isinstance(EmailChannel(config(controller.port, tls[0])).send(payload()), Retryable)
    inbox.reject_rcpt = "550 no such user"
    result = EmailChannel(config(controller.port, tls[0])).send(payload())
    assert isinstance(result, Permanent) and "550" in result.reason


def test_a_closed_port_is_retryable() -> None:
    result = EmailChannel(config(free_port(), None)).send(payload())
    assert isinstance(result, Retryable)


def test_a_server_that_never_answers_times_out_as_retryable() -> None:
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(1)  # accepts the TCP connection, never sends the SMTP greeting
        cfg = config(listener.getsockname()[1], None, timeout="0.5s")
        result = EmailChannel(cfg).send(payload())
    assert isinstance(result, Retryable) and "no answer" in result.reason


def test_starttls_is_required_by_default_and_auth_without_tls_is_refused_at_load() -> None:
    assert config(587, None).tls_mode == "starttls"
    assert config(465, None, tls=None).tls_mode == "implicit"
    with pytest.raises(ValueError, match="never sent over an unencrypted connection"):
        config(25, None, tls="none")


def test_a_template_that_fails_to_render_is_permanent(
    starttls_server: tuple[Controller, Inbox], tls: tuple[Path, ssl.SSLContext]
) -> None:
    controller, inbox = starttls_server
    # Both load-time samples have an alertname; this alert has none.
    cfg = config(controller.port, tls[0], subject="{{ alerts[0].labels['alertname'] }}")
    result = EmailChannel(cfg).send(payload(alertname=""))
    assert isinstance(result, Permanent) and "the subject template failed to render" in result.reason
    assert inbox.messages == []
