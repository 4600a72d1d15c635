"""``mail_send`` (Kestra's MailSend) in real flow runs against real SMTP servers on 127.0.0.1.

The servers (aiosmtpd) speak STARTTLS or implicit TLS with a certificate from a
CA the test makes, require a login, and parse what they receive: the tests read
the delivered message, not what the task meant to send.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.plugins.email.conftest import PASSWORD, TOKEN, USER, Mailbox
from tests.plugins.flow_runs import free_port, logs_of, run_flow

# The SMTPS server requires a login without STARTTLS: aiosmtpd cannot tell that its socket is already TLS.
pytestmark = pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")


def test_starttls_login_html_plain_attachment_and_inline_image(mail_runner: Any, smtp_servers: Mailbox, trust_test_ca: None) -> None:
    source = f"""
id: report_mail
namespace: tests.mail
inputs:
  - {{id: port, type: INT}}
tasks:
  - id: report
    type: shell
    commands:
      - printf 'region,total\\nnorth,1250\\nsouth,980\\n' > sales.csv
      - printf '\\211PNG-not-really' > logo.png
    outputFiles: [sales.csv, logo.png]
  - id: mail
    type: io.kestra.plugin.email.MailSend
    host: 127.0.0.1
    port: "{{{{ inputs.port }}}}"
    transportStrategy: SMTP_TLS
    username: {USER}
    password: "{{{{ secret('SMTP_PASSWORD') }}}}"
    from: "Reports <{USER}>"
    to: "ceo@example.com; cfo@example.com"
    cc: sales@example.com
    subject: "Nightly sales for {{{{ flow.id }}}}"
    htmlTextContent: "<h1>Sales</h1><p>Total: 2230</p><img src=\\"cid:logo.png\\">"
    plainTextContent: "Sales total: 2230"
    attachments:
      - uri: "{{{{ outputs.report.outputFiles['sales.csv'] }}}}"
        name: sales.csv
        contentType: text/csv
    embeddedImages:
      - {{uri: "{{{{ outputs.report.outputFiles['logo.png'] }}}}", name: logo.png, contentType: image/png}}
"""
    summary = run_flow(mail_runner, source, {"port": smtp_servers.starttls_port})
    assert summary["state"] == "SUCCESS", logs_of(mail_runner, summary)
    (got,) = smtp_servers.by_subject("Nightly sales for report_mail")
    assert got.login == USER
    assert got.mail_from == USER
    assert sorted(got.rcpt_tos) == ["ceo@example.com", "cfo@example.com", "sales@example.com"]
    msg = got.message
    assert msg["From"] == f"Reports <{USER}>" and msg["Cc"] == "sales@example.com"
    assert msg.get_body(("plain",)).get_content().strip() == "Sales total: 2230"
    assert "<h1>Sales</h1>" in msg.get_body(("html",)).get_content()
    (attachment,) = list(msg.iter_attachments())
    assert attachment.get_filename() == "sales.csv" and attachment.get_content_type() == "text/csv"
    assert attachment.get_content() == "region,total\nnorth,1250\nsouth,980\n"
    related = next(p for p in msg.walk() if p.get_content_type() == "multipart/related")
    image = next(p for p in related.iter_parts() if p.get_content_type() == "image/png")
    assert image["Content-ID"] == "<logo.png>" and image.get_content() == b"\x89PNG-not-really"
    assert PASSWORD not in logs_of(mail_runner, summary)


def test_smtps_is_the_default_and_verifies_the_certificate(mail_runner: Any, smtp_servers: Mailbox, trust_test_ca: None) -> None:
    source = f"""
id: smtps
namespace: tests.mail
tasks:
  - id: mail
    type: io.kestra.plugin.notifications.mail.MailSend
    host: 127.0.0.1
    port: {smtp_servers.smtps_port}
    username: {USER}
    password: "{{{{ secret('SMTP_PASSWORD') }}}}"
    from: {USER}
    to: ops@example.com
    subject: over smtps
    htmlTextContent: "<b>hi</b>"
"""
    summary = run_flow(mail_runner, source)
    assert summary["state"] == "SUCCESS", logs_of(mail_runner, summary)
    (got,) = smtp_servers.by_subject("over smtps")
    # Kestra's plain-text alternative when only HTML is given
    assert got.message.get_body(("plain",)).get_content().strip() == "Please view this email in a modern email client"


def test_an_untrusted_certificate_is_refused_unless_the_host_is_trusted(mail_runner: Any, smtp_servers: Mailbox) -> None:
    base = f"""
namespace: tests.mail
tasks:
  - id: mail
    type: mail_send
    host: 127.0.0.1
    port: {smtp_servers.smtps_port}
    username: {USER}
    password: {PASSWORD}
    from: {USER}
    to: ops@example.com
    plainTextContent: hi
"""
    refused = run_flow(mail_runner, "id: untrusted\n" + base + "    subject: untrusted\n")
    assert refused["state"] == "FAILED"
    assert (f"The TLS certificate of the SMTP server 127.0.0.1:{smtp_servers.smtps_port} could not be verified"
            in logs_of(mail_runner, refused))
    assert smtp_servers.by_subject("untrusted") == []
    trusted = run_flow(mail_runner, "id: trusted\n" + base + "    subject: trusted\n    trustedHosts: [127.0.0.1]\n")
    assert trusted["state"] == "SUCCESS", logs_of(mail_runner, trusted)
    assert len(smtp_servers.by_subject("trusted")) == 1


def test_a_wrong_password_fails_with_one_masked_sentence_and_is_retried(mail_runner: Any, smtp_servers: Mailbox,
                                                                        trust_test_ca: None) -> None:
    wrong = "Wr0ng-Pa55word-42"
    source = f"""
id: wrong_password
namespace: tests.mail
tasks:
  - id: mail
    type: mail_send
    host: 127.0.0.1
    port: {smtp_servers.starttls_port}
    transportStrategy: SMTP_TLS
    username: {USER}
    password: {wrong}
    from: {USER}
    to: ops@example.com
    subject: never delivered
    plainTextContent: hi
    retry: {{type: constant, maxAttempts: 3, interval: PT0.05S}}
"""
    summary = run_flow(mail_runner, source)
    (run,) = summary["taskRuns"]
    assert run["state"] == "FAILED" and len(run["attempts"]) == 3
    logs = logs_of(mail_runner, summary)
    assert (f"The SMTP server 127.0.0.1:{smtp_servers.starttls_port} refused the login of '{USER}' "
            "(535 5.7.8 Authentication credentials invalid): check username and password") in logs
    assert wrong not in logs and wrong not in str(summary)
    assert smtp_servers.by_subject("never delivered") == []


def test_an_unreachable_server_fails_each_attempt_with_one_sentence(mail_runner: Any) -> None:
    port = free_port()
    source = f"""
id: unreachable
namespace: tests.mail
tasks:
  - id: mail
    type: mail_send
    host: 127.0.0.1
    port: {port}
    transportStrategy: SMTP
    from: a@example.com
    to: b@example.com
    plainTextContent: hi
    retry: {{type: constant, maxAttempts: 2, interval: PT0.05S}}
"""
    summary = run_flow(mail_runner, source)
    (run,) = summary["taskRuns"]
    assert run["state"] == "FAILED" and len(run["attempts"]) == 2
    assert f"Could not connect to the SMTP server 127.0.0.1:{port}: Connection refused" in logs_of(mail_runner, summary)


def test_oauth2_logs_in_with_xoauth2_and_masks_the_token(mail_runner: Any, smtp_servers: Mailbox, trust_test_ca: None) -> None:
    source = f"""
id: oauth
namespace: tests.mail
tasks:
  - id: mail
    type: mail_send
    host: localhost
    port: {smtp_servers.starttls_port}
    transportStrategy: SMTP_OAUTH2
    username: {USER}
    accessToken: {TOKEN}
    from: {USER}
    to: [ops@example.com]
    subject: via oauth
    plainTextContent: "token {TOKEN} must not show"
"""
    summary = run_flow(mail_runner, source)
    assert summary["state"] == "SUCCESS", logs_of(mail_runner, summary)
    (got,) = smtp_servers.by_subject("via oauth")
    assert got.login == f"xoauth2:{USER}"
    assert TOKEN not in logs_of(mail_runner, summary)


@pytest.mark.parametrize(
    ("prop", "message"),
    [
        ("to: 'not an address'", "to: 'not an address' is not an email address"),
        ("port: '{{ \"smtp\" }}'", "port: 'smtp' is not valid"),
        ("attachments: [{uri: 'lanner:///tests.mail/other/executions/x/a.csv', name: a.csv}]", "attachment 'a.csv': cannot read"),
    ],
)
def test_bad_properties_fail_with_a_sentence_naming_the_field(mail_runner: Any, prop: str, message: str) -> None:
    base = {"to": "b@example.com", "port": "2525"}
    key = prop.split(":", 1)[0]
    lines = [f"    {k}: {v}" for k, v in base.items() if k != key] + [f"    {prop}"]
    source = "id: bad\nnamespace: tests.mail\ntasks:\n  - id: mail\n    type: mail_send\n    host: 127.0.0.1\n    from: a@example.com\n" + "\n".join(lines) + "\n"
    summary = run_flow(mail_runner, source)
    assert summary["state"] == "FAILED"
    assert message in logs_of(mail_runner, summary)
