"""The Webhook trigger: start the flow when its URL is called with the right key."""

from __future__ import annotations

import hmac
from collections.abc import Iterable

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


def match_webhook(triggers: Iterable[object], key: str, disabled: set[str]) -> Webhook | None:
    """The enabled Webhook trigger among a flow's ``triggers`` whose key is ``key`` (compared in constant
    time with every one)."""
    found = None
    for trig in triggers:
        if isinstance(trig, Webhook):
            same = hmac.compare_digest(trig.key.encode(), key.encode())
            if same and not trig.disabled and trig.id not in disabled and found is None:
                found = trig
    return found
