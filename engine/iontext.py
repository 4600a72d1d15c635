"""Kestra's row files: Amazon Ion text, one value per line, written and read as streams.

Kestra's tasks that produce rows (``jdbc.*.Query`` with ``fetchType: STORE``,
the ``serdes`` conversions) store them in internal storage as Ion text: one
value (usually a struct) per line::

    {id:1,name:"Alice",amount:12.50,day:2024-01-31,at:LocalDateTime::"2024-01-31T10:00:00"}

This module writes and reads exactly that, fast enough for files of many
gigabytes in bounded memory (the ``amazon-ion`` package reads about 1 MB/s in
pure Python, so it is kept for the ``fromIon`` expression function only).

**Writing** (:class:`IonWriter`, :func:`dumps`) maps Python values the way
Kestra's serializer maps Java ones: ``None`` -> ``null``, ``bool``, ``int``,
``float`` -> Ion float (``1.5e0``), ``Decimal`` -> Ion decimal (``12.50``),
``str`` -> string, ``bytes`` -> blob, ``date`` -> day timestamp (``2024-01-31``),
an aware ``datetime`` -> timestamp with its offset, a naive ``datetime`` ->
``LocalDateTime::"..."``, a naive ``time`` -> ``LocalTime::"..."`` (aware:
``OffsetTime::``), ``timedelta`` -> ISO-8601 duration text, ``dict`` ->
struct, ``list``/``tuple`` -> list; anything else is written as its text.

**Reading** (:func:`iter_values`, :func:`loads`) accepts the whole Ion text
syntax (comments, long strings, quoted symbols, annotations, s-expressions,
blobs, clobs, typed nulls, ``$ion_1_0`` markers and symbol tables are skipped)
and gives plain Python data: structs as ``dict``, lists and s-expressions as
``list``, decimals as ``Decimal``, timestamps as ``date`` or aware ``datetime``,
blobs and clobs as ``bytes``, every null as ``None``. Kestra's typed strings
(``LocalDateTime::``, ``LocalDate::``, ``LocalTime::``, ``OffsetTime::``,
``OffsetDateTime::``, ``ZonedDateTime::``, ``Instant::``) become the matching
``datetime``/``date``/``time`` values; other annotations are dropped.
"""

from __future__ import annotations

import base64
import datetime as dt
import math
import re
from collections.abc import Callable, Iterable, Iterator, Mapping
from decimal import Decimal
from json.encoder import encode_basestring  # the C escaper of json.dumps
from typing import IO, Any

__all__ = ["IonError", "IonWriter", "dumps", "iter_values", "loads", "read_file", "symbol"]

UTC = dt.UTC


class IonError(ValueError):
    """Ion text that cannot be read; the message says where (line and column) and why."""


# --- writing ----------------------------------------------------------------------------------------

_IDENTIFIER = re.compile(r"[A-Za-z_$][A-Za-z0-9_$]*")
_KEYWORDS = {"null", "true", "false", "nan"}
_SYMBOL_ID = re.compile(r"\$\d+")
_QUOTED_SYMBOL_ESCAPES = {"\\": "\\\\", "'": "\\'", "\n": "\\n", "\r": "\\r", "\t": "\\t"}
_symbols: dict[str, str] = {}


def symbol(name: str) -> str:
    """A field name as Ion writes it: bare when it is an identifier, else ``'quoted'``."""
    cached = _symbols.get(name)
    if cached is not None:
        return cached
    if _IDENTIFIER.fullmatch(name) and name not in _KEYWORDS and not _SYMBOL_ID.fullmatch(name):
        text = name
    else:
        body = "".join(_QUOTED_SYMBOL_ESCAPES.get(c, c if c >= " " else f"\\x{ord(c):02x}") for c in name)
        text = f"'{body}'"
    if len(_symbols) < 10_000:
        _symbols[name] = text
    return text


def _float(value: float) -> str:
    if math.isnan(value):
        return "nan"
    if math.isinf(value):
        return "+inf" if value > 0 else "-inf"
    text = repr(value)
    return text if "e" in text else text + "e0"


def _decimal(value: Decimal) -> str:
    if not value.is_finite():
        return "nan" if value.is_nan() else ("+inf" if value > 0 else "-inf")
    text = str(value)
    if "E" in text:
        return text.replace("E", "d")
    return text if "." in text else text + "."


def _timestamp(value: dt.datetime) -> str:
    text = value.isoformat()
    return text[:-6] + "Z" if text.endswith("+00:00") else text


def _datetime(value: dt.datetime) -> str:
    if value.tzinfo is None or value.utcoffset() is None:
        return 'LocalDateTime::"' + value.isoformat() + '"'
    return _timestamp(value)


def _time(value: dt.time) -> str:
    if value.tzinfo is None:
        return 'LocalTime::"' + value.isoformat() + '"'
    return 'OffsetTime::"' + value.isoformat() + '"'


def _duration(value: dt.timedelta) -> str:
    seconds = value.total_seconds()
    sign = "-" if seconds < 0 else ""
    whole, frac = divmod(abs(value), dt.timedelta(seconds=1))
    hours, rest = divmod(int(whole), 3600)
    minutes, secs = divmod(rest, 60)
    text = f"{secs}.{frac.microseconds:06d}".rstrip("0").rstrip(".") if frac else str(secs)
    return f'"{sign}PT{hours}H{minutes}M{text}S"'


def _struct(value: Mapping[Any, Any]) -> str:
    return "{" + ",".join([symbol(str(k)) + ":" + dumps(v) for k, v in value.items()]) + "}"


def _list(value: Iterable[Any]) -> str:
    return "[" + ",".join([dumps(v) for v in value]) + "]"


_ENCODERS: dict[type, Callable[[Any], str]] = {
    str: encode_basestring,
    int: str,
    bool: lambda v: "true" if v else "false",
    float: _float,
    Decimal: _decimal,
    type(None): lambda v: "null",
    dict: _struct,
    list: _list,
    tuple: _list,
    dt.datetime: _datetime,
    dt.date: lambda v: v.isoformat(),
    dt.time: _time,
    dt.timedelta: _duration,
    bytes: lambda v: "{{" + base64.b64encode(v).decode("ascii") + "}}",
}


def dumps(value: object) -> str:
    """One value as Ion text (one line: newlines inside strings are escaped)."""
    encoder = _ENCODERS.get(type(value))
    if encoder is not None:
        return encoder(value)
    for kind, encode in _ENCODERS.items():  # subclasses (IntEnum, OrderedDict, pendulum dates...)
        if isinstance(value, kind) and kind is not type(None):
            return encode(value)
    if isinstance(value, (bytearray, memoryview)):
        return _ENCODERS[bytes](bytes(value))
    if isinstance(value, Mapping):
        return _struct(value)
    if isinstance(value, (set, frozenset)):
        return _list(sorted(value, key=repr))
    return encode_basestring(str(value))


class IonWriter:
    """Writes values to a text file, one per line; ``count`` says how many."""

    def __init__(self, fh: IO[str]):
        self._write = fh.write
        self.count = 0

    def write(self, value: object) -> None:
        self._write(dumps(value) + "\n")
        self.count += 1

    def write_all(self, values: Iterable[Any]) -> int:
        for value in values:
            self.write(value)
        return self.count


# --- reading ----------------------------------------------------------------------------------------


class _Incomplete(Exception):
    """The text ends inside a value: more input is needed."""


_WS = re.compile(r"(?:\s+|//[^\n]*(?:\n|\Z)|/\*.*?\*/)*", re.S)
_NUMBER = re.compile(
    r"[-+]?(?:0[xX][0-9a-fA-F_]+|0[bB][01_]+|(?:\d[\d_]*)(?:\.[\d_]*)?(?:[eEdD][+-]?\d+)?)"
)
_TIMESTAMP = re.compile(
    r"(?P<y>\d{4})-(?P<m>\d\d)-(?P<d>\d\d)"
    r"(?:T(?:(?P<H>\d\d):(?P<M>\d\d)(?::(?P<S>\d\d)(?P<f>\.\d+)?)?(?P<o>Z|[+-]\d\d:\d\d))?)?"
    r"|(?P<y2>\d{4})(?:-(?P<m2>\d\d))?T"
)
_IDENT = re.compile(r"[A-Za-z_$][A-Za-z0-9_$]*")
_OPERATOR = re.compile(r"[!#%&*+\-./;<=>?@^`|~]+")
_SHORT_STRING = re.compile(r'"((?:[^"\\\n]|\\.)*)"', re.S)
_QUOTED = re.compile(r"'((?:[^'\\\n]|\\.)*)'", re.S)
_LONG_STRING = re.compile(r"'''((?:[^'\\]|\\.|'(?!''))*)'''", re.S)
_DELIMITERS = frozenset(" \t\r\n\f\v,:]})[{\"'/")
_ESCAPE = re.compile(r"\\(?:x([0-9a-fA-F]{2})|u([0-9a-fA-F]{4})|U([0-9a-fA-F]{8})|(\r\n|\n|\r)|(.))", re.S)
_SIMPLE_ESCAPES = {
    "a": "\a", "b": "\b", "t": "\t", "n": "\n", "f": "\f", "r": "\r", "v": "\v",
    "?": "?", "0": "\0", "'": "'", '"': '"', "/": "/", "\\": "\\",
}  # fmt: skip
_FRACTION = re.compile(r"(\.\d{6})\d+")
_ZONE_SUFFIX = re.compile(r"\[[^\]]*\]$")


def _unescape(body: str) -> str:
    if "\\" not in body:
        return body

    def one(m: re.Match[str]) -> str:
        hex2, hex4, hex8, newline, simple = m.groups()
        if newline is not None:
            return ""  # an escaped line break continues the string
        if simple is not None:
            if simple not in _SIMPLE_ESCAPES:
                raise IonError(f"unknown escape \\{simple} in a string")
            return _SIMPLE_ESCAPES[simple]
        return chr(int(hex2 or hex4 or hex8, 16))

    return _ESCAPE.sub(one, body)


def _iso_parse(text: str, kind: type) -> Any:
    text = _FRACTION.sub(r"\1", _ZONE_SUFFIX.sub("", text.strip()))
    return kind.fromisoformat(text)  # type: ignore[attr-defined]


def _typed_string(annotation: str, text: str) -> Any:
    """Kestra's typed strings (Java time classes) as Python values."""
    try:
        if annotation == "LocalDateTime":
            return _iso_parse(text, dt.datetime)
        if annotation == "LocalDate":
            return _iso_parse(text, dt.date)
        if annotation in ("LocalTime", "OffsetTime"):
            return _iso_parse(text, dt.time)
        if annotation in ("OffsetDateTime", "ZonedDateTime", "Instant"):
            value = _iso_parse(text, dt.datetime)
            return value if value.tzinfo is not None else value.replace(tzinfo=UTC)
    except ValueError:
        return text
    return text


_TYPED = {"LocalDateTime", "LocalDate", "LocalTime", "OffsetTime", "OffsetDateTime", "ZonedDateTime", "Instant"}


class _Parser:
    """Recursive descent over one text buffer; ``final`` says no more text will come."""

    __slots__ = ("text", "pos", "final", "end")

    def __init__(self, text: str, final: bool):
        self.text = text
        self.pos = 0
        self.final = final
        self.end = len(text)

    def fail(self, message: str, at: int | None = None) -> IonError:
        at = self.pos if at is None else at
        line = self.text.count("\n", 0, at) + 1
        column = at - (self.text.rfind("\n", 0, at) + 1) + 1
        return IonError(f"{message} (line {line}, column {column} of the chunk being read)")

    def skip(self) -> None:
        self.pos = _WS.match(self.text, self.pos).end()  # type: ignore[union-attr]
        if self.text.startswith("/*", self.pos) or (self.pos == self.end - 1 and self.text[self.pos] == "/"):
            if not self.final:
                raise _Incomplete
            raise self.fail("unterminated comment")

    def at_end(self) -> bool:
        self.skip()
        return self.pos >= self.end

    def need(self) -> str:
        if self.pos >= self.end:
            if not self.final:
                raise _Incomplete
            raise self.fail("the text ends inside a value")
        return self.text[self.pos]

    def token_end(self, end: int) -> int:
        """``end`` if a delimiter follows there; more text may be needed when it is the buffer's end."""
        if end >= self.end:
            if not self.final:
                raise _Incomplete
            return end
        if self.text[end] in _DELIMITERS:
            return end
        raise self.fail(f"unexpected {self.text[end]!r} after {self.text[self.pos:end]!r}", end)

    # -- values --

    def value(self, in_sexp: bool = False) -> Any:
        """A value with its annotations resolved to plain data."""
        annotations: list[str] = []
        text = self.text
        while True:
            self.skip()
            c = self.need()
            start = self.pos
            if c == "'" and not text.startswith("'''", start):
                name = self.quoted_symbol()
            elif c.isalpha() or c in "_$":
                m = _IDENT.match(text, start)
                assert m is not None
                name = m.group()
                if name in ("null", "true", "false", "nan"):
                    break
                self.pos = m.end()
            else:
                break
            after = self.pos
            self.skip()
            if text.startswith("::", self.pos):
                self.pos += 2
                annotations.append(name)
                continue
            if self.pos >= self.end and not self.final:
                raise _Incomplete  # an annotation's '::' may still follow
            self.pos = after if c == "'" else self.token_end(after)
            return name  # a symbol value
        result = self.bare_value(c, in_sexp)
        if annotations and isinstance(result, str) and annotations[0] in _TYPED:
            return _typed_string(annotations[0], result)
        return result

    def bare_value(self, c: str, in_sexp: bool) -> Any:
        text, start = self.text, self.pos
        if c == "{":
            if text.startswith("{{", start):
                return self.lob()
            return self.struct()
        if c == "[":
            return self.sequence("]")
        if c == "(":
            return self.sequence(")")
        if c == '"':
            m = _SHORT_STRING.match(text, start)
            if m is None:
                return self.incomplete_or("unterminated string")
            self.pos = m.end()
            return _unescape(m.group(1))
        if c == "'":
            return self.long_strings()
        if c.isalpha():
            m = _IDENT.match(text, start)
            assert m is not None
            word = m.group()
            if word == "null" and text.startswith(".", m.end()):
                typed = _IDENT.match(text, m.end() + 1)
                end = typed.end() if typed else m.end() + 1
                self.pos = self.token_end(end)
                return None
            self.pos = self.token_end(m.end())
            return {"null": None, "true": True, "false": False, "nan": math.nan}[word]
        if c.isdigit() or (c in "+-" and start + 1 < self.end and text[start + 1].isdigit()):
            return self.number_or_timestamp()
        if c in "+-" and text.startswith(("+inf", "-inf"), start):
            end = start + 4
            if end >= self.end or text[end] in _DELIMITERS:
                self.pos = self.token_end(end)
                return math.inf if c == "+" else -math.inf
        if in_sexp:
            m = _OPERATOR.match(text, start)
            if m is not None:
                self.pos = m.end()
                return m.group()
        if c in "+-" and start + 1 >= self.end and not self.final:
            raise _Incomplete
        raise self.fail(f"unexpected {c!r}")

    def incomplete_or(self, message: str) -> Any:
        if not self.final:
            raise _Incomplete
        raise self.fail(message)

    def quoted_symbol(self) -> str:
        m = _QUOTED.match(self.text, self.pos)
        if m is None:
            return self.incomplete_or("unterminated quoted symbol")
        self.pos = m.end()
        return _unescape(m.group(1))

    def long_strings(self) -> str:
        parts = []
        while True:
            m = _LONG_STRING.match(self.text, self.pos)
            if m is None:
                return self.incomplete_or("unterminated long string")
            parts.append(_unescape(m.group(1)))
            self.pos = m.end()
            save = self.pos
            self.skip()
            if self.pos >= self.end and not self.final:
                raise _Incomplete  # another ''' part may follow
            if not self.text.startswith("'''", self.pos):
                self.pos = save
                return "".join(parts)

    def lob(self) -> bytes:
        close = self.text.find("}}", self.pos + 2)
        if close < 0:
            return self.incomplete_or("unterminated blob")
        body = self.text[self.pos + 2 : close].strip()
        self.pos = close + 2
        if body.startswith(('"', "'")):
            sub = _Parser(body, True)
            text = sub.long_strings() if body.startswith("'''") else sub.bare_value('"', False)
            return text.encode("latin-1", "replace")
        try:
            return base64.b64decode("".join(body.split()), validate=True)
        except ValueError:
            raise self.fail("invalid base64 in a blob") from None

    def number_or_timestamp(self) -> Any:
        text, start = self.text, self.pos
        ts = _TIMESTAMP.match(text, start)
        if ts is not None:
            self.pos = self.token_end(ts.end())
            return _timestamp_value(ts)
        m = _NUMBER.match(text, start)
        assert m is not None
        self.pos = self.token_end(m.end())
        try:
            return _number(m.group())
        except IonError as exc:
            raise self.fail(str(exc), start) from None

    def struct(self) -> dict[str, Any]:
        self.pos += 1
        out: dict[str, Any] = {}
        text = self.text
        while True:
            self.skip()
            c = self.need()
            if c == "}":
                self.pos += 1
                return out
            if c == '"':
                m = _SHORT_STRING.match(text, self.pos)
                if m is None:
                    return self.incomplete_or("unterminated field name")
                name = _unescape(m.group(1))
                self.pos = m.end()
            elif c == "'":
                name = self.long_strings() if text.startswith("'''", self.pos) else self.quoted_symbol()
            else:
                m = _IDENT.match(text, self.pos)
                if m is None:
                    raise self.fail(f"expected a field name, found {c!r}")
                name = m.group()
                self.pos = m.end()
            self.skip()
            if self.need() != ":" or text.startswith("::", self.pos):
                raise self.fail(f"expected ':' after the field name {name!r}")
            self.pos += 1
            out[name] = self.value()
            self.skip()
            c = self.need()
            if c == ",":
                self.pos += 1
            elif c != "}":
                raise self.fail(f"expected ',' or '}}' after the field {name!r}")

    def sequence(self, close: str) -> list[Any]:
        self.pos += 1
        out: list[Any] = []
        sexp = close == ")"
        while True:
            self.skip()
            if self.need() == close:
                self.pos += 1
                return out
            out.append(self.value(in_sexp=sexp))
            self.skip()
            c = self.need()
            if c == "," and not sexp:
                self.pos += 1
            elif c != close and not sexp:
                raise self.fail(f"expected ',' or '{close}' in a list")


def _timestamp_value(m: re.Match[str]) -> dt.date | dt.datetime:
    if m.group("y2") is not None:  # 2024T, 2024-05T: year or month precision
        return dt.date(int(m.group("y2")), int(m.group("m2") or 1), 1)
    year, month, day = int(m.group("y")), int(m.group("m")), int(m.group("d"))
    if m.group("H") is None:
        return dt.date(year, month, day)
    fraction = m.group("f") or ""
    micros = int((fraction[1:] + "000000")[:6]) if fraction else 0
    offset = m.group("o")
    if offset in ("Z", "-00:00", "+00:00"):
        tz: dt.tzinfo = UTC
    else:
        sign = -1 if offset[0] == "-" else 1
        tz = dt.timezone(sign * dt.timedelta(hours=int(offset[1:3]), minutes=int(offset[4:6])))
    hour, minute, second = int(m.group("H")), int(m.group("M")), int(m.group("S") or 0)
    return dt.datetime(year, month, day, hour, minute, second, micros, tz)


# The fast path: a flat struct on one line (what Kestra and Lanner write for table rows) is checked with one
# regular expression and cut into fields by another, both in C, leaving a small conversion per field.
_STR = r"[^\"\\\n]*(?:\\.[^\"\\\n]*)*"
_NAME = r"(?:(?P<n>[A-Za-z_$][\w$]*)|'(?P<qn>[^'\\\n]*(?:\\.[^'\\\n]*)*)'|\"(?P<sn>" + _STR + r")\")"
_VALUE = r"(?:(?P<a>[A-Za-z_$][\w$]*)::)?(?:\"(?P<s>" + _STR + r")\"|(?P<o>[-+\w.:]+))"
_FAST_FIELD = re.compile(_NAME + ":" + _VALUE + "[,}]")
_PLAIN_FIELD = re.sub(r"\?P<\w+>", "?:", _NAME + ":" + _VALUE)  # the same without group names
_FAST_LINE = re.compile(r"\{(?:" + _PLAIN_FIELD + r",)*(?:" + _PLAIN_FIELD + r")?\}\s*")
_WORDS: dict[str, Any] = {"null": None, "true": True, "false": False, "nan": math.nan, "+inf": math.inf, "-inf": -math.inf}


def _fast_scalar(token: str) -> Any:
    if token in _WORDS:
        return _WORDS[token]
    first = token[0]
    if first.isalpha() or first in "_$":
        if token.startswith("null."):
            return None
        if _IDENT.fullmatch(token):
            return token  # a symbol
        raise IonError(f"invalid value {token!r}")
    if "T" in token or (len(token) == 10 and token[4] == "-"):
        m = _TIMESTAMP.fullmatch(token)
        if m is None:
            raise IonError(f"invalid timestamp {token!r}")
        return _timestamp_value(m)
    m = _NUMBER.fullmatch(token)
    if m is None:
        raise IonError(f"invalid value {token!r}")
    return _number(token)


def _number(raw: str) -> Any:
    token = raw.replace("_", "") if "_" in raw else raw
    lower = token.lower()
    try:
        if "0x" in lower:
            return int(lower, 16)
        if "0b" in lower:
            return int(lower, 2)
        if "e" in lower:
            return float(token)
        if "d" in lower or "." in token:
            return Decimal(lower.replace("d", "e"))
        return int(token)
    except ValueError:
        raise IonError(f"invalid number {raw!r}") from None


_STRING_ROW_KEYS = re.compile(r"\{[A-Za-z_$][\w$]*:(?:,[A-Za-z_$][\w$]*:)*")
_row_names: dict[str, list[str] | None] = {}


def _string_row(line: str) -> dict[str, Any] | None:
    """The fastest path: a struct of plain strings without escapes (CSV rows), cut at its quotes."""
    if "\\" in line or "'" in line:
        return None
    parts = line.split('"')
    if len(parts) < 3 or parts[-1].rstrip() != "}":
        return None
    keys = "".join(parts[0:-1:2])
    names = _row_names.get(keys)
    if names is None:
        if keys in _row_names or _STRING_ROW_KEYS.fullmatch(keys.lstrip()) is None:
            if len(_row_names) < 1000:
                _row_names[keys] = None
            return None
        names = [k.strip()[1:-1] for k in parts[0:-1:2]]
        if len(_row_names) < 1000:
            _row_names[keys] = names
    return dict(zip(names, parts[1::2], strict=True))


def _fast_struct(line: str) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name, quoted, string_name, annotation, string, other in _FAST_FIELD.findall(line, line.index("{") + 1):
        key = name or _unescape(quoted or string_name)
        if other:
            out[key] = _fast_scalar(other)
        else:
            value = _unescape(string) if "\\" in string else string
            out[key] = _typed_string(annotation, value) if annotation in _TYPED else value
    return out


def _top_level(values: list[Any], parser: _Parser) -> None:
    """Parse every complete top-level value of the buffer into ``values`` (Ion system values skipped)."""
    while not parser.at_end():
        start = parser.pos
        try:
            value = parser.value()
        except _Incomplete:
            parser.pos = start
            raise
        if value == "$ion_1_0" and parser.text.startswith("$ion_1_0", start):
            continue
        if parser.text.startswith("$ion_symbol_table::", start):
            continue
        values.append(value)


def loads(text: str) -> list[Any]:
    """Every value of an Ion text, as plain data."""
    values: list[Any] = []
    _top_level(values, _Parser(text, True))
    return values


def iter_values(lines: Iterable[str]) -> Iterator[Any]:
    """Every value of Ion text given as lines (a text file), read in bounded memory.

    A value usually fits on one line; one spread over several lines is read by
    taking more lines at a time (doubling), so the work stays linear.
    """
    it = iter(lines)
    buffer = ""
    fast = _FAST_LINE.fullmatch
    for line in it:
        if not buffer:
            row = _string_row(line)
            if row is not None:
                yield row
                continue
            if fast(line):
                yield _fast_struct(line)
                continue
            if line.isspace():
                continue
        buffer = buffer + line if buffer else line
        take = 1
        while True:
            parser = _Parser(buffer, False)
            values: list[Any] = []
            try:
                _top_level(values, parser)
                buffer = ""
            except _Incomplete:
                buffer = buffer[parser.pos :]
            yield from values
            if not buffer:
                break
            more = [next(it, None) for _ in range(take)]
            got = [m for m in more if m is not None]
            buffer += "".join(got)
            if len(got) < take:
                yield from loads(buffer)  # the input ended: what is left must be complete
                return
            take *= 2


def read_file(fh: IO[str]) -> Iterator[Any]:
    """The values of an Ion text file opened for reading (text mode)."""
    return iter_values(fh)
