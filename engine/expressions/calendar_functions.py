"""Kestra's calendar functions: weekends, public holidays, positions in a month, date ranges.

``isWeekend(trigger.date)``, ``isPublicHoliday(trigger.date, 'FR')`` (PyPI
``holidays``), ``isDayWeekInMonth(d, 'MONDAY', 'FIRST')``,
``isLastWorkingDay(d)``, ``dayOfWeek(d)`` (``MONDAY`` ...), ``dayOfMonth``,
``monthOfYear``, ``hourOfDay``, ``isDateBetween(d, a, b)`` (both bounds
excluded, compared as instants). A date is
a datetime or an ISO-8601 date or date-time text; the calendar date is the one
written (no conversion to UTC).
"""

from __future__ import annotations

import calendar as cal
import datetime as dt
from functools import lru_cache
from typing import Any

from jinja2.runtime import Undefined

from engine.expressions.errors import printed, shown
from engine.expressions.filters import FilterError
from engine.expressions.guard import WATCHDOG

DAYS = ("MONDAY", "TUESDAY", "WEDNESDAY", "THURSDAY", "FRIDAY", "SATURDAY", "SUNDAY")
_POSITIONS = {"FIRST": 0, "SECOND": 1, "THIRD": 2, "FOURTH": 3}


def _required(value: object, name: str, function: str) -> Any:
    if isinstance(value, Undefined):
        value._fail_with_undefined_error()
    if value is None:
        raise FilterError(f"{function}() expects a '{name}' argument")
    return value


def _datetime(value: object, function: str) -> dt.datetime:
    value = _required(value, "date", function)
    if isinstance(value, dt.datetime):
        return value
    if isinstance(value, dt.date):
        return dt.datetime(value.year, value.month, value.day)
    try:
        return dt.datetime.fromisoformat(printed(value).strip())
    except ValueError:
        raise FilterError(f"{function}() could not read {shown(value)} as an ISO-8601 date") from None


def _date(value: object, function: str) -> dt.date:
    return _datetime(value, function).date()


def _day(name: object, function: str) -> int:
    text = str(_required(name, "dayOfWeek", function)).upper()
    if text not in DAYS:
        raise FilterError(f"{function}() got {name!r} as a day; expected one of {', '.join(DAYS)}")
    return DAYS.index(text)


def is_weekend(date: object = None) -> bool:
    return _date(date, "isWeekend").weekday() >= 5


def day_of_week(date: object = None) -> str:
    return DAYS[_date(date, "dayOfWeek").weekday()]


def day_of_month(date: object = None) -> int:
    return _date(date, "dayOfMonth").day


def month_of_year(date: object = None) -> int:
    return _date(date, "monthOfYear").month


def hour_of_day(date: object = None) -> int:
    return _datetime(date, "hourOfDay").hour


def is_day_week_in_month(date: object = None, dayOfWeek: object = None, position: object = None) -> bool:  # noqa: N803
    day = _date(date, "isDayWeekInMonth")
    weekday = _day(dayOfWeek, "isDayWeekInMonth")
    where = str(_required(position, "position", "isDayWeekInMonth")).upper()
    if day.weekday() != weekday:
        return False
    if where == "LAST":
        return day.day + 7 > cal.monthrange(day.year, day.month)[1]
    if where not in _POSITIONS:
        raise FilterError(f"isDayWeekInMonth() got {position!r} as a position; expected FIRST, SECOND, THIRD, FOURTH or LAST")
    return (day.day - 1) // 7 == _POSITIONS[where]


def is_last_working_day(date: object = None, workingDays: object = None) -> bool:  # noqa: N803
    day = _date(date, "isLastWorkingDay")
    working = {_day(d.strip(), "isLastWorkingDay") for d in str(workingDays).split(",")} if workingDays else set(range(5))
    last = dt.date(day.year, day.month, cal.monthrange(day.year, day.month)[1])
    while last.weekday() not in working and last.day > 1:
        last -= dt.timedelta(days=1)
    return day == last and day.weekday() in working


@lru_cache(maxsize=64)
def _holidays(country: str, subdivision: str | None) -> Any:
    with WATCHDOG.not_counted():  # the first calendar of a process takes seconds to build
        import holidays

        try:
            return holidays.country_holidays(country, subdiv=subdivision)
        except (NotImplementedError, KeyError) as exc:
            raise FilterError(f"isPublicHoliday(): no holiday calendar for {country!r}{f' / {subdivision!r}' if subdivision else ''}: {exc}") from None


def is_public_holiday(date: object = None, countryCode: object = None, subDivision: object = None) -> bool:  # noqa: N803
    day = _date(date, "isPublicHoliday")
    country = str(_required(countryCode, "countryCode", "isPublicHoliday")).upper()
    sub = str(subDivision).strip() if subDivision not in (None, "") else None
    if sub and sub.upper().startswith(country + "-"):
        sub = sub[len(country) + 1 :]  # ISO 3166-2 'DE-BY' -> 'BY'
    return day in _holidays(country, sub)


def _instant(value: object, name: str, function: str) -> dt.datetime:
    moment = _datetime(_required(value, name, function), function)
    if moment.tzinfo is None:
        raise FilterError(f"{function}(): {name} {shown(value, 40)} has no offset; write it with Z or +HH:MM")
    return moment


def is_date_between(date: object = None, start: object = None, end: object = None) -> bool:
    moment = _instant(date, "date", "isDateBetween")
    return _instant(start, "start", "isDateBetween") < moment < _instant(end, "end", "isDateBetween")
