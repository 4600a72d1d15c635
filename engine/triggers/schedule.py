"""The Schedule trigger: cron (5 or 6 fields, nicknames) in an IANA time zone."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any, ClassVar
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, field_validator

from engine.sdk import AnyCondition, Duration, Trigger, register_trigger

if TYPE_CHECKING:
    from croniter import croniter

NICKNAMES = {
    "@yearly": "0 0 1 1 *",
    "@annually": "0 0 1 1 *",
    "@monthly": "0 0 1 * *",
    "@weekly": "0 0 * * 0",
    "@daily": "0 0 * * *",
    "@midnight": "0 0 * * *",
    "@hourly": "0 * * * *",
}


def normalise_cron(expr: str) -> tuple[str, bool]:
    """Return (expression, has_seconds). Six fields means seconds come first (Kestra/Quartz)."""
    text = NICKNAMES.get(expr.strip().lower(), expr.strip())
    fields = text.split()
    if len(fields) not in (5, 6):
        raise ValueError(f"cron '{expr}' must have 5 fields (minute hour day month weekday), 6 with seconds first, or be a nickname like @daily")
    return text, len(fields) == 6


def cron_iter(expr: str, start: datetime) -> croniter:
    from croniter import croniter  # imported by the first schedule, not by every start

    text, seconds = normalise_cron(expr)
    return croniter(text, start, second_at_beginning=seconds)


@register_trigger(
    "schedule",
    "io.kestra.plugin.core.trigger.Schedule",
    "io.kestra.core.models.triggers.types.Schedule",
    title="On a schedule",
    icon="⏰",
    summary="Start the flow on a cron schedule in a time zone.",
)
class Schedule(Trigger):
    condition_context: ClassVar[frozenset[str]] = frozenset({"date"})
    kind_name: ClassVar[str] = "Schedule trigger"

    cron: str = Field(description="Cron expression (5 fields, or 6 with seconds first) or @daily/@hourly/...")
    timezone: str = Field(default="UTC", description="IANA time zone the cron is read in, e.g. Europe/Paris.")
    with_seconds: bool | None = Field(default=None, description="Kestra compatibility; 6-field crons have seconds.")
    late_maximum_delay: Duration | None = Field(default=None, description="Skip a run that would start later than this after its time.")
    stop_after: list[str] | None = Field(default=None, description="Disable the trigger once an execution ends in one of these states.")
    backfill: dict[str, Any] | None = Field(default=None, description="Kestra backfill block (start, end, inputs, labels).")
    recover_missed_schedules: str | None = Field(default=None, description="NONE (default), LAST or ALL.")
    schedule_conditions: list[AnyCondition] | None = Field(default=None, description="Kestra scheduleConditions (day of week/month).")

    @field_validator("cron")
    @classmethod
    def _cron(cls, v: str) -> str:
        from croniter import croniter

        text, seconds = normalise_cron(v)
        if not croniter.is_valid(text, second_at_beginning=seconds):
            raise ValueError(f"'{v}' is not a valid cron expression")
        return v

    def condition_lists(self) -> dict[str, list[Any]]:
        return {"conditions": list(self.conditions or []), "scheduleConditions": list(self.schedule_conditions or [])}

    def validation_warnings(self) -> list[tuple[str, str]]:
        from croniter import CroniterBadDateError, croniter

        text, seconds = normalise_cron(self.cron)
        try:  # 9 years: a leap day is at most 8 years from the next one (2096 -> 2104)
            croniter(text, datetime(2000, 1, 1), second_at_beginning=seconds, max_years_between_matches=9).get_next(datetime)
        except CroniterBadDateError:
            return [("cron", f"'{self.cron}' never fires: no date matches its day and month fields (such as February 30); "
                             "fix them or the trigger will never start the flow")]
        return []

    @field_validator("timezone")
    @classmethod
    def _tz(cls, v: str) -> str:
        try:
            ZoneInfo(v)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"'{v}' is not an IANA time zone (e.g. UTC, Europe/Paris)") from None
        return v
