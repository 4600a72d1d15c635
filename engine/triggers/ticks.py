"""Cron ticks in a time zone, with daylight-saving rules that never double or lose a run.

Ticks are computed in local wall time (croniter over naive datetimes) and each
wall time is converted to a UTC instant with zoneinfo:

* **Spring forward** (a wall time that does not exist, e.g. 02:30 in
  Europe/Paris on the last Sunday of March): the tick fires once, shifted
  forward by the gap, i.e. at **03:30 local** (zoneinfo's ``fold=0``).
  Two wall times that land on the same instant fire once.
* **Fall back** (a wall time that happens twice): a cron with a fixed hour
  (``30 2 * * *``) fires once, at the first occurrence; a cron whose hour field
  is ``*`` (``*/15 * * * *``) also fires in the repeated hour, because it is
  meant to run every N real minutes. This is Vixie cron's rule.

All instants returned are timezone-aware UTC.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from engine.triggers.schedule import cron_iter, normalise_cron

_MAX_STEPS = 200_000  # bound for crons that (almost) never match


def _naive_local(instant: datetime, zone: ZoneInfo) -> datetime:
    return instant.astimezone(zone).replace(tzinfo=None)


def _hour_is_wildcard(cron: str) -> bool:
    text, seconds = normalise_cron(cron)
    fields = text.split()
    hour = fields[2] if seconds else fields[1]
    return hour.startswith("*")


def instants(wall: datetime, zone: ZoneInfo, *, every_hour: bool) -> list[datetime]:
    """UTC instants at which a naive local wall time fires (see the module docstring)."""
    first = wall.replace(tzinfo=zone, fold=0).astimezone(UTC)
    second = wall.replace(tzinfo=zone, fold=1).astimezone(UTC)
    if first == second:
        return [first]
    if _naive_local(first, zone) != wall:  # a gap: the wall time does not exist
        return [first]  # fold=0 uses the offset before the change: shifted forward by the gap
    return [first, second] if every_hour else [first]


def _margin(zone: ZoneInfo, around: datetime) -> timedelta:
    """How far wall time and UTC can disagree near ``around`` (0 when no change is near)."""
    offsets = {(around + timedelta(minutes=m)).astimezone(zone).utcoffset() for m in range(-180, 181, 15)}
    if len(offsets) == 1:
        return timedelta(0)
    return max(offsets) - min(offsets)  # type: ignore[type-var,operator]


def next_tick(cron: str, timezone: str, after: datetime) -> datetime | None:
    """The first tick strictly after ``after`` (aware), as a UTC instant; None if none in ~years."""
    zone = ZoneInfo(timezone)
    after = after.astimezone(UTC)
    every_hour = _hour_is_wildcard(cron)
    margin = _margin(zone, after)
    local_after = _naive_local(after, zone)
    it = cron_iter(cron, local_after - margin)
    best: datetime | None = None
    for _ in range(_MAX_STEPS):
        try:
            wall = it.get_next(datetime)
        except Exception:  # noqa: BLE001 - croniter gives up on crons that never match
            return best
        if best is not None and wall > _naive_local(best, zone) + margin:
            return best
        for inst in instants(wall, zone, every_hour=every_hour):
            if inst > after and (best is None or inst < best):
                best = inst
        if best is not None and margin == timedelta(0):
            return best
    return best


def prev_tick(cron: str, timezone: str, before: datetime) -> datetime | None:
    """The last tick strictly before ``before`` (aware), as a UTC instant."""
    zone = ZoneInfo(timezone)
    before = before.astimezone(UTC)
    every_hour = _hour_is_wildcard(cron)
    margin = _margin(zone, before)
    local_before = _naive_local(before, zone)
    it = cron_iter(cron, local_before + margin + timedelta(microseconds=1))
    best: datetime | None = None
    for _ in range(_MAX_STEPS):
        try:
            wall = it.get_prev(datetime)
        except Exception:  # noqa: BLE001
            return best
        if best is not None and wall < _naive_local(best, zone) - margin:
            return best
        for inst in instants(wall, zone, every_hour=every_hour):
            if inst < before and (best is None or inst > best):
                best = inst
        if best is not None and margin == timedelta(0):
            return best
    return best


def ticks_between(cron: str, timezone: str, start: datetime, end: datetime, limit: int = 100_000) -> Iterator[datetime]:
    """Ticks with ``start <= tick < end`` in order (what a backfill of [start, end) runs)."""
    cur = start.astimezone(UTC) - timedelta(microseconds=1)
    end = end.astimezone(UTC)
    for _ in range(limit):
        nxt = next_tick(cron, timezone, cur)
        if nxt is None or nxt >= end:
            return
        yield nxt
        cur = nxt


def local_iso(instant: datetime, timezone: str) -> str:
    """An instant as ISO-8601 in the trigger's time zone (what ``{{ trigger.date }}`` shows)."""
    return instant.astimezone(ZoneInfo(timezone)).isoformat()


def parse_instant(text: str, timezone: str = "UTC") -> datetime:
    """ISO-8601 date-time; a value without offset is read in ``timezone``."""
    value = datetime.fromisoformat(text.replace("Z", "+00:00"))
    if value.tzinfo is None:
        value = value.replace(tzinfo=ZoneInfo(timezone))
    return value.astimezone(UTC)
