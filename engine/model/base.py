"""The pydantic base every flow model derives from.

Kestra writes camelCase in YAML and JSON; Python code reads snake_case. Unknown
properties are errors (``extra="forbid"``) because a typo in a flow that is
silently ignored is the worst kind of bug to find in production.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict
from pydantic.alias_generators import to_camel


class LannerModel(BaseModel):
    """Base model: camelCase aliases, unknown keys forbidden, populate by name too."""

    model_config = ConfigDict(
        alias_generator=to_camel,
        populate_by_name=True,
        extra="forbid",
        arbitrary_types_allowed=False,
        validate_default=False,
        # A flow names a few of the many task, trigger and input types: their validators are built when one is
        # first validated, not when its class is defined (start-up of `lanner flow run`).
        defer_build=True,
    )

    def to_data(self) -> dict:
        """The model as plain YAML/JSON data with camelCase keys and defaults left out."""
        return self.model_dump(by_alias=True, exclude_unset=True, mode="json")
