"""Kestra trigger conditions: on the tick's day (schedules) and on the upstream execution (flow triggers).

A condition is a mapping with a ``type``; the type is matched on its last
segment without the ``Condition`` suffix, so the current
(``io.kestra.plugin.core.condition.DayWeek``) and legacy
(``io.kestra.core.models.conditions.types.DayWeekCondition``) names both work.
"""

from __future__ import annotations

import calendar
from collections.abc import Mapping
from datetime import datetime
from typing import Any

DAYS = ["MONDAY", "TUESDAY", "WEDNESDAY", "THURSDAY", "FRIDAY", "SATURDAY", "SUNDAY"]
DAY_IN_MONTH = {"FIRST": 1, "SECOND": 2, "THIRD": 3, "FOURTH": 4, "LAST": -1}

SCHEDULE_KINDS = {"DayWeek", "DayWeekInMonth", "Weekend", "Not"}
EXECUTION_KINDS = {"ExecutionStatus", "ExecutionFlow", "ExecutionNamespace", "ExecutionLabels", "Not"}


class ConditionError(ValueError):
    """A condition that cannot be evaluated; the message names it."""


def kind(condition: Mapping[str, Any]) -> str:
    name = str(condition.get("type", "")).rsplit(".", 1)[-1]
    return name.removesuffix("Condition") or name


def check(conditions: list[Mapping[str, Any]] | None, allowed: set[str], where: str) -> list[str]:
    """Problems with a condition list (unknown types, bad values), one sentence each."""
    problems = []
    for i, cond in enumerate(conditions or []):
        if not isinstance(cond, Mapping) or "type" not in cond:
            problems.append(f"{where}[{i}]: a condition needs a 'type'")
            continue
        k = kind(cond)
        if k not in allowed:
            problems.append(f"{where}[{i}]: condition type '{cond['type']}' is not supported here (use one of {', '.join(sorted(allowed))})")
        elif k in ("DayWeek", "DayWeekInMonth") and str(cond.get("dayOfWeek", "")).upper() not in DAYS:
            problems.append(f"{where}[{i}].dayOfWeek: '{cond.get('dayOfWeek')}' is not a day name such as MONDAY")
        elif k == "DayWeekInMonth" and str(cond.get("dayInMonth", "")).upper() not in DAY_IN_MONTH:
            problems.append(f"{where}[{i}].dayInMonth: use FIRST, SECOND, THIRD, FOURTH or LAST")
    return problems


# --- schedule conditions (on the tick's local date) ---------------------------------------------------


def _nth_weekday_ok(day: datetime, weekday: int, which: str) -> bool:
    if day.weekday() != weekday:
        return False
    n = DAY_IN_MONTH[which]
    if n == -1:
        return day.day + 7 > calendar.monthrange(day.year, day.month)[1]
    return (day.day - 1) // 7 + 1 == n


def schedule_ok(conditions: list[Mapping[str, Any]] | None, local: datetime) -> bool:
    """All conditions hold for a tick at local wall time ``local``."""
    for cond in conditions or []:
        k = kind(cond)
        if k == "DayWeek":
            ok = local.weekday() == DAYS.index(str(cond.get("dayOfWeek", "")).upper())
        elif k == "DayWeekInMonth":
            ok = _nth_weekday_ok(local, DAYS.index(str(cond.get("dayOfWeek", "")).upper()), str(cond.get("dayInMonth", "")).upper())
        elif k == "Weekend":
            ok = local.weekday() >= 5
        elif k == "Not":
            ok = not any(schedule_ok([c], local) for c in cond.get("conditions") or [])
        else:
            raise ConditionError(f"condition type '{cond.get('type')}' cannot be used on a schedule")
        if not ok:
            return False
    return True


# --- execution conditions (on the upstream execution that ended) ----------------------------------------


def _namespace_ok(cond: Mapping[str, Any], namespace: str) -> bool:
    wanted = str(cond.get("namespace", ""))
    comparison = str(cond.get("comparison", "PREFIX" if cond.get("prefix") else "EQUALS")).upper()
    if comparison == "PREFIX":
        return namespace == wanted or namespace.startswith(wanted.rstrip(".") + ".") or namespace.startswith(wanted)
    if comparison == "SUFFIX":
        return namespace.endswith(wanted)
    return namespace == wanted


def execution_ok(conditions: list[Mapping[str, Any]] | None, summary: Mapping[str, Any]) -> bool:
    """All conditions hold for the ended upstream execution ``summary``."""
    state = str(summary.get("state"))
    for cond in conditions or []:
        k = kind(cond)
        if k == "ExecutionStatus":
            ins = [str(s).upper() for s in cond.get("in") or []]
            not_in = [str(s).upper() for s in cond.get("notIn") or []]
            ok = (not ins or state in ins) and state not in not_in
        elif k == "ExecutionFlow":
            ok = summary.get("namespace") == cond.get("namespace") and summary.get("flowId") == cond.get("flowId")
        elif k == "ExecutionNamespace":
            ok = _namespace_ok(cond, str(summary.get("namespace", "")))
        elif k == "ExecutionLabels":
            labels = summary.get("labels") or {}
            wanted = cond.get("labels") or {}
            if isinstance(wanted, list):
                wanted = {str(x.get("key")): x.get("value") for x in wanted if isinstance(x, Mapping)}
            ok = all(str(labels.get(key)) == str(v) for key, v in wanted.items())
        elif k == "Not":
            ok = not any(execution_ok([c], summary) for c in cond.get("conditions") or [])
        else:
            raise ConditionError(f"condition type '{cond.get('type')}' cannot be used on a Flow trigger")
        if not ok:
            return False
    return True
