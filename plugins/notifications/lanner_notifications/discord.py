"""Discord incoming webhooks: ``discord_webhook`` (Kestra's ``DiscordIncomingWebhook``) and ``discord_execution``.

The execution summary is one embed (title linking to the execution page, the
facts, the outcome as footer, the state's colour); ``embedList`` adds embeds of
the flow's own, ``content``, ``username`` and ``avatarUrl`` set the message's
text and author. A non-empty ``payload`` is sent instead, as Kestra does.
"""

from __future__ import annotations

from typing import Any, ClassVar

from engine.sdk import Field, LannerModel, RunContext, TaskFailed, register_task
from lanner_notifications.execution import ExecutionFields, gather
from lanner_notifications.webhook import PayloadWebhook, rendered_json

#: Embed colours of the execution states (0xRRGGBB).
STATE_COLOURS = {"SUCCESS": 0x2EB886, "WARNING": 0xDAA038}
FAILED_COLOUR = 0xA30200


class Embed(LannerModel):
    """Kestra's ``embedList`` item."""

    title: str | None = Field(default=None, description="Title; rendered.")
    website_url: str | None = Field(default=None, description="URL the title links to; rendered.")
    description: str | None = Field(default=None, description="Text of the embed; rendered.")
    thumbnail: str | None = Field(default=None, description="Thumbnail image URL; rendered.")
    author_name: str | None = Field(default=None, description="Author shown above the title; rendered.")
    color: list[int] | None = Field(default=None, description="RGB colour, e.g. [255, 0, 0].")
    footer: str | None = Field(default=None, description="Footer text; rendered.")

    def to_discord(self, ctx: RunContext, avatar_url: str | None) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for key, value in (("title", self.title), ("description", self.description), ("url", self.website_url)):
            if value is not None:
                out[key] = str(ctx.render(value))
        if self.thumbnail is not None:
            out["thumbnail"] = {"url": str(ctx.render(self.thumbnail))}
        if self.author_name is not None:
            author = {"name": str(ctx.render(self.author_name))}
            if self.website_url is not None:
                author["url"] = str(ctx.render(self.website_url))
            if avatar_url:
                author["icon_url"] = avatar_url
            out["author"] = author
        if self.color is not None:
            if len(self.color) < 3 or any(not 0 <= c <= 255 for c in self.color[:3]):
                raise TaskFailed(f"embedList color {self.color} must be three numbers from 0 to 255 (red, green, blue)")
            out["color"] = (self.color[0] << 16) + (self.color[1] << 8) + self.color[2]
        if self.footer is not None:
            out["footer"] = {"text": str(ctx.render(self.footer))}
        return out


@register_task(
    "discord_webhook",
    "io.kestra.plugin.discord.DiscordIncomingWebhook",
    "io.kestra.plugin.notifications.discord.DiscordIncomingWebhook",
    group="Notifications",
    title="Discord message",
    icon="🎮",
    summary="Post a message (JSON payload: content, embeds...) to a Discord channel's webhook.",
)
class DiscordWebhook(PayloadWebhook):
    service: ClassVar[str] = "Discord"


@register_task(
    "discord_execution",
    "io.kestra.plugin.discord.DiscordExecution",
    "io.kestra.plugin.notifications.discord.DiscordExecution",
    group="Notifications",
    title="Discord execution summary",
    icon="🎮",
    summary="Post an execution's state, duration, failed task and a link to its page to Discord.",
)
class DiscordExecution(PayloadWebhook, ExecutionFields):
    uses_services: ClassVar[bool] = True  # reads the execution it reports on (ctx.executions)
    service: ClassVar[str] = "Discord"

    username: str | None = Field(default=None, description="Name the message is posted under; rendered.")
    avatar_url: str | None = Field(default=None, description="Avatar image URL of the poster; rendered.")
    embed_list: list[Embed] | None = Field(default=None, description="Embeds added to the message.")
    content: str | None = Field(default=None, description="Text of the message above the embeds; rendered.")

    def message(self, ctx: RunContext) -> Any:
        if self.payload is not None and str(self.payload).strip():
            return rendered_json(ctx, self.payload, "payload")
        facts = gather(ctx, self)
        lines = [f"{name}: {value}" for name, value in facts.facts()]
        if facts.custom_message:
            lines.insert(0, facts.custom_message)
        if facts.link:
            lines.append(f"\n[Link to the Execution page]({facts.link})")
        summary: dict[str, Any] = {
            "title": facts.title,
            "description": "\n".join(lines),
            "footer": {"text": facts.outcome},
            "color": STATE_COLOURS.get(facts.state, FAILED_COLOUR),
        }
        if facts.link:
            summary["url"] = facts.link
        avatar = str(ctx.render(self.avatar_url)) if self.avatar_url is not None else None
        out: dict[str, Any] = {"tts": False}
        if self.username is not None:
            out["username"] = str(ctx.render(self.username))
        if avatar:
            out["avatar_url"] = avatar
        if self.content is not None:
            out["content"] = str(ctx.render(self.content))
        out["embeds"] = [summary] + [embed.to_discord(ctx, avatar) for embed in self.embed_list or []]
        return out
