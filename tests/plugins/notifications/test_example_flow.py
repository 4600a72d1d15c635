"""flows/sales_announce_slack.yaml runs green with `lanner flow run`, posting to the local webhook receiver."""

from __future__ import annotations

from tests.plugins.flow_runs import b64, run_example
from tests.plugins.notifications.conftest import Receiver


def test_sales_announce_slack_example(lanner_cmd: list[str], cli_env: dict[str, str], receiver: Receiver) -> None:
    path = "/services/T0EXAMPLE/B0EXAMPLE/exampleWebhookToken"
    env = {**cli_env, "LANNER_HTTP_ALLOW": "127.0.0.1", "SECRET_SLACK_WEBHOOK": b64(receiver.url(path))}
    summary, stderr = run_example(lanner_cmd, env, "sales_announce_slack", "region=north")
    assert summary["state"] == "SUCCESS"
    (body,) = receiver.bodies(path)
    assert body["text"] == "Nightly sales (north): 1250 EUR"
    assert body["blocks"][0]["text"]["text"] == "*Nightly sales* for north: *1250 EUR*"
    assert "exampleWebhookToken" not in stderr and "exampleWebhookToken" not in str(summary)
