"""Times as people read them: "2 min ago", "3m 07s", and the exact UTC time in a tooltip.

The store keeps ISO-8601 UTC text; pages show how long ago something happened and
how long it took, with the exact time on hover (``title``), as Kestra's UI does.
"""

from __future__ import annotations

import html
from datetime import UTC, datetime

from builder.services import parse_time as parse
from builder.topology import format_duration


def ago(text: str | None, now: datetime | None = None) -> str:
    """``just now``, ``45 s ago``, ``2 min ago``, ``3 h ago``, ``5 days ago``; "" without a time."""
    when = parse(text)
    if when is None:
        return ""
    seconds = ((now or datetime.now(UTC)) - when).total_seconds()
    if seconds < 0:
        return "in " + (format_duration(-seconds) or "0s")
    if seconds < 5:
        return "just now"
    if seconds < 60:
        return f"{int(seconds)} s ago"
    if seconds < 3600:
        return f"{int(seconds // 60)} min ago"
    if seconds < 86400:
        return f"{int(seconds // 3600)} h ago"
    days = int(seconds // 86400)
    return f"{days} day{'s' if days > 1 else ''} ago"


def took(start: str | None, end: str | None, now: datetime | None = None) -> str:
    """How long it took ("1m 05s"), or how long it has run so far when it has no end."""
    a = parse(start)
    if a is None:
        return ""
    b = parse(end) or now or datetime.now(UTC)
    return format_duration(max(0.0, (b - a).total_seconds()))


def when_html(text: str | None, now: datetime | None = None) -> str:
    """``2 min ago`` with the exact UTC time as its tooltip (HTML)."""
    exact = (parse(text) or datetime.min).strftime("%Y-%m-%d %H:%M:%S UTC") if text else ""
    return f"<span class='ln-when' title='{html.escape(exact)}'>{html.escape(ago(text, now))}</span>"
