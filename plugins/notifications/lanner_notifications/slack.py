"""Slack incoming webhooks: ``slack_webhook`` (Kestra's ``SlackIncomingWebhook``) and ``slack_execution``.

``payload`` is the JSON message (text, blocks, attachments); ``messageText``
is the short form: a JSON object text is sent as is, anything else becomes
``{"text": ...}`` with Markdown's ``**bold**``, ``__italic__`` and
``[label](url)`` turned into Slack's mrkdwn. The same webhook shape serves
Rocket.Chat and Mattermost.
"""

from __future__ import annotations

import json
import re
from typing import Any, ClassVar

from engine.sdk import Field, RunContext, TaskFailed, register_task
from lanner_notifications.execution import ExecutionFacts, ExecutionFields, gather
from lanner_notifications.webhook import PayloadWebhook, WebhookTask, rendered_json


def slack_mrkdwn(text: str) -> str:
    """Markdown's bold, italic and links in Slack's mrkdwn spelling."""
    text = re.sub(r"\*\*(.*?)\*\*", r"*\1*", text)
    text = re.sub(r"__(.*?)__", r"_\1_", text)
    return re.sub(r"\[(.*?)\]\((.*?)\)", r"<\2|\1>", text)


@register_task(
    "slack_webhook",
    "io.kestra.plugin.slack.notifications.SlackIncomingWebhook",
    "io.kestra.plugin.slack.SlackIncomingWebhook",
    "io.kestra.plugin.notifications.slack.SlackIncomingWebhook",
    group="Notifications",
    title="Slack message",
    icon="💬",
    summary="Post a message (payload JSON or messageText) to a Slack incoming webhook.",
)
class SlackWebhook(PayloadWebhook):
    service: ClassVar[str] = "Slack"

    message_text: str | None = Field(
        default=None,
        description="Plain text with Markdown (or a JSON object text) sent as the message; ignored when payload is set.",
    )

    def message(self, ctx: RunContext) -> Any:
        if self.payload is not None:
            return rendered_json(ctx, self.payload, "payload")
        if self.message_text is None:
            raise TaskFailed("set payload (the JSON message) or messageText (the text to post)")
        text = str(ctx.render(self.message_text))
        try:
            parsed = json.loads(text)
        except json.JSONDecodeError:
            parsed = None
        return parsed if isinstance(parsed, dict) else {"text": slack_mrkdwn(text)}


@register_task(
    "slack_execution",
    "io.kestra.plugin.slack.notifications.SlackExecution",
    "io.kestra.plugin.slack.SlackExecution",
    "io.kestra.plugin.notifications.slack.SlackExecution",
    group="Notifications",
    title="Slack execution summary",
    icon="💬",
    summary="Post an execution's state, duration, failed task and a link to its page to Slack.",
)
class SlackExecution(WebhookTask, ExecutionFields):
    uses_services: ClassVar[bool] = True  # reads the execution it reports on (ctx.executions)
    service: ClassVar[str] = "Slack"

    channel: str | None = Field(default=None, description="Channel (legacy webhooks only; new ones are tied to a channel).")
    username: str | None = Field(default=None, description="Author name (legacy webhooks only).")
    icon_url: str | None = Field(default=None, description="Author icon URL (legacy webhooks only).")
    icon_emoji: str | None = Field(default=None, description="Author emoji, e.g. :robot_face: (legacy webhooks only).")

    def message(self, ctx: RunContext) -> Any:
        out = slack_summary(gather(ctx, self))
        for key, value in (("channel", self.channel), ("username", self.username), ("icon_url", self.icon_url),
                           ("icon_emoji", self.icon_emoji)):
            if value is not None:
                out[key] = str(ctx.render(value))
        return out


def slack_summary(facts: ExecutionFacts) -> dict[str, Any]:
    """The execution summary as a Slack message: a headline, a Details button, and the facts as fields."""
    title = f"<{facts.link}|{facts.title}>" if facts.link else facts.title
    headline = f"*{title}*\n> {facts.outcome}"
    section: dict[str, Any] = {"type": "section", "text": {"type": "mrkdwn", "text": headline}}
    if facts.link:
        section["accessory"] = {"type": "button", "text": {"type": "plain_text", "text": "Details"}, "url": facts.link}
    blocks = [section]
    if facts.custom_message:
        blocks.insert(0, {"type": "section", "text": {"type": "mrkdwn", "text": facts.custom_message}})
    attachment: dict[str, Any] = {
        "color": facts.colour,
        "fields": [{"title": name, "value": value, "short": True} for name, value in facts.facts()],
    }
    if facts.start_epoch is not None:
        attachment["ts"] = facts.start_epoch
    return {"text": headline, "blocks": blocks, "attachments": [attachment]}
