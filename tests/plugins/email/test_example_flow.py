"""flows/sales_report_email.yaml runs green with `lanner flow run`, delivering to the local SMTP server."""

from __future__ import annotations

import pytest

from tests.plugins.email.conftest import PASSWORD, Mailbox
from tests.plugins.flow_runs import b64, run_example

pytestmark = pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")


def test_sales_report_email_example(lanner_cmd: list[str], cli_env: dict[str, str], smtp_servers: Mailbox) -> None:
    env = {**cli_env, "SECRET_SMTP_PASSWORD": b64(PASSWORD), "SSL_CERT_FILE": str(smtp_servers.ca_file)}
    summary, stderr = run_example(lanner_cmd, env, "sales_report_email", "smtp_host=127.0.0.1",
                                  f"smtp_port={smtp_servers.starttls_port}", "recipients=cfo@example.com")
    assert summary["state"] == "SUCCESS"
    got = [r for r in smtp_servers.received if (r.message["Subject"] or "").startswith("Nightly sales report (")]
    assert len(got) == 1 and got[0].rcpt_tos == ["cfo@example.com"]
    (attachment,) = list(got[0].message.iter_attachments())
    assert attachment.get_filename() == "sales.csv" and "north,1250" in attachment.get_content()
    assert PASSWORD not in stderr
