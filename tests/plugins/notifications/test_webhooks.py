"""The notification plugin's tasks in real flow runs, posting to a webhook receiver on 127.0.0.1.

Every request goes through Lanner's HTTP client: the receiver is reachable only
because the tests put 127.0.0.1 on the guard's allow-list (``LANNER_HTTP_ALLOW``).
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.plugins.flow_runs import free_port, logs_of, run_flow
from tests.plugins.notifications.conftest import Receiver

SLACK_NAMES = [
    "slack_webhook",
    "io.kestra.plugin.slack.notifications.SlackIncomingWebhook",
    "io.kestra.plugin.slack.SlackIncomingWebhook",
    "io.kestra.plugin.notifications.slack.SlackIncomingWebhook",
]


def test_every_slack_name_posts_the_rendered_payload(notify_runner: Any, receiver: Receiver) -> None:
    tasks = "".join(
        f"""
  - id: s{i}
    type: {name}
    url: "{receiver.url('/slack/names')}"
    payload: |
      {{"text": "Hello from {{{{ flow.id }}}}", "team": {{{{ inputs.who | json }}}}, "n": {i}}}
"""
        for i, name in enumerate(SLACK_NAMES)
    )
    source = f"id: names\nnamespace: tests.notify\ninputs:\n  - {{id: who, type: STRING, defaults: \"l'équipe \\\"ventes\\\"\"}}\ntasks:{tasks}"
    summary = run_flow(notify_runner, source)
    assert summary["state"] == "SUCCESS", summary
    bodies = sorted(receiver.bodies("/slack/names"), key=lambda b: b["n"])
    assert [b["n"] for b in bodies] == [0, 1, 2, 3]
    assert bodies[0]["text"] == "Hello from names" and bodies[0]["team"] == "l'équipe \"ventes\""


def test_message_text_becomes_slack_mrkdwn_and_json_text_is_sent_as_is(notify_runner: Any, receiver: Receiver) -> None:
    source = f"""
id: text
namespace: tests.notify
tasks:
  - id: markdown
    type: io.kestra.plugin.slack.notifications.SlackIncomingWebhook
    url: "{receiver.url('/slack/text')}"
    messageText: "**Sales** are __up__, see [the report](https://example.com/r) for {{{{ flow.id }}}}"
  - id: json
    type: slack_webhook
    url: "{receiver.url('/slack/text')}"
    messageText: '{{"blocks": [{{"type": "divider"}}]}}'
"""
    summary = run_flow(notify_runner, source)
    assert summary["state"] == "SUCCESS", summary
    first, second = receiver.bodies("/slack/text")
    assert first == {"text": "*Sales* are _up_, see <https://example.com/r|the report> for text"}
    assert second == {"blocks": [{"type": "divider"}]}


@pytest.mark.parametrize(
    ("name", "path"),
    [
        ("teams_webhook", "/teams"),
        ("io.kestra.plugin.microsoft365.teams.TeamsIncomingWebhook", "/teams"),
        ("io.kestra.plugin.notifications.teams.TeamsIncomingWebhook", "/teams"),
        ("discord_webhook", "/discord"),
        ("io.kestra.plugin.discord.DiscordIncomingWebhook", "/discord"),
        ("io.kestra.plugin.notifications.discord.DiscordIncomingWebhook", "/discord"),
        ("google_chat_webhook", "/gchat"),
        ("io.kestra.plugin.googleworkspace.chat.GoogleChatIncomingWebhook", "/gchat"),
        ("io.kestra.plugin.notifications.google.GoogleChatIncomingWebhook", "/gchat"),
    ],
)
def test_teams_discord_and_google_chat_payloads(notify_runner: Any, receiver: Receiver, name: str, path: str) -> None:
    before = receiver.count(path)
    source = f"""
id: other
namespace: tests.notify
tasks:
  - id: post
    type: {name}
    url: "{receiver.url(path)}?key=abc&token=def"
    options:
      headers: {{X-Flow: "{{{{ flow.id }}}}"}}
    payload: '{{"text": "run {{{{ execution.id }}}}", "kind": "{name}"}}'
"""
    summary = run_flow(notify_runner, source)
    assert summary["state"] == "SUCCESS", summary
    assert receiver.count(path) == before + 1
    last = receiver.requests[-1]
    assert last["query"] == "key=abc&token=def"
    assert last["headers"]["Content-Type"] == "application/json" and last["headers"]["X-Flow"] == "other"
    assert receiver.bodies(path)[-1] == {"text": f"run {summary['id']}", "kind": name}


def test_execution_summaries_report_another_execution_with_a_link(notify_runner: Any, receiver: Receiver) -> None:
    failed = run_flow(notify_runner, """
id: nightly_sales
namespace: tests.notify.prod
tasks:
  - {id: extract, type: log, message: extracting}
  - {id: load, type: fail, message: the warehouse is down}
""")
    assert failed["state"] == "FAILED"
    base = receiver.url("/summary")
    source = f"""
id: alert
namespace: tests.notify
inputs:
  - {{id: failed, type: STRING}}
tasks:
  - id: slack
    type: io.kestra.plugin.notifications.slack.SlackExecution
    url: "{base}/slack"
    executionId: "{{{{ inputs.failed }}}}"
    channel: "#alerts"
    customMessage: "On call: {{{{ flow.id }}}}"
    customFields: {{Team: sales}}
  - id: teams
    type: io.kestra.plugin.microsoft365.teams.TeamsExecution
    url: "{base}/teams"
    executionId: "{{{{ inputs.failed }}}}"
    activityTitle: Nightly load
  - id: discord
    type: io.kestra.plugin.discord.DiscordExecution
    url: "{base}/discord"
    executionId: "{{{{ inputs.failed }}}}"
    username: Lanner
    embedList:
      - {{title: Runbook, websiteUrl: "https://example.com/runbook", color: [255, 0, 0]}}
  - id: gchat
    type: io.kestra.plugin.googleworkspace.chat.GoogleChatExecution
    url: "{base}/gchat"
    executionId: "{{{{ inputs.failed }}}}"
"""
    summary = run_flow(notify_runner, source, {"failed": failed["id"]})
    assert summary["state"] == "SUCCESS", summary
    link = f"https://lanner.example.test/ui/execution?id={failed['id']}"

    (slack,) = receiver.bodies("/summary/slack")
    assert slack["channel"] == "#alerts"
    assert f"<{link}|[tests.notify.prod] nightly_sales ➛ FAILED>" in slack["text"]
    assert "Failed on task `load` after 00:00:" in slack["text"]
    assert slack["blocks"][0]["text"]["text"] == "On call: alert"
    assert slack["blocks"][1]["accessory"]["url"] == link
    fields = {f["title"]: f["value"] for f in slack["attachments"][0]["fields"]}
    assert fields == {"Namespace": "tests.notify.prod", "Flow ID": "nightly_sales", "Execution ID": failed["id"],
                      "Execution Status": "FAILED", "Team": "sales", "Final task ID": "load"}
    assert slack["attachments"][0]["color"] == "danger"

    (teams,) = receiver.bodies("/summary/teams")
    assert teams["@type"] == "MessageCard" and teams["themeColor"] == "0076D7"
    assert teams["sections"][0]["activityTitle"] == "Nightly load"
    assert teams["potentialAction"][0]["targets"][0]["uri"] == link

    (discord,) = receiver.bodies("/summary/discord")
    assert discord["username"] == "Lanner" and discord["embeds"][0]["url"] == link
    assert discord["embeds"][0]["footer"]["text"].startswith("Failed on task `load`")
    assert discord["embeds"][1] == {"title": "Runbook", "url": "https://example.com/runbook", "color": 0xFF0000}

    (gchat,) = receiver.bodies("/summary/gchat")
    assert gchat["text"].startswith(f"*<{link}|[tests.notify.prod] nightly_sales ➛ FAILED>*\nFailed on task `load`")


def test_execution_summary_of_the_current_execution_in_an_errors_branch(notify_runner: Any, receiver: Receiver) -> None:
    source = f"""
id: current
namespace: tests.notify
tasks:
  - {{id: ok, type: log, message: fine}}
  - {{id: broken, type: fail, message: boom}}
errors:
  - id: alert
    type: slack_execution
    url: "{receiver.url('/current')}"
"""
    summary = run_flow(notify_runner, source)
    assert summary["state"] == "FAILED"
    alert = next(tr for tr in summary["taskRuns"] if tr["taskId"] == "alert")
    assert alert["state"] == "SUCCESS", alert
    (body,) = receiver.bodies("/current")
    assert f"ui/execution?id={summary['id']}" in body["text"]
    assert "Failed on task `broken`" in body["text"]
    fields = {f["title"]: f["value"] for f in body["attachments"][0]["fields"]}
    assert fields["Final task ID"] == "broken"  # the alert task itself is not the last task


def test_the_guard_refuses_a_local_webhook_that_is_not_allowed(notify_runner: Any, receiver: Receiver,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("LANNER_HTTP_ALLOW")
    source = f"""
id: refused
namespace: tests.notify
tasks:
  - {{id: post, type: discord_webhook, url: "{receiver.url('/refused')}", payload: '{{"content": "hi"}}'}}
"""
    summary = run_flow(notify_runner, source)
    assert summary["state"] == "FAILED"
    message = logs_of(notify_runner, summary)
    assert "Refused to connect to 127.0.0.1: loopback address; add it to LANNER_HTTP_ALLOW" in message
    assert receiver.count("/refused") == 0


def test_a_rejected_notification_fails_with_one_masked_sentence_and_is_retried(notify_runner: Any, receiver: Receiver) -> None:
    token_path = "/services/T0001/B0002/s3cretT0kenValue"
    receiver.answers[token_path] = (403, "invalid_token")
    source = f"""
id: rejected
namespace: tests.notify
tasks:
  - id: post
    type: slack_webhook
    url: "{receiver.url(token_path)}"
    messageText: hi
    retry: {{type: constant, maxAttempts: 3, interval: PT0.05S}}
"""
    summary = run_flow(notify_runner, source)
    assert summary["state"] == "FAILED"
    (run,) = summary["taskRuns"]
    assert len(run["attempts"]) == 3 and receiver.count(token_path) == 3
    logs = logs_of(notify_runner, summary)
    assert "The Slack webhook refused the notification with HTTP 403 Forbidden: invalid_token" in logs
    assert "s3cretT0kenValue" not in logs and "******" in logs
    assert "s3cretT0kenValue" not in str(summary)


def test_an_unreachable_webhook_fails_each_attempt_with_one_sentence(notify_runner: Any) -> None:
    port = free_port()
    source = f"""
id: unreachable
namespace: tests.notify
tasks:
  - id: post
    type: google_chat_webhook
    url: "http://127.0.0.1:{port}/v1/spaces/AAA/messages?key=k3yValue&token=t0kenValue"
    payload: '{{"text": "hi"}}'
    retry: {{type: constant, maxAttempts: 2, interval: PT0.05S}}
"""
    summary = run_flow(notify_runner, source)
    (run,) = summary["taskRuns"]
    assert run["state"] == "FAILED" and len(run["attempts"]) == 2
    logs = logs_of(notify_runner, summary)
    assert f"Could not send the Google Chat notification: POST http://127.0.0.1:{port}****** failed: ConnectError" in logs
    assert "t0kenValue" not in logs and "k3yValue" not in logs


def test_a_payload_that_is_not_json_names_the_field(notify_runner: Any, receiver: Receiver) -> None:
    source = f"""
id: badjson
namespace: tests.notify
tasks:
  - {{id: post, type: teams_webhook, url: "{receiver.url('/bad')}", payload: '{{"text": {{{{ flow.id }}}} }}'}}
"""
    summary = run_flow(notify_runner, source)
    assert summary["state"] == "FAILED"
    assert "payload is not valid JSON after rendering: Expecting value (line 1, column 10)" in logs_of(notify_runner, summary)
    assert receiver.count("/bad") == 0
