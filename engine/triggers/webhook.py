"""The Webhook trigger: start the flow when its URL is called with the right key."""

from __future__ import annotations

import hmac
from collections.abc import Callable, Iterable
from typing import Any, ClassVar

from pydantic import Field, field_validator

from engine.sdk import Trigger, register_trigger

_KEY_CHARS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_.~-")


def is_expression(text: str) -> bool:
    return "{{" in text or "{%" in text


@register_trigger(
    "webhook",
    "io.kestra.plugin.core.trigger.Webhook",
    "io.kestra.core.models.triggers.types.Webhook",
    title="When a URL is called",
    icon="🪝",
    summary="Start the flow from an HTTP call to /api/v1/executions/webhook/{namespace}/{flowId}/{key}.",
)
class Webhook(Trigger):
    condition_context: ClassVar[frozenset[str]] = frozenset({"date"})
    kind_name: ClassVar[str] = "Webhook trigger"

    key: str = Field(
        min_length=1,
        max_length=256,
        description="Secret part of the webhook URL (16+ characters recommended); an expression such as "
        "{{ secret('WEBHOOK_KEY') }} is rendered when a call comes in.",
    )
    wait: bool = Field(default=False, description="Answer only when the execution has ended.")
    return_outputs: bool = Field(default=False, description="Return the execution's outputs in the answer (with wait).")
    response_content_type: str | None = Field(
        default=None,
        description="Content-Type of the answer of a `wait` + `returnOutputs` call: application/json (the default: "
        "the execution with its outputs) or a text type such as text/plain (the outputs as text: a single output's "
        "value, else their JSON).",
    )

    @field_validator("key")
    @classmethod
    def _url_safe(cls, value: str) -> str:
        if not is_expression(value) and not set(value) <= _KEY_CHARS:
            raise ValueError(f"{value!r} is not allowed: use letters, digits, '-', '_', '.' and '~' (or an expression)")
        return value

    @field_validator("response_content_type")
    @classmethod
    def _media_type(cls, value: str | None) -> str | None:
        if value is not None and "/" not in value:
            raise ValueError(f"{value!r} is not a media type such as application/json or text/plain")
        return value

    def resolved_key(self, render: Callable[[str], Any]) -> str:
        """The key calls must present: the literal key, or its expression rendered (``secret()``, ``flow.id``)."""
        return str(render(self.key)) if is_expression(self.key) else self.key


def match_webhook(triggers: Iterable[object], key: str, disabled: set[str], render: Callable[[str], Any]) -> Webhook | None:
    """The enabled Webhook trigger among a flow's ``triggers`` whose key is ``key`` (compared in constant
    time with every one). ``render`` renders a key written as an expression (``secret()``, ``flow.id``)."""
    found = None
    for trig in triggers:
        if isinstance(trig, Webhook):
            try:
                expected = trig.resolved_key(render)
            except Exception:  # noqa: BLE001 - a key that cannot be rendered (secret not set) matches nothing
                continue
            same = hmac.compare_digest(expected.encode(), key.encode())
            if same and not trig.disabled and trig.id not in disabled and found is None:
                found = trig
    return found
