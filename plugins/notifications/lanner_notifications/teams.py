"""Microsoft Teams incoming webhooks: ``teams_webhook`` (Kestra's ``TeamsIncomingWebhook``) and ``teams_execution``.

``payload`` is the JSON Teams expects: an Adaptive Card message (Workflows
webhooks) or a legacy MessageCard. The execution summary is a MessageCard with
the facts, the outcome and a button to the execution's page.
"""

from __future__ import annotations

from typing import Any, ClassVar

from engine.sdk import Field, RunContext, register_task
from lanner_notifications.execution import ExecutionFacts, ExecutionFields, gather
from lanner_notifications.webhook import PayloadWebhook, WebhookTask


@register_task(
    "teams_webhook",
    "io.kestra.plugin.microsoft365.teams.TeamsIncomingWebhook",
    "io.kestra.plugin.notifications.teams.TeamsIncomingWebhook",
    group="Notifications",
    title="Teams message",
    icon="👥",
    summary="Post a message (Adaptive Card or MessageCard JSON payload) to a Microsoft Teams incoming webhook.",
)
class TeamsWebhook(PayloadWebhook):
    service: ClassVar[str] = "Microsoft Teams"


@register_task(
    "teams_execution",
    "io.kestra.plugin.microsoft365.teams.TeamsExecution",
    "io.kestra.plugin.notifications.teams.TeamsExecution",
    group="Notifications",
    title="Teams execution summary",
    icon="👥",
    summary="Post an execution's state, duration, failed task and a link to its page to Microsoft Teams.",
)
class TeamsExecution(WebhookTask, ExecutionFields):
    uses_services: ClassVar[bool] = True  # reads the execution it reports on (ctx.executions)
    service: ClassVar[str] = "Microsoft Teams"

    theme_color: str = Field(default="0076D7", description="Colour of the card's edge (hex, no #).")
    activity_title: str | None = Field(default=None, description="Title of the card's section; rendered.")
    activity_subtitle: str | None = Field(default=None, description="Subtitle of the card's section; rendered.")

    def message(self, ctx: RunContext) -> Any:
        facts = gather(ctx, self)
        section: dict[str, Any] = {"facts": [{"name": n, "value": v} for n, v in facts.facts()], "markdown": True}
        if self.activity_title is not None:
            section["activityTitle"] = str(ctx.render(self.activity_title))
        if self.activity_subtitle is not None:
            section["activitySubtitle"] = str(ctx.render(self.activity_subtitle))
        if facts.custom_message:
            section["text"] = facts.custom_message
        return teams_card(facts, str(ctx.render(self.theme_color)), section)


def teams_card(facts: ExecutionFacts, colour: str, section: dict[str, Any]) -> dict[str, Any]:
    """A MessageCard: the outcome as summary, one section of facts, a button to the execution page."""
    title = f"[{facts.title}]({facts.link})" if facts.link else facts.title
    card: dict[str, Any] = {
        "@type": "MessageCard",
        "@context": "http://schema.org/extensions",
        "themeColor": colour,
        "summary": f"{facts.title}: {facts.outcome}",
        "title": title,
        "text": facts.outcome,
        "sections": [section],
    }
    if facts.link:
        card["potentialAction"] = [{"@type": "OpenUri", "name": "Open the execution", "targets": [{"os": "default", "uri": facts.link}]}]
    return card
