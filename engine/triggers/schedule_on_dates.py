"""The ScheduleOnDates trigger: start the flow at each of a list of date-times."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, field_validator

from engine.sdk import Trigger, register_trigger, render_expression
from engine.triggers.conditions_time import parse_moment


def parse_dates(value: object, field: str = "dates") -> list[datetime]:
    """The dates as aware datetimes, sorted (a text without a zone is UTC)."""
    if isinstance(value, str):
        value = render_expression(value, {"trigger": {}, "flow": {}})
    if not isinstance(value, list):
        raise ValueError(f"{field}: expected a list of ISO-8601 date-times, got {type(value).__name__}")
    out = [parse_moment(item, field) for item in value]
    return sorted(out)


@register_trigger(
    "schedule_on_dates",
    "io.kestra.plugin.core.trigger.ScheduleOnDates",
    title="On given dates",
    icon="📅",
    summary="Start the flow at each date-time of a list (once each).",
)
class ScheduleOnDates(Trigger):
    dates: list[Any] | str = Field(description="ISO-8601 date-times (or an expression giving a list of them).")
    timezone: str = Field(default="UTC", description="IANA time zone {{ trigger.date }} is given in.")
    recover_missed_schedules: str | None = Field(default=None, description="Kestra compatibility (NONE, LAST, ALL); dates that passed before the trigger was deployed never run.")

    @field_validator("dates")
    @classmethod
    def _dates(cls, value: object) -> Any:
        if isinstance(value, list):
            parse_dates(value)
        return value

    @field_validator("timezone")
    @classmethod
    def _tz(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"'{value}' is not an IANA time zone (e.g. UTC, Europe/Paris)") from None
        return value

    def moments(self) -> list[datetime]:
        return parse_dates(self.dates)
