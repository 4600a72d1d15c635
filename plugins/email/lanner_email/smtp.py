"""Talking to the SMTP server: Kestra's transport strategies, TLS trust, login, and one-sentence errors.

* ``SMTPS`` (Kestra's default): TLS from the first byte, port 465 by default.
* ``SMTP_TLS``: plain connection upgraded with STARTTLS, which the server must offer; port 587.
* ``SMTP``: plain connection, upgraded with STARTTLS when the server offers it; port 25.
* ``SMTP_OAUTH2``: like ``SMTP_TLS``, logging in with ``AUTH XOAUTH2`` and an access token.

Certificates are verified (chain and host name) against the system's CAs, or
``SSL_CERT_FILE``'s; ``trustedHosts`` lists servers whose certificate is
accepted without verification (self-signed internal relays), and
``verifyServerIdentity: false`` turns verification off for every server.
"""

from __future__ import annotations

import smtplib
import socket
import ssl
from dataclasses import dataclass, field
from email.message import EmailMessage
from typing import Literal

from engine.sdk import TaskFailed

Strategy = Literal["SMTP", "SMTPS", "SMTP_TLS", "SMTP_OAUTH2"]
DEFAULT_PORTS: dict[str, int] = {"SMTP": 25, "SMTPS": 465, "SMTP_TLS": 587, "SMTP_OAUTH2": 587}


@dataclass
class SmtpSettings:
    host: str
    port: int
    strategy: Strategy
    timeout: float
    username: str | None = None
    credential: str | None = None  # password, or the OAuth2 access token
    verify: bool = True
    trusted_hosts: list[str] = field(default_factory=list)

    @property
    def where(self) -> str:
        return f"{self.host}:{self.port}"

    def tls_context(self) -> ssl.SSLContext:
        context = ssl.create_default_context()
        if not self.verify or self.host.lower() in {h.strip().lower() for h in self.trusted_hosts}:
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE
        return context


def send(settings: SmtpSettings, message: EmailMessage, recipients: list[str]) -> dict[str, tuple[int, bytes]]:
    """Deliver ``message`` to ``recipients``; the recipients the server refused (when others were accepted)."""
    try:
        with _connect(settings) as smtp:
            _secure(smtp, settings)
            _login(smtp, settings)
            return smtp.send_message(message, to_addrs=recipients)
    except TaskFailed:
        raise
    except smtplib.SMTPAuthenticationError as exc:
        raise TaskFailed(f"The SMTP server {settings.where} refused the login of {settings.username!r} "
                         f"({exc.smtp_code} {_text(exc.smtp_error)}): check username and password") from None
    except smtplib.SMTPRecipientsRefused as exc:
        refused = ", ".join(f"{addr} ({code} {_text(text)})" for addr, (code, text) in exc.recipients.items())
        raise TaskFailed(f"The SMTP server {settings.where} refused every recipient: {refused}") from None
    except smtplib.SMTPSenderRefused as exc:
        raise TaskFailed(f"The SMTP server {settings.where} refused the sender {exc.sender!r} ({exc.smtp_code} {_text(exc.smtp_error)})") from None
    except ssl.SSLCertVerificationError as exc:
        raise TaskFailed(f"The TLS certificate of the SMTP server {settings.where} could not be verified ({exc.verify_message}): "
                         "trust its CA (SSL_CERT_FILE), list the host in trustedHosts or set verifyServerIdentity: false") from None
    except ssl.SSLError as exc:
        raise TaskFailed(f"TLS with the SMTP server {settings.where} failed ({exc.reason or exc}): "
                         f"check transportStrategy ({settings.strategy}) and the port") from None
    except smtplib.SMTPServerDisconnected as exc:
        raise TaskFailed(f"The SMTP server {settings.where} closed the connection ({exc or 'no answer'}): "
                         f"check transportStrategy ({settings.strategy}) and the port") from None
    except smtplib.SMTPException as exc:
        raise TaskFailed(f"Sending the email through {settings.where} failed: {_text(exc)}") from None
    except TimeoutError:
        raise TaskFailed(f"The SMTP server {settings.where} did not answer within {settings.timeout:g}s (sessionTimeout)") from None
    except socket.gaierror as exc:
        raise TaskFailed(f"Could not resolve the SMTP host {settings.host!r}: {exc.strerror or exc}") from None
    except OSError as exc:
        raise TaskFailed(f"Could not connect to the SMTP server {settings.where}: {exc.strerror or exc}") from None


def _connect(settings: SmtpSettings) -> smtplib.SMTP:
    if settings.strategy == "SMTPS":
        return smtplib.SMTP_SSL(settings.host, settings.port, timeout=settings.timeout, context=settings.tls_context())
    return smtplib.SMTP(settings.host, settings.port, timeout=settings.timeout)


def _secure(smtp: smtplib.SMTP, settings: SmtpSettings) -> None:
    if settings.strategy == "SMTPS":
        return
    smtp.ehlo()
    if smtp.has_extn("starttls"):
        smtp.starttls(context=settings.tls_context())
        smtp.ehlo()
    elif settings.strategy != "SMTP":
        raise TaskFailed(f"The SMTP server {settings.where} does not offer STARTTLS, which transportStrategy {settings.strategy} "
                         "requires: use SMTPS (implicit TLS, port 465) or SMTP")


def _login(smtp: smtplib.SMTP, settings: SmtpSettings) -> None:
    if not settings.username and not settings.credential:
        return
    smtp.ehlo_or_helo_if_needed()
    if settings.strategy == "SMTP_OAUTH2":
        token = f"user={settings.username or ''}\x01auth=Bearer {settings.credential or ''}\x01\x01"
        smtp.auth("XOAUTH2", lambda challenge=None: token if challenge is None else "", initial_response_ok=True)
        return
    if not smtp.has_extn("auth"):
        hint = "use transportStrategy SMTPS or SMTP_TLS" if settings.strategy == "SMTP" else "leave username and password out"
        raise TaskFailed(f"The SMTP server {settings.where} offers no login (AUTH) on this connection: {hint}")
    smtp.login(settings.username or "", settings.credential or "")


def _text(value: object) -> str:
    if isinstance(value, bytes):
        value = value.decode("utf-8", errors="replace")
    return " ".join(str(value).split())

