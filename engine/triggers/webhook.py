"""The Webhook trigger: start the flow when its URL is called with the right key."""

from __future__ import annotations

from pydantic import Field

from engine.sdk import Trigger, register_trigger


@register_trigger(
    "webhook",
    "io.kestra.plugin.core.trigger.Webhook",
    "io.kestra.core.models.triggers.types.Webhook",
    title="When a URL is called",
    icon="🪝",
    summary="Start the flow from an HTTP call to /api/v1/executions/webhook/{namespace}/{flowId}/{key}.",
)
class Webhook(Trigger):
    key: str = Field(min_length=1, max_length=256, pattern=r"^[A-Za-z0-9_.~-]+$", description="Secret part of the webhook URL (16+ characters recommended).")
    wait: bool = Field(default=False, description="Answer only when the execution has ended.")
    return_outputs: bool = Field(default=False, description="Return the execution's outputs in the answer (with wait).")
