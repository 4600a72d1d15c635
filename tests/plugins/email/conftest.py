"""Real SMTP servers on 127.0.0.1 (aiosmtpd) with a certificate authority made by the test (trustme).

``smtp_servers`` starts, once per module, a STARTTLS server (port for SMTP and
SMTP_TLS) and an implicit-TLS server (SMTPS). Both require a login after TLS
(PLAIN/LOGIN with USER/PASSWORD, or XOAUTH2 with TOKEN) and keep every message
they receive, parsed.
"""

from __future__ import annotations

import base64
import ssl
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from pathlib import Path
from typing import Any

import pytest

from tests.plugins.flow_runs import free_port, runner_with_secrets

USER, PASSWORD, TOKEN = "reports@example.com", "Sm7p-Pa55word!", "ya29.oauth-access-token-value"


@dataclass
class Received:
    mail_from: str
    rcpt_tos: list[str]
    login: str | None
    message: EmailMessage


@dataclass
class Mailbox:
    starttls_port: int
    smtps_port: int
    ca_file: Path
    received: list[Received] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def by_subject(self, subject: str) -> list[Received]:
        with self.lock:
            return [r for r in self.received if r.message["Subject"] == subject]


class Handler:
    def __init__(self, box: Mailbox):
        self.box = box

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802 - aiosmtpd's naming
        msg = BytesParser(policy=policy.default).parsebytes(envelope.original_content or envelope.content)
        login = session.auth_data.login.decode() if getattr(session.auth_data, "login", None) else session.auth_data
        with self.box.lock:
            self.box.received.append(Received(envelope.mail_from, list(envelope.rcpt_tos), login, msg))
        return "250 Message accepted"

    async def auth_XOAUTH2(self, server: Any, args: list[str]) -> Any:  # noqa: N802 - aiosmtpd's naming
        from aiosmtpd.smtp import AuthResult

        expected = base64.b64encode(f"user={USER}\x01auth=Bearer {TOKEN}\x01\x01".encode()).decode()
        ok = len(args) > 1 and args[1] == expected
        return AuthResult(success=ok, handled=False, auth_data=f"xoauth2:{USER}" if ok else None)


def _authenticate(server: Any, session: Any, envelope: Any, mechanism: str, auth_data: Any) -> Any:
    from aiosmtpd.smtp import AuthResult

    ok = auth_data.login == USER.encode() and auth_data.password == PASSWORD.encode()
    return AuthResult(success=ok, handled=False, auth_data=auth_data if ok else None)


@pytest.fixture(scope="module")
def smtp_servers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Mailbox]:
    import trustme
    from aiosmtpd.controller import Controller

    ca = trustme.CA()
    cert = ca.issue_cert("127.0.0.1", "localhost")
    server_ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    cert.configure_cert(server_ctx)
    ca_file = tmp_path_factory.mktemp("smtp-ca") / "ca.pem"
    ca.cert_pem.write_to_path(str(ca_file))
    box = Mailbox(free_port(), free_port(), ca_file)
    common: dict[str, Any] = {"authenticator": _authenticate, "auth_required": True, "hostname": "127.0.0.1"}
    starttls = Controller(Handler(box), port=box.starttls_port, tls_context=server_ctx, **common)
    smtps = Controller(Handler(box), port=box.smtps_port, ssl_context=server_ctx, auth_require_tls=False, **common)
    starttls.start()
    smtps.start()
    yield box
    starttls.stop()
    smtps.stop()


@pytest.fixture
def trust_test_ca(smtp_servers: Mailbox, monkeypatch: pytest.MonkeyPatch) -> None:
    """Python's default TLS context trusts the test's CA (as a user points SSL_CERT_FILE at a company CA)."""
    monkeypatch.setenv("SSL_CERT_FILE", str(smtp_servers.ca_file))


@pytest.fixture
def mail_runner(tmp_path: Path) -> Iterator[Any]:
    runner = runner_with_secrets(tmp_path / "home", SMTP_PASSWORD=PASSWORD)
    yield runner
    runner.close()
