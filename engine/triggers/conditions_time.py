"""Kestra's time conditions: TimeBetween, DateTimeBetween and PublicHoliday.

Each tests a date, by default the firing's (``{{ trigger.date }}``: a schedule
tick in its time zone, or the time a polling trigger found its event); any
expression giving an ISO-8601 date-time may be used instead.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time
from functools import lru_cache
from typing import Any

from pydantic import Field, field_validator, model_validator

from engine.sdk import Condition, ConditionContext, ConditionError, register_condition, render_expression

_DATE_DOC = "The date-time tested (an expression; default: the firing's date, {{ trigger.date }})."


def _kestra(name: str) -> tuple[str, str, str]:
    return (f"io.kestra.plugin.core.condition.{name}", f"io.kestra.core.models.conditions.types.{name}Condition",
            f"io.kestra.plugin.core.condition.{name}Condition")


def parse_moment(value: object, what: str) -> datetime:
    """An ISO-8601 date-time (``Z`` or an offset; none means UTC)."""
    if isinstance(value, datetime):
        parsed = value
    else:
        text = str(value).strip()
        try:
            parsed = datetime.fromisoformat(text[:-1] + "+00:00" if text.endswith("Z") else text)
        except ValueError:
            raise ConditionError(f"{what}: {text!r} is not an ISO-8601 date-time such as 2024-12-25T10:00:00+01:00") from None
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=UTC)


def _tested(condition: TimeBetween | DateTimeBetween | PublicHoliday, ctx: ConditionContext) -> datetime:
    """The condition's ``date``, rendered against the firing."""
    variables = ctx.variables()
    if condition.date is None and "date" not in variables["trigger"]:
        raise ConditionError(f"condition type '{condition.type}' needs a date: the {ctx.where} has none; set its date property")
    try:
        rendered = render_expression(condition.date or "{{ trigger.date }}", variables)
    except Exception as exc:  # noqa: BLE001 - an expression error is the condition's error, in one sentence
        raise ConditionError(f"condition type '{condition.type}': date could not be rendered: {exc}") from None
    return parse_moment(rendered, f"condition type '{condition.type}' date")


def offset_time(value: object) -> time:
    """``08:00:00+02:00`` (an offset time; none means UTC)."""
    text = str(value).strip()
    try:
        parsed = time.fromisoformat(text[:-1] + "+00:00" if text.endswith("Z") else text)
    except ValueError:
        raise ValueError(f"{text!r} is not an ISO-8601 time such as 08:00:00+02:00") from None
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=UTC)


def _utc_seconds(moment: time) -> float:
    """Java's OffsetTime order: the time of day minus its offset (no wrap around midnight)."""
    offset = moment.utcoffset()
    local = moment.hour * 3600 + moment.minute * 60 + moment.second + moment.microsecond / 1e6
    return local - (offset.total_seconds() if offset else 0.0)


@register_condition(
    "time_between", *_kestra("TimeBetween"), title="Between two times of day",
    summary="Fire only when the firing's time of day is after `after` and/or before `before`.",
)
class TimeBetween(Condition):
    date: str | None = Field(default=None, description=_DATE_DOC)
    after: str | None = Field(default=None, description="A time with its offset, e.g. 08:00:00+02:00.")
    before: str | None = Field(default=None, description="A time with its offset, e.g. 17:00:00+02:00.")

    @field_validator("after", "before")
    @classmethod
    def _time(cls, value: object) -> Any:
        if value is not None:
            offset_time(value)
        return value

    @model_validator(mode="after")
    def _bounded(self) -> TimeBetween:
        if self.after is None and self.before is None:
            raise ValueError("give after, before or both")
        return self

    def test(self, ctx: ConditionContext) -> bool:
        moment = _tested(self, ctx)
        now = _utc_seconds(moment.timetz())
        if self.after is not None and not now > _utc_seconds(offset_time(self.after)):
            return False
        return self.before is None or now < _utc_seconds(offset_time(self.before))


@register_condition(
    "date_time_between", *_kestra("DateTimeBetween"), title="Between two date-times",
    summary="Fire only when the firing's date-time is after `after` and/or before `before`.",
)
class DateTimeBetween(Condition):
    date: str | None = Field(default=None, description=_DATE_DOC)
    after: datetime | None = Field(default=None, description="A date-time with its zone, e.g. 2025-01-01T00:00:00Z.")
    before: datetime | None = Field(default=None, description="A date-time with its zone, e.g. 2025-12-31T23:59:59Z.")

    @field_validator("after", "before")
    @classmethod
    def _zoned(cls, value: datetime | None) -> datetime | None:
        return value if value is None or value.tzinfo is not None else value.replace(tzinfo=UTC)

    @model_validator(mode="after")
    def _bounded(self) -> DateTimeBetween:
        if self.after is None and self.before is None:
            raise ValueError("give after, before or both")
        return self

    def test(self, ctx: ConditionContext) -> bool:
        moment = _tested(self, ctx)
        if self.after is not None and not moment > self.after:
            return False
        return self.before is None or moment < self.before


@lru_cache(maxsize=64)
def holiday_calendar(country: str, subdivision: str | None) -> Any:
    import holidays  # imported on first use: loading a country's calendar takes a moment

    return holidays.country_holidays(country, subdiv=subdivision)


@register_condition(
    "public_holiday", *_kestra("PublicHoliday"), title="On public holidays",
    summary="Fire only on a public holiday of a country (and subdivision); wrap it in Not to skip holidays.",
)
class PublicHoliday(Condition):
    date: str | None = Field(default=None, description=_DATE_DOC)
    country: str = Field(description="ISO 3166 country code, e.g. FR, US.")
    sub_division: str | None = Field(default=None, description="A subdivision of the country, e.g. a US state (CA) or a French region.")

    @model_validator(mode="after")
    def _known(self) -> PublicHoliday:
        try:
            holiday_calendar(self.country.upper(), self.sub_division)
        except (NotImplementedError, KeyError) as exc:
            raise ValueError(f"no public holiday calendar for {self.country!r}{' / ' + repr(self.sub_division) if self.sub_division else ''} ({exc})") from None
        return self

    def test(self, ctx: ConditionContext) -> bool:
        day: date = _tested(self, ctx).date()
        return day in holiday_calendar(self.country.upper(), self.sub_division)
