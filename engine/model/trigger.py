"""Trigger base class. Concrete triggers live in ``engine/triggers``."""

from __future__ import annotations

from typing import Any, ClassVar

from pydantic import Field

from engine.model.base import LannerModel


class Trigger(LannerModel):
    """Properties every trigger has."""

    id: str = Field(pattern=r"^[a-zA-Z0-9][a-zA-Z0-9_-]*$", max_length=100, description="Unique id of the trigger in the flow.")
    type: str = Field(description="Trigger type: a short canonical name (`schedule`) or a Kestra name.")
    description: str | None = Field(default=None, description="What this trigger is for.")
    disabled: bool = Field(default=False, description="A disabled trigger never fires.")
    inputs: dict[str, Any] | None = Field(default=None, description="Inputs of the executions this trigger starts.")
    conditions: list[dict[str, Any]] | None = Field(default=None, description="Conditions that must all hold for the trigger to fire.")

    canonical: ClassVar[str] = ""
    aliases: ClassVar[tuple[str, ...]] = ()
    group: ClassVar[str] = "Triggers"
    title: ClassVar[str] = ""
    icon: ClassVar[str] = ""
    summary: ClassVar[str] = ""

    def validation_warnings(self) -> list[tuple[str, str]]:
        """``(property, message)`` for a definition that is valid but surely not what its author meant."""
        return []
