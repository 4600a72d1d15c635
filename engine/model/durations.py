"""ISO-8601 durations (``PT1S``, ``P1DT2H``, ``PT0.25S``) as ``timedelta``.

Kestra writes every duration this way; Python code wants ``timedelta``.
"""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Annotated

from pydantic import BeforeValidator, PlainSerializer, WithJsonSchema

_DURATION = re.compile(
    r"^(?P<sign>-)?P(?!$)(?:(?P<weeks>\d+(?:\.\d+)?)W)?(?:(?P<days>\d+(?:\.\d+)?)D)?"
    r"(?:T(?=\d)(?:(?P<hours>\d+(?:\.\d+)?)H)?(?:(?P<minutes>\d+(?:\.\d+)?)M)?(?:(?P<seconds>\d+(?:\.\d+)?)S)?)?$",
    re.IGNORECASE,
)


def parse_duration(value: object) -> timedelta:
    """Parse an ISO-8601 duration; raise ValueError that says what a valid one looks like."""
    if isinstance(value, timedelta):
        return value
    if isinstance(value, bool) or not isinstance(value, (str, int, float)):
        raise ValueError(f"must be an ISO-8601 duration such as PT30S or P1DT2H, not {value!r}")
    if isinstance(value, (int, float)):
        raise ValueError(f"must be an ISO-8601 duration such as PT{value}S, not a bare number")
    text = value.strip()
    m = _DURATION.match(text)
    if not m:
        raise ValueError(f"{value!r} is not an ISO-8601 duration (examples: PT30S, PT5M, PT1H30M, P1D)")
    parts = {k: float(v) for k, v in m.groupdict().items() if v and k != "sign"}
    try:
        td = timedelta(
            weeks=parts.get("weeks", 0),
            days=parts.get("days", 0),
            hours=parts.get("hours", 0),
            minutes=parts.get("minutes", 0),
            seconds=parts.get("seconds", 0),
        )
    except OverflowError:  # more than timedelta holds, or a number so long that it reads as infinity
        shown = text if len(text) <= 40 else text[:20] + "..." + text[-8:]
        raise ValueError(f"{shown!r} is too long a duration: the longest is {timedelta.max.days:,} days (P{timedelta.max.days}D)") from None
    return -td if m.group("sign") else td


def format_duration(td: timedelta) -> str:
    """The shortest ISO-8601 spelling of a timedelta (``PT1M30S``)."""
    total = td.total_seconds()
    sign = "-" if total < 0 else ""
    total = abs(total)
    days, rem = divmod(total, 86400)
    hours, rem = divmod(rem, 3600)
    minutes, seconds = divmod(rem, 60)
    out = f"{sign}P"
    if days:
        out += f"{int(days)}D"
    time = ""
    if hours:
        time += f"{int(hours)}H"
    if minutes:
        time += f"{int(minutes)}M"
    if seconds or (not days and not time):
        time += (f"{seconds:.3f}".rstrip("0").rstrip(".") if seconds % 1 else f"{int(seconds)}") + "S"
    if time:
        out += "T" + time
    return out


Duration = Annotated[
    timedelta,
    BeforeValidator(parse_duration),
    PlainSerializer(format_duration, return_type=str, when_used="json"),
    WithJsonSchema({"type": "string", "format": "duration", "pattern": "^-?P", "examples": ["PT30S", "PT5M", "P1D"]}),
]
