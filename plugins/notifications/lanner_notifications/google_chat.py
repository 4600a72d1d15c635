"""Google Chat incoming webhooks: ``google_chat_webhook`` (Kestra's ``GoogleChatIncomingWebhook``) and ``google_chat_execution``."""

from __future__ import annotations

from typing import Any, ClassVar

from engine.sdk import Field, RunContext, register_task
from lanner_notifications.execution import ExecutionFields, gather
from lanner_notifications.webhook import PayloadWebhook, WebhookTask


@register_task(
    "google_chat_webhook",
    "io.kestra.plugin.googleworkspace.chat.GoogleChatIncomingWebhook",
    "io.kestra.plugin.notifications.google.GoogleChatIncomingWebhook",
    group="Notifications",
    title="Google Chat message",
    icon="🗨️",
    summary="Post a message (JSON payload, e.g. {\"text\": ...}) to a Google Chat space's incoming webhook.",
)
class GoogleChatWebhook(PayloadWebhook):
    service: ClassVar[str] = "Google Chat"


@register_task(
    "google_chat_execution",
    "io.kestra.plugin.googleworkspace.chat.GoogleChatExecution",
    "io.kestra.plugin.notifications.google.GoogleChatExecution",
    group="Notifications",
    title="Google Chat execution summary",
    icon="🗨️",
    summary="Post an execution's state, duration, failed task and a link to its page to Google Chat.",
)
class GoogleChatExecution(WebhookTask, ExecutionFields):
    uses_services: ClassVar[bool] = True  # reads the execution it reports on (ctx.executions)
    service: ClassVar[str] = "Google Chat"

    text: str | None = Field(default=None, description="Replaces the whole message text; rendered.")

    def message(self, ctx: RunContext) -> Any:
        if self.text is not None:
            return {"text": str(ctx.render(self.text))}
        facts = gather(ctx, self)
        title = f"<{facts.link}|{facts.title}>" if facts.link else facts.title
        lines = [f"*{title}*", facts.outcome]
        if facts.custom_message:
            lines.append(facts.custom_message)
        lines += [f"{name}: {value}" for name, value in facts.facts()]
        return {"text": "\n".join(lines)}
