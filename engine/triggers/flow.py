"""The Flow trigger: start this flow when another flow's execution ends."""

from __future__ import annotations

from typing import Any

from pydantic import Field

from engine.sdk import LannerModel, Trigger, register_trigger


class Preconditions(LannerModel):
    """Which upstream executions count (Kestra 0.19+ shape, simplified)."""

    flows: list[dict[str, Any]] | None = Field(default=None, description="List of {namespace, flowId, states}.")
    where: list[dict[str, object]] | None = Field(default=None, description="Extra filters.")
    id: str | None = None


@register_trigger(
    "flow",
    "io.kestra.plugin.core.trigger.Flow",
    "io.kestra.core.models.triggers.types.Flow",
    title="When another flow ends",
    icon="🔗",
    summary="Start the flow when an execution of another flow ends (filter by state, flow, namespace).",
)
class FlowTrigger(Trigger):
    states: list[str] | None = Field(default=None, description="End states that fire (default: SUCCESS, WARNING, FAILED, KILLED).")
    preconditions: Preconditions | None = Field(default=None, description="Upstream flows to listen to.")
