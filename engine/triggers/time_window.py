"""Kestra's ``timeWindow``: the period in which every upstream condition must be met.

Used by a Flow trigger's ``preconditions`` (and by the ``MultipleCondition``
condition): upstream executions count toward a firing only while they are in
the current window; when the window moves on, what was seen before is forgotten.

* ``DURATION_WINDOW`` (the default): fixed windows of ``window`` (default one
  day) one after another, starting at midnight UTC shifted by ``windowAdvance``;
* ``SLIDING_WINDOW``: the last ``window`` before each upstream end;
* ``DAILY_TIME_DEADLINE``: from midnight to ``deadline`` each day (ends after the
  deadline do not count);
* ``DAILY_TIME_WINDOW``: from ``startTime`` to ``endTime`` each day.
"""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from typing import Any, Literal

from pydantic import Field, model_validator

from engine.sdk import Duration, LannerModel

DAY = timedelta(days=1)


class TimeWindow(LannerModel):
    """When the conditions of a multiple-flow precondition must all be met."""

    type: Literal["DURATION_WINDOW", "SLIDING_WINDOW", "DAILY_TIME_DEADLINE", "DAILY_TIME_WINDOW"] = Field(
        default="DURATION_WINDOW", description="How the window is laid out (see the trigger's documentation)."
    )
    window: Duration | None = Field(default=None, description="Length of the window (DURATION_WINDOW, SLIDING_WINDOW; default P1D).")
    window_advance: Duration | None = Field(default=None, description="Shift of the windows from midnight UTC (DURATION_WINDOW).")
    deadline: time | None = Field(default=None, description="Time of day (UTC) the conditions must be met by (DAILY_TIME_DEADLINE).")
    start_time: time | None = Field(default=None, description="Start of the daily window, UTC (DAILY_TIME_WINDOW).")
    end_time: time | None = Field(default=None, description="End of the daily window, UTC (DAILY_TIME_WINDOW).")

    @model_validator(mode="after")
    def _fields_of_type(self) -> TimeWindow:
        if self.type == "DAILY_TIME_DEADLINE" and self.deadline is None:
            raise ValueError("a DAILY_TIME_DEADLINE window needs deadline, e.g. deadline: \"09:00:00\"")
        if self.type == "DAILY_TIME_WINDOW" and (self.start_time is None or self.end_time is None):
            raise ValueError("a DAILY_TIME_WINDOW needs startTime and endTime, e.g. startTime: \"06:00:00\"")
        if self.window is not None and self.window <= timedelta(0):
            raise ValueError("window must be a positive duration such as PT1H")
        return self

    def bounds(self, now: datetime) -> tuple[datetime, datetime] | None:
        """The window that holds ``now`` as [start, end); None when ``now`` is in none (a daily window's gap)."""
        now = now.astimezone(UTC)
        midnight = now.replace(hour=0, minute=0, second=0, microsecond=0)
        if self.type == "SLIDING_WINDOW":
            return now - (self.window or DAY), now + timedelta(microseconds=1)
        if self.type == "DAILY_TIME_DEADLINE":
            assert self.deadline is not None
            end = datetime.combine(midnight.date(), self.deadline, UTC)
            return (midnight, end) if now < end else None
        if self.type == "DAILY_TIME_WINDOW":
            assert self.start_time is not None and self.end_time is not None
            start = datetime.combine(midnight.date(), self.start_time, UTC)
            end = datetime.combine(midnight.date(), self.end_time, UTC)
            return (start, end) if start <= now < end else None
        length = self.window or DAY
        base = midnight + (self.window_advance or timedelta(0))
        if base > now:
            base -= DAY
        start = base + length * ((now - base) // length)
        return start, start + length


def keep_in_window(seen: dict[str, Any], window: TimeWindow | None, now: datetime) -> tuple[dict[str, Any], bool]:
    """The entries of ``seen`` (``{index: {"id", "date"}}``) still in the window of ``now``, and whether
    ``now`` is in a window at all (an end outside a daily window counts for nothing)."""
    bounds = (window or TimeWindow()).bounds(now)
    if bounds is None:
        return {}, False
    start, _ = bounds
    kept = {}
    for key, entry in seen.items():
        date = entry.get("date") if isinstance(entry, dict) else None
        try:
            when = datetime.fromisoformat(date) if isinstance(date, str) else None
        except ValueError:
            when = None
        if when is not None and when >= start:
            kept[key] = entry
    return kept, True
