"""Email over SMTP: STARTTLS or implicit TLS with a verifying SSL context, optional AUTH, and a
multipart message (text/plain and text/html alternatives) whose subject carries severity and model.

Classified: authentication failures, a server without STARTTLS, certificate failures and 5xx
replies are permanent; 4xx replies, timeouts and lost connections are retryable. The password never
appears in a reason.
"""

from __future__ import annotations

import smtplib
import ssl
from collections.abc import Mapping
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from typing import Any

from alerts.channels.base import Delivered, Permanent, Result, Retryable
from alerts.templating import TemplateFailed, context, render_text
from config.smtp import EmailConfig


class EmailChannel:
    def __init__(self, config: EmailConfig) -> None:
        self._config = config
        self.origin = f"smtp://{config.host}:{config.port}"

    def __repr__(self) -> str:
        return f"EmailChannel({self.origin}, tls={self._config.tls_mode})"

    def build(self, payload: Mapping[str, Any]) -> EmailMessage:
        """The message for ``payload``; raises :class:`TemplateFailed`."""
        cfg = self._config
        ctx = context(payload)
        message = EmailMessage()
        message["Subject"] = " ".join(render_text(cfg.subject, ctx, field="subject").split())[:250]
        message["From"] = cfg.from_
        message["To"] = ", ".join(cfg.to)
        message["Date"] = formatdate(localtime=False)
        message["Message-ID"] = make_msgid(domain=cfg.from_.rsplit("@", 1)[-1].rstrip(">"))
        for name, value in cfg.headers.items():
            message[name] = value
        message.set_content(render_text(cfg.text, ctx, field="text"))
        message.add_alternative(render_text(cfg.html, ctx, html=True, field="html"), subtype="html")
        return message

    def send(self, payload: Mapping[str, Any]) -> Result:
        try:
            message = self.build(payload)
        except TemplateFailed as exc:
            return Permanent(str(exc))
        try:
            refused = self._deliver(message)
        except smtplib.SMTPAuthenticationError as exc:
            return Permanent(f"{self.origin} refused the login of {self._config.auth_username!r} "
                             f"(SMTP {exc.smtp_code})")
        except smtplib.SMTPNotSupportedError:
            return Permanent(f"{self.origin} does not offer STARTTLS (or AUTH); lakewarden does not send "
                             "in the clear: use tls: implicit, or a server that supports STARTTLS")
        except smtplib.SMTPRecipientsRefused as exc:
            return _by_code(self.origin, "refused every recipient",
                            [code for code, _ in exc.recipients.values()])
        except smtplib.SMTPResponseException as exc:
            return _by_code(self.origin, f"answered {exc.smtp_code}", [exc.smtp_code])
        except ssl.SSLCertVerificationError as exc:
            return Permanent(f"the TLS certificate of {self.origin} could not be verified: {exc.verify_message}")
        except ssl.SSLError as exc:
            return Retryable(f"TLS with {self.origin} failed: {exc.reason or type(exc).__name__}")
        except TimeoutError:
            return self._no_answer()
        except smtplib.SMTPServerDisconnected as exc:
            return self._no_answer() if "timed out" in str(exc) else Retryable(f"{self.origin} closed the connection")
        except (smtplib.SMTPException, OSError) as exc:
            return Retryable(f"SMTP with {self.origin} failed: {type(exc).__name__}")
        if refused:
            return Delivered(f"accepted by {self.origin} except for {', '.join(sorted(refused))}")
        return Delivered(f"accepted by {self.origin} for {len(self._config.to)} recipient(s)")

    def _no_answer(self) -> Result:
        return Retryable(f"no answer from {self.origin} within {self._config.timeout.total_seconds():g}s")

    def _deliver(self, message: EmailMessage) -> dict[str, tuple[int, bytes]]:
        cfg = self._config
        timeout = cfg.timeout.total_seconds()
        context = ssl.create_default_context(cafile=str(cfg.ca_file) if cfg.ca_file else None)
        smtp: smtplib.SMTP
        if cfg.tls_mode == "implicit":
            smtp = smtplib.SMTP_SSL(cfg.host, cfg.port, local_hostname=cfg.hello, timeout=timeout, context=context)
        else:
            smtp = smtplib.SMTP(cfg.host, cfg.port, local_hostname=cfg.hello, timeout=timeout)
        with smtp:
            smtp.ehlo()
            if cfg.tls_mode == "starttls":
                if not smtp.has_extn("starttls"):
                    raise smtplib.SMTPNotSupportedError("STARTTLS")
                smtp.starttls(context=context)
                smtp.ehlo()
            if cfg.auth_username is not None and cfg.auth_password is not None:
                smtp.login(cfg.auth_username, cfg.auth_password.get_secret_value())
            return smtp.send_message(message)


def _by_code(origin: str, what: str, codes: list[int]) -> Result:
    if any(400 <= code < 500 for code in codes):
        return Retryable(f"{origin} {what} (SMTP {', '.join(map(str, codes))}); trying again later")
    return Permanent(f"{origin} {what} (SMTP {', '.join(map(str, codes))})")
