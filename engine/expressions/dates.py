"""Kestra's date filters: Java ``DateTimeFormatter`` patterns on Python datetimes.

Kestra flows write ``{{ execution.startDate | date("yyyy-MM-dd'T'HH:mm") }}``
with Java pattern letters, so we translate those letters ourselves (strftime
has no unpadded fields, fraction digits, or ``XXX`` offsets that print ``Z``).
A pattern is compiled once into a list of small field functions and cached.
Output is English only (``locale=`` is accepted and ignored).
"""

from __future__ import annotations

import calendar
import datetime as dt
import re
from collections.abc import Callable
from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from jinja2.exceptions import TemplateRuntimeError

from engine.expressions.errors import printed, shown

UTC = dt.UTC
_EPOCH = dt.datetime(1970, 1, 1, tzinfo=UTC)

Field = Callable[[dt.datetime], str]


class DateError(TemplateRuntimeError):
    """A value that is not a date, or a pattern/zone/unit that is not valid."""


# --- reading values -----------------------------------------------------------------------------


def to_datetime(value: object, what: str = "date") -> dt.datetime:
    """A timezone-aware datetime from a datetime, date, ISO-8601 string or epoch seconds.

    Naive values are taken as UTC, as everything inside Lanner is.
    """
    if isinstance(value, dt.datetime):
        result = value
    elif isinstance(value, dt.date):
        result = dt.datetime(value.year, value.month, value.day)
    elif isinstance(value, (int, float)) and not isinstance(value, bool):
        return _from_epoch(value)
    elif isinstance(value, str):
        text = value.strip()
        if re.fullmatch(r"-?\d+(\.\d+)?", text):
            return _from_epoch(float(text) if "." in text else int(text))
        try:
            result = dt.datetime.fromisoformat(text)
        except ValueError:
            raise DateError(f"the {what} filter expects an ISO-8601 date, not {_short(value)}") from None
    else:
        raise DateError(f"the {what} filter expects a date, not {type(value).__name__}")
    return result if result.tzinfo is not None else result.replace(tzinfo=UTC)


def _from_epoch(seconds: float) -> dt.datetime:
    try:
        return _EPOCH + dt.timedelta(seconds=seconds)
    except OverflowError:
        raise DateError(f"{seconds} is out of the range of dates") from None


def _short(value: object) -> str:
    return shown(value, 60)


def zone(name: str) -> dt.tzinfo:
    """A time zone by IANA name (``Europe/Paris``), ``UTC``/``Z``, or offset (``+02:00``)."""
    if name in ("UTC", "Z", "GMT", "Etc/UTC"):
        return UTC
    match = re.fullmatch(r"(?:UTC|GMT)?([+-])(\d{1,2})(?::?(\d{2}))?", name)
    if match:
        sign = -1 if match.group(1) == "-" else 1
        delta = dt.timedelta(hours=int(match.group(2)), minutes=int(match.group(3) or 0))
        return dt.timezone(sign * delta)
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise DateError(f"unknown time zone {name!r}") from None


# --- formatting ---------------------------------------------------------------------------------

_MONTHS = list(calendar.month_name)
_DAYS = list(calendar.day_name)  # Monday first


def _num(get: Callable[[dt.datetime], int], count: int) -> Field:
    return lambda d: f"{get(d):0{count}d}"


def _text(full: Callable[[dt.datetime], str], count: int) -> Field:
    if count <= 3:
        return lambda d: full(d)[:3]
    if count == 4:
        return full
    return lambda d: full(d)[:1]


def _offset(d: dt.datetime, colon: bool, seconds: bool, hours_only: bool = False) -> str:
    off = d.utcoffset() or dt.timedelta(0)
    total = int(off.total_seconds())
    sign = "-" if total < 0 else "+"
    total = abs(total)
    h, rest = divmod(total, 3600)
    m, s = divmod(rest, 60)
    sep = ":" if colon else ""
    text = f"{sign}{h:02d}"
    if not hours_only or m:
        text += f"{sep}{m:02d}"
    if seconds and s:
        text += f"{sep}{s:02d}"
    return text


def _offset_field(letter: str, count: int) -> Field:
    zulu = letter == "X"

    def field(d: dt.datetime) -> str:
        off = d.utcoffset() or dt.timedelta(0)
        if zulu and not off:
            return "Z"
        if letter in "Xx":
            return _offset(d, colon=count in (3, 5), seconds=count >= 4, hours_only=count == 1)
        if letter == "Z":
            if count <= 3:
                return _offset(d, colon=False, seconds=False)
            if count == 4:
                return "GMT" if not off else "GMT" + _offset(d, colon=True, seconds=True)
            return "Z" if not off else _offset(d, colon=True, seconds=True)
        # 'O': localized offset
        if not off:
            return "GMT"
        full = _offset(d, colon=True, seconds=True)
        if count == 4:
            return "GMT" + full
        h, _, m = full[1:].partition(":")
        return f"GMT{full[0]}{int(h)}" + (f":{m}" if m and m != "00" else "")

    return field


def _zone_id(d: dt.datetime) -> str:
    tz = d.tzinfo
    key = getattr(tz, "key", None)
    if key:
        return key
    if tz is UTC or not d.utcoffset():
        return "Z"
    return _offset(d, colon=True, seconds=True)


def _fraction(count: int) -> Field:
    return lambda d: f"{d.microsecond:06d}000"[:count].ljust(count, "0")


def _year(count: int, get: Callable[[dt.datetime], int]) -> Field:
    if count == 2:
        return lambda d: f"{get(d) % 100:02d}"
    return _num(get, count)


def _quarter(count: int) -> Field:
    q = lambda d: (d.month - 1) // 3 + 1  # noqa: E731
    if count <= 2:
        return _num(q, count)
    if count == 3:
        return lambda d: f"Q{q(d)}"
    if count == 4:
        return lambda d: f"{q(d)}{['st', 'nd', 'rd', 'th'][q(d) - 1]} quarter"
    return lambda d: str(q(d))


def _field(letter: str, count: int) -> Field:
    """The formatter of one run of a Java pattern letter (``yyyy``, ``MM``, ``XXX`` ...)."""
    if letter in "yu":
        return _year(count, lambda d: d.year)
    if letter == "Y":
        return _year(count, lambda d: d.isocalendar().year)
    if letter in "ML":
        return _num(lambda d: d.month, count) if count <= 2 else _text(lambda d: _MONTHS[d.month], count)
    if letter in "Qq":
        return _quarter(count)
    if letter == "d":
        return _num(lambda d: d.day, count)
    if letter == "D":
        return _num(lambda d: d.timetuple().tm_yday, count)
    if letter == "w":
        return _num(lambda d: d.isocalendar().week, count)
    if letter == "W":
        return _num(lambda d: (d.day - 1 + d.replace(day=1).weekday()) // 7 + 1, count)
    if letter == "F":
        return _num(lambda d: (d.day - 1) // 7 + 1, count)
    if letter == "E":
        return _text(lambda d: _DAYS[d.weekday()], count)
    if letter in "ec":
        return _num(lambda d: d.isoweekday(), count) if count <= 2 else _text(lambda d: _DAYS[d.weekday()], count)
    if letter == "a":
        return lambda d: "AM" if d.hour < 12 else "PM"
    if letter == "H":
        return _num(lambda d: d.hour, count)
    if letter == "k":
        return _num(lambda d: d.hour or 24, count)
    if letter == "K":
        return _num(lambda d: d.hour % 12, count)
    if letter == "h":
        return _num(lambda d: d.hour % 12 or 12, count)
    if letter == "m":
        return _num(lambda d: d.minute, count)
    if letter == "s":
        return _num(lambda d: d.second, count)
    if letter == "S":
        if count > 9:
            raise DateError("a date pattern has at most 9 fraction digits (S)")
        return _fraction(count)
    if letter == "n":
        return _num(lambda d: d.microsecond * 1000, count)
    if letter == "A":
        return _num(lambda d: ((d.hour * 60 + d.minute) * 60 + d.second) * 1000 + d.microsecond // 1000, count)
    if letter == "N":
        return _num(lambda d: (((d.hour * 60 + d.minute) * 60 + d.second) * 1_000_000 + d.microsecond) * 1000, count)
    if letter == "G":
        return lambda d: {4: "Anno Domini", 5: "A"}.get(count, "AD")
    if letter in "XxZO":
        return _offset_field(letter, count)
    if letter == "V":
        return _zone_id
    if letter in "zv":
        return lambda d: d.tzname() or _zone_id(d)
    raise DateError(f"unknown date pattern letter {letter!r}")


@lru_cache(maxsize=256)
def compile_pattern(pattern: str) -> tuple[Field | str, ...]:
    """Split a Java pattern into literal text and field formatters."""
    out: list[Field | str] = []
    i, n = 0, len(pattern)
    while i < n:
        c = pattern[i]
        if c == "'":
            if i + 1 < n and pattern[i + 1] == "'":
                out.append("'")
                i += 2
                continue
            j, buf = i + 1, []
            while True:
                if j >= n:
                    raise DateError(f"unterminated quote in date pattern {pattern!r}")
                if pattern[j] == "'":
                    if j + 1 < n and pattern[j + 1] == "'":
                        buf.append("'")
                        j += 2
                        continue
                    break
                buf.append(pattern[j])
                j += 1
            out.append("".join(buf))
            i = j + 1
        elif c.isascii() and c.isalpha():
            j = i
            while j < n and pattern[j] == c:
                j += 1
            out.append(_field(c, j - i))
            i = j
        elif c in "[]":
            i += 1  # optional sections: every field is available when formatting
        elif c in "#{}":
            raise DateError(f"reserved character {c!r} in date pattern {pattern!r}")
        else:
            out.append(c)
            i += 1
    return tuple(out)


#: Kestra's named formats.
NAMED = {
    "iso": "yyyy-MM-dd'T'HH:mm:ss.SSSSSSXXX",
    "iso_sec": "yyyy-MM-dd'T'HH:mm:ssXXX",
    "sql": "yyyy-MM-dd HH:mm:ss.SSSSSS",
    "sql_seq": "yyyy-MM-dd HH:mm:ss",
    # Java's localized styles, in English
    "short": "M/d/yy, h:mm a",
    "medium": "MMM d, yyyy, h:mm:ss a",
    "long": "MMMM d, yyyy 'at' h:mm:ss a z",
    "full": "EEEE, MMMM d, yyyy 'at' h:mm:ss a zzzz",
    "iso_date_time": "yyyy-MM-dd'T'HH:mm:ss.SSSSSSXXX",
    "iso_offset_date_time": "yyyy-MM-dd'T'HH:mm:ss.SSSSSSXXX",
    "iso_zoned_date_time": "yyyy-MM-dd'T'HH:mm:ss.SSSSSSXXX",
    "iso_local_date_time": "yyyy-MM-dd'T'HH:mm:ss.SSSSSS",
    "iso_date": "yyyy-MM-dd",
    "iso_local_date": "yyyy-MM-dd",
    "iso_offset_date": "yyyy-MM-ddXXX",
    "iso_time": "HH:mm:ss.SSSSSSXXX",
    "iso_local_time": "HH:mm:ss.SSSSSS",
    "iso_offset_time": "HH:mm:ss.SSSSSSXXX",
    "iso_ordinal_date": "yyyy-DDD",
    "iso_week_date": "YYYY-'W'ww-e",
    "rfc_1123_date_time": "EEE, d MMM yyyy HH:mm:ss 'GMT'",
}


def format_date(value: object, pattern: str | None = None, time_zone: str | None = None) -> str:
    """Format like Kestra's ``date`` filter (``iso`` when no pattern is given)."""
    d = to_datetime(value)
    name = (pattern or "iso").lower()
    if name == "iso_instant":
        d, pattern = d.astimezone(UTC), "yyyy-MM-dd'T'HH:mm:ss.SSSSSSX"
    elif name == "rfc_1123_date_time":
        d = d.astimezone(UTC)
    if time_zone:
        d = d.astimezone(zone(time_zone))
    parts = compile_pattern(NAMED.get(name, pattern or NAMED["iso"]))
    return "".join(p if isinstance(p, str) else p(d) for p in parts)


_STRPTIME = {
    "yyyy": "%Y", "uuuu": "%Y", "yy": "%y", "MMMM": "%B", "MMM": "%b", "MM": "%m", "M": "%m",
    "dd": "%d", "d": "%d", "DDD": "%j", "HH": "%H", "H": "%H", "hh": "%I", "h": "%I",
    "mm": "%M", "m": "%M", "ss": "%S", "s": "%S", "a": "%p", "EEEE": "%A", "EEE": "%a",
    "XXX": "%z", "XX": "%z", "X": "%z", "xxx": "%z", "xx": "%z", "Z": "%z", "ZZZZZ": "%z", "z": "%Z",
}  # fmt: skip


def parse_date(value: object, pattern: str) -> dt.datetime:
    """Parse ``value`` with a Java pattern (the ``existingFormat`` of the date filter)."""
    if pattern.lower() in NAMED or pattern.lower() == "iso_instant":
        return to_datetime(value)
    out: list[str] = []
    for run in re.finditer(r"'([^']*)'|([A-Za-z])\2*|(.)", pattern):
        quoted, letters, other = run.group(1), run.group(0) if run.group(2) else None, run.group(3)
        if quoted is not None:
            out.append(quoted.replace("%", "%%"))
        elif letters:
            if letters.startswith("S"):
                out.append("%f")
            elif letters in _STRPTIME:
                out.append(_STRPTIME[letters])
            else:
                raise DateError(f"existingFormat letter run {letters!r} is not supported")
        else:
            out.append("%%" if other == "%" else other or "")
    try:
        parsed = dt.datetime.strptime(printed(value).strip(), "".join(out))
    except ValueError:
        raise DateError(f"{_short(value)} does not match the date pattern {pattern!r}") from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


# --- arithmetic and epochs ----------------------------------------------------------------------

_EXACT = {
    "NANOS": dt.timedelta(microseconds=0.001),
    "MICROS": dt.timedelta(microseconds=1),
    "MILLIS": dt.timedelta(milliseconds=1),
    "SECONDS": dt.timedelta(seconds=1),
    "MINUTES": dt.timedelta(minutes=1),
    "HOURS": dt.timedelta(hours=1),
    "HALF_DAYS": dt.timedelta(hours=12),
}
_CALENDAR_DAYS = {"DAYS": 1, "WEEKS": 7}
_CALENDAR_MONTHS = {"MONTHS": 1, "YEARS": 12, "DECADES": 120, "CENTURIES": 1200}
UNITS = (*_EXACT, *_CALENDAR_DAYS, *_CALENDAR_MONTHS)


def add_months(d: dt.datetime, months: int) -> dt.datetime:
    """Java's ``plusMonths``: the day is clamped to the end of a shorter month."""
    index = d.year * 12 + d.month - 1 + months
    year, month = divmod(index, 12)
    if not 1 <= year <= 9999:
        raise DateError("the date is out of range")
    day = min(d.day, calendar.monthrange(year, month + 1)[1])
    return d.replace(year=year, month=month + 1, day=day)


def date_add(value: object, amount: object, unit: str) -> str:
    """Kestra's ``dateAdd(amount, unit)``; the result is an ISO-8601 string."""
    d = to_datetime(value, "dateAdd")
    unit_name = str(unit).upper()
    if isinstance(amount, bool) or not isinstance(amount, (int, float)):
        try:
            amount = int(str(amount))
        except ValueError:
            raise DateError(f"dateAdd expects a whole number of {unit_name.lower()}, not {_short(amount)}") from None
    try:
        if unit_name in _EXACT:
            # Exact units move along the timeline (as Java does), not the wall clock.
            result = (d.astimezone(UTC) + _EXACT[unit_name] * amount).astimezone(d.tzinfo)
        elif unit_name in _CALENDAR_DAYS:
            result = d + dt.timedelta(days=_CALENDAR_DAYS[unit_name] * amount)
        elif unit_name in _CALENDAR_MONTHS:
            result = add_months(d, int(amount) * _CALENDAR_MONTHS[unit_name])
        else:
            raise DateError(f"dateAdd unit must be one of {', '.join(UNITS)}, not {_short(unit)}")
    except OverflowError:
        raise DateError("the date is out of range") from None
    return result.isoformat()


def epoch(value: object, per_second: int, what: str) -> int:
    """Whole units (seconds, ms, µs, ns) since 1970-01-01T00:00:00Z."""
    d = to_datetime(value, what)
    delta = d - _EPOCH
    micros = (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds
    if per_second >= 1_000_000:
        return micros * (per_second // 1_000_000)
    return micros // (1_000_000 // per_second)


def now(time_zone: str | None = None) -> str:
    """The current time as an ISO-8601 string (UTC unless ``timeZone`` is given)."""
    current = dt.datetime.now(UTC)
    if time_zone:
        current = current.astimezone(zone(time_zone))
    return current.isoformat()
