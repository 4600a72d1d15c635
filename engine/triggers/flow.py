"""The Flow trigger: start this flow when another flow's execution ends."""

from __future__ import annotations

from typing import Any, ClassVar

from pydantic import Field

from engine.sdk import LannerModel, Trigger, register_trigger
from engine.triggers.time_window import TimeWindow


class Preconditions(LannerModel):
    """Which upstream executions count, and within which time window (Kestra 0.19+ shape)."""

    id: str | None = None
    flows: list[dict[str, Any]] | None = Field(default=None, description="List of {namespace, flowId, states, labels}.")
    where: list[dict[str, object]] | None = Field(default=None, description="Extra filters.")
    time_window: TimeWindow | None = Field(
        default=None,
        description="The period in which every listed flow must end (default: fixed one-day windows from midnight UTC).",
    )
    reset_on_success: bool = Field(
        default=True, description="Start counting again after a firing (false: fire at each further end within the window)."
    )


@register_trigger(
    "flow",
    "io.kestra.plugin.core.trigger.Flow",
    "io.kestra.core.models.triggers.types.Flow",
    title="When another flow ends",
    icon="🔗",
    summary="Start the flow when an execution of another flow ends (filter by state, flow, namespace).",
)
class FlowTrigger(Trigger):
    condition_context: ClassVar[frozenset[str]] = frozenset({"execution"})
    kind_name: ClassVar[str] = "Flow trigger"

    states: list[str] | None = Field(default=None, description="End states that fire (default: SUCCESS, WARNING, FAILED, KILLED).")
    preconditions: Preconditions | None = Field(default=None, description="Upstream flows to listen to.")
