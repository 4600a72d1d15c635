"""ISO-8601 durations (``PT1S``, ``P1DT2H``, ``PT0.25S``) as ``timedelta``.

Kestra writes every duration this way; Python code wants ``timedelta``.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable
from datetime import timedelta
from typing import Annotated

from pydantic import BeforeValidator, PlainSerializer, WithJsonSchema

#: The ISO-8601 duration pattern, compiled on first use (``_duration_match``): compiling it took
#: 0.4 ms of every start, and most runs read no duration.
_DURATION = (
    r"^(?P<sign>-)?P(?!$)(?:(?P<weeks>\d+(?:\.\d+)?)W)?(?:(?P<days>\d+(?:\.\d+)?)D)?"
    r"(?:T(?=\d)(?:(?P<hours>\d+(?:\.\d+)?)H)?(?:(?P<minutes>\d+(?:\.\d+)?)M)?(?:(?P<seconds>\d+(?:\.\d+)?)S)?)?$"
)


@functools.cache
def _duration_match() -> Callable[[str], re.Match[str] | None]:
    return re.compile(_DURATION, re.IGNORECASE).match


def parse_duration(value: object) -> timedelta:
    """Parse an ISO-8601 duration; raise ValueError that says what a valid one looks like."""
    if isinstance(value, timedelta):
        return value
    if isinstance(value, bool) or not isinstance(value, (str, int, float)):
        raise ValueError(f"must be an ISO-8601 duration such as PT30S or P1DT2H, not {value!r}")
    if isinstance(value, (int, float)):
        raise ValueError(f"must be an ISO-8601 duration such as PT{value}S, not a bare number")
    text = value.strip()
    m = _duration_match()(text)
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


def _duration_or_expression(value: object) -> timedelta | str:
    """A duration, or an expression kept as text to render at run time (Kestra's ``Property<Duration>``)."""
    if isinstance(value, str) and ("{{" in value or "{%" in value):
        return value
    return parse_duration(value)


def _show_duration(value: timedelta | str) -> str:
    return format_duration(value) if isinstance(value, timedelta) else value


#: A duration that may also be an expression (``{{ inputs.delay }}``), rendered when it is used:
#: what Kestra declares as ``Property<Duration>``. Read it with :func:`resolve_duration`.
DynamicDuration = Annotated[
    timedelta | str,
    BeforeValidator(_duration_or_expression),
    PlainSerializer(_show_duration, return_type=str, when_used="json"),
    WithJsonSchema({"type": "string", "format": "duration", "examples": ["PT30S", "{{ inputs.delay }}"]}),
]


def resolve_duration(value: timedelta | str | None, render: Callable[[str], object], name: str) -> timedelta | None:
    """The ``timedelta`` of a :data:`DynamicDuration`, rendering an expression with ``render``.

    Raises ValueError naming the property when the rendered text is not a duration;
    an expression that renders to nothing (null, blank) means "not set", as in Kestra.
    """
    if value is None or isinstance(value, timedelta):
        return value
    rendered = render(value)
    if rendered is None or (isinstance(rendered, str) and not rendered.strip()):
        return None
    if isinstance(rendered, timedelta):
        return rendered
    try:
        return parse_duration(rendered.strip() if isinstance(rendered, str) else rendered)
    except ValueError:
        raise ValueError(
            f"{name}: {value} rendered to {rendered!r}, which is not an ISO-8601 duration (examples: PT30S, PT5M, P1D)"
        ) from None
