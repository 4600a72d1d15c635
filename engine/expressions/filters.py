"""Kestra's text, number, JSON/YAML and date filters, written for Jinja2 and bounded.

Names are Kestra's (camelCase). Jinja built-ins that could build unbounded
text (``center``, ``indent``, ``format``, ``replace``) are replaced by bounded
versions here. Filters that need the limits take the environment
(``@pass_environment``) and read ``env.limits``. The tables that put them in
the environment are in :mod:`engine.expressions.catalog`.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import re
import unicodedata
import urllib.parse
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, SupportsIndex, SupportsInt

import yaml
from jinja2 import pass_environment
from jinja2.exceptions import TemplateRuntimeError
from jinja2.runtime import Undefined

from engine.expressions import bounds, dates, json_text
from engine.expressions.bounds import check_text, to_json, to_text

if TYPE_CHECKING:
    from engine.expressions.sandbox import LannerEnvironment


class FilterError(TemplateRuntimeError):
    """A filter or function was given a value it cannot work with."""


def _text(value: object, env: LannerEnvironment) -> str:
    return to_text(value, env.limits)


def _fail(message: str) -> FilterError:
    return FilterError(message)


def whole_number(value: object, what: str) -> int:
    """``int(value)`` of a filter's argument; a value ``int()`` cannot take (a list, a map) is named in the error."""
    if isinstance(value, (str, bytes, SupportsInt, SupportsIndex)):
        return int(value)
    raise FilterError(f"{what} must be a whole number, not {type(value).__name__}")


# --- general ------------------------------------------------------------------------------------


def blank(value: object) -> bool:
    """Pebble's notion of empty: null, blank text, empty list or map."""
    if value is None:
        return True
    if isinstance(value, str):
        return not value.strip()
    if isinstance(value, (list, tuple, set, frozenset, Mapping)):
        return len(value) == 0
    return False


def default(value: object, default_value: object = "", boolean: bool = False) -> Any:
    """Pebble's default: replaces an undefined, null or empty value (blank text, empty list or map).

    ``boolean=true`` (Jinja's spelling) also replaces anything false (0, false).
    """
    if isinstance(value, Undefined) or blank(value) or (boolean and not value):
        return default_value
    return value


@pass_environment
def number(env: LannerEnvironment, value: object, type: str | None = None) -> int | float:  # noqa: A002 - Kestra's name
    """Parse ``"12"`` to 12 and ``"1.5"`` to 1.5; ``type`` forces INT/LONG or FLOAT/DOUBLE."""
    if isinstance(value, bool):
        raise _fail(f"number expects a number or numeric text, not {value!r}")
    if isinstance(value, (int, float)):
        result: int | float = value
    else:
        text = _text(value, env).strip()
        if not re.fullmatch(r"[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?", text) or len(text) > 400:
            raise _fail(f"{_short(text)} is not a number")
        result = float(text) if any(c in text for c in ".eE") else int(text)
    kind = (type or "").upper()
    if kind in ("INT", "INTEGER", "LONG", "BIGINTEGER", "SHORT", "BYTE"):
        return int(result)
    if kind in ("FLOAT", "DOUBLE", "BIGDECIMAL"):
        return float(result)
    if kind:
        raise _fail(f"number type must be INT, LONG, FLOAT or DOUBLE, not {type!r}")
    return result


def _short(text: str) -> str:
    return repr(text if len(text) <= 40 else text[:39] + "…")


@pass_environment
def to_json_filter(env: LannerEnvironment, value: object, indent: int | None = None) -> str:
    """Dump to compact JSON (Kestra's ``toJson``; ``json`` is its old name)."""
    return to_json(value, env.limits, indent=indent if isinstance(indent, int) and 0 < indent <= 16 else None)


@pass_environment
def from_json(env: LannerEnvironment, value: object) -> Any:
    """Parse a JSON text."""
    if not isinstance(value, (str, bytes)):
        if isinstance(value, Undefined):
            value._fail_with_undefined_error()
        return value  # already parsed (Kestra accepts maps and lists too)
    try:
        return json_text.parse_json(value, env.limits)
    except json.JSONDecodeError as exc:
        raise _fail(f"fromJson got invalid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}") from None


@pass_environment
def to_yaml(env: LannerEnvironment, value: object) -> str:
    """Dump to block-style YAML."""
    bounds.measure(value, env.limits, "the YAML text")
    plain = json.loads(to_json(value, env.limits))  # dates, sets ... as JSON would print them
    return yaml.safe_dump(plain, default_flow_style=False, allow_unicode=True, sort_keys=False)


@pass_environment
def from_yaml(env: LannerEnvironment, value: object) -> Any:
    """Parse a YAML text (safe loader: no Python objects)."""
    if not isinstance(value, str):
        return value
    check_text(len(value), env.limits, "the YAML text")
    try:
        return yaml.safe_load(value)
    except yaml.YAMLError as exc:
        raise _fail(f"fromYaml got invalid YAML: {' '.join(str(exc).split())}") from None


# --- strings ------------------------------------------------------------------------------------


@pass_environment
def capitalize(env: LannerEnvironment, value: object) -> str:
    """Pebble's capitalize: upper-case the first character, leave the rest as is."""
    text = _text(value, env)
    return text[:1].upper() + text[1:]


@pass_environment
def slugify(env: LannerEnvironment, value: object) -> str:
    """``"Hello, World!"`` -> ``"hello-world"`` (ASCII, lower case, dashes)."""
    text = unicodedata.normalize("NFKD", _text(value, env)).encode("ascii", "ignore").decode("ascii")
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")


def digest_filter(name: str) -> Callable[..., str]:
    @pass_environment
    def digest(env: LannerEnvironment, value: object) -> str:
        data = value if isinstance(value, bytes) else _text(value, env).encode("utf-8")
        return hashlib.new(name, data).hexdigest()

    digest.__name__ = name
    digest.__doc__ = f"Hex {name} digest of the UTF-8 text."
    return digest


@pass_environment
def base64encode(env: LannerEnvironment, value: object) -> str:
    data = value if isinstance(value, bytes) else _text(value, env).encode("utf-8")
    check_text(len(data) * 4 // 3 + 4, env.limits, "the base64 text")
    return base64.b64encode(data).decode("ascii")


@pass_environment
def base64decode(env: LannerEnvironment, value: object) -> str:
    text = _text(value, env).strip()
    try:
        return base64.b64decode(text, validate=True).decode("utf-8")
    except (binascii.Error, ValueError):
        raise _fail(f"base64decode got text that is not valid base64 of UTF-8 text: {_short(text)}") from None


@pass_environment
def urlencode(env: LannerEnvironment, value: object) -> str:
    """Java's ``URLEncoder`` (form encoding, space as ``+``); maps become query strings."""
    if isinstance(value, Mapping):
        return urllib.parse.urlencode({_text(k, env): _text(v, env) for k, v in value.items()})
    text = _text(value, env)
    check_text(len(text) * 9, env.limits, "the encoded text")
    return urllib.parse.quote_plus(text, safe="*").replace("~", "%7E")


@pass_environment
def urldecode(env: LannerEnvironment, value: object) -> str:
    return urllib.parse.unquote_plus(_text(value, env))


@pass_environment
def starts_with(env: LannerEnvironment, value: object, prefix: object) -> bool:
    return _text(value, env).startswith(_text(prefix, env))


@pass_environment
def ends_with(env: LannerEnvironment, value: object, suffix: object) -> bool:
    return _text(value, env).endswith(_text(suffix, env))


def substring_filter(before: bool, last: bool) -> Callable[..., str]:
    @pass_environment
    def cut(env: LannerEnvironment, value: object, separator: object) -> str:
        text, sep = _text(value, env), _text(separator, env)
        if not sep:
            return "" if before else text
        index = text.rfind(sep) if last else text.find(sep)
        if index < 0:
            return text if before else ""
        return text[:index] if before else text[index + len(sep):]

    return cut


@pass_environment
def abbreviate(env: LannerEnvironment, value: object, length: int) -> str | None:
    """Pebble's abbreviate: at most ``length`` characters, the last three being ``...``."""
    if value is None:
        return None
    text = _text(value, env)
    width = int(length)
    if width < 0:
        raise _fail("abbreviate length must be 0 or more")
    if len(text) < width or len(text) <= 3:
        return text
    return text[:width] if width <= 3 else text[: width - 3] + "..."


@pass_environment
def title(env: LannerEnvironment, value: object) -> str | None:
    """Pebble's title: the first letter of every word upper-cased, the rest left as it is."""
    if value is None:
        return None
    text = _text(value, env)
    return re.sub(r"(^|\s)(\S)", lambda m: m.group(1) + m.group(2).upper(), text)


_ESCAPES = {"single": ("'", "\\'"), "double": ('"', '\\"'), "shell": ("'", "'\\''")}


@pass_environment
def escape_char(env: LannerEnvironment, value: object, type: object = None) -> Any:  # noqa: A002 - Kestra's name
    """``escapeChar('single'|'double'|'shell')`` on a text, or on every text of a map or list."""
    kind = str(type or "").lower()
    if kind not in _ESCAPES:
        raise _fail("escapeChar expects a type: 'single', 'double' or 'shell'")
    quote, replacement = _ESCAPES[kind]
    bounds.measure(value, env.limits, "the value given to escapeChar")  # its copy is built item by item

    def walk(item: object) -> Any:
        if isinstance(item, Mapping):
            return {k: walk(v) for k, v in item.items()}
        if isinstance(item, (list, tuple)):
            return [walk(v) for v in item]
        text = _text(item, env)
        check_text(len(text) + text.count(quote) * len(replacement), env.limits, "the escaped text")
        return text.replace(quote, replacement)

    return None if value is None else walk(value)


@pass_environment
def nl2br(env: LannerEnvironment, value: object) -> str | None:
    """Pebble's nl2br: a ``<br />`` before every newline."""
    if value is None:
        return None
    text = _text(value, env)
    check_text(len(text) + text.count("\n") * 6, env.limits, "the text")
    return text.replace("\n", "<br />\n")


@pass_environment
def center(env: LannerEnvironment, value: object, width: int = 80) -> str:
    check_text(int(width), env.limits, "the centred text")
    return _text(value, env).center(int(width))


@pass_environment
def indent(env: LannerEnvironment, value: object, amount: int | str = 4, prefix: object = None, *, first: bool = False, blank: bool = True) -> str | None:
    """Kestra's ``indent(amount, prefix=' ')``: every line but the first starts with ``prefix`` x ``amount``.

    Jinja's ``indent(width, first)`` works too: a boolean second argument is ``first``.
    """
    if value is None:
        return None
    if isinstance(prefix, bool):
        first, prefix = prefix, None
    count = int(amount) if not isinstance(amount, str) else 1
    unit = amount if isinstance(amount, str) else (" " if prefix is None else _text(prefix, env))
    if count < 0:
        raise _fail("indent amount must be 0 or more")
    check_text(count * len(unit), env.limits, "the indentation")
    pad = unit * count
    text = _text(value, env)
    check_text(len(text) + (text.count("\n") + 1) * len(pad), env.limits, "the indented text")
    lines = text.split("\n")
    out = [
        line if (i == 0 and not first) or (not blank and not line.strip()) else pad + line
        for i, line in enumerate(lines)
    ]
    return "\n".join(out)


@pass_environment
def nindent(env: LannerEnvironment, value: object, amount: int | str = 4, prefix: object = None) -> str | None:
    """A newline, then the text with every line indented (Kestra/Helm's ``nindent``)."""
    if value is None:
        return None
    return "\n" + (indent(env, value, amount, prefix, first=True) or "")


@pass_environment
def format_filter(env: LannerEnvironment, value: object, *args: object, **kwargs: object) -> str:
    """``"%s-%d"|format(a, b)``, with widths and sizes bounded."""
    if args and kwargs:
        raise _fail("format takes positional or keyword arguments, not both")
    fmt = _text(value, env)
    values: dict[str, object] | tuple[object, ...] = kwargs or args
    bounds.check_percent(fmt, values, env.limits)
    return fmt % values


@pass_environment
def string(env: LannerEnvironment, value: object) -> str:
    return _text(value, env)


# --- dates --------------------------------------------------------------------------------------


def date(value: object, format: str | None = None, timeZone: str | None = None, existingFormat: str | None = None,  # noqa: A002,N803
         locale: str | None = None) -> str | None:  # fmt: skip
    """Format with a Java pattern (``yyyy-MM-dd``) or a Kestra name (``iso``, ``sql`` ...); null stays null."""
    if value is None:
        return None
    if existingFormat:
        value = dates.parse_date(value, existingFormat)
    return dates.format_date(value, format, timeZone)


def date_add(value: object, amount: object, unit: str, format: str | None = None, timeZone: str | None = None,  # noqa: A002,N803
             existingFormat: str | None = None, locale: str | None = None) -> str | None:  # fmt: skip
    """``dateAdd(-1, 'DAYS')``; with ``format`` (and ``timeZone``) the result is formatted like ``date``."""
    if value is None:
        return None
    if existingFormat:
        value = dates.parse_date(value, existingFormat)
    moved = dates.date_add(value, amount, unit)
    return dates.format_date(moved, format, timeZone) if format or timeZone else moved


def epoch_filter(per_second: int, name: str) -> Callable[..., int | None]:
    def stamp(value: object, existingFormat: str | None = None, timeZone: str | None = None) -> int | None:  # noqa: N803
        if value is None:
            return None
        if existingFormat:
            value = dates.parse_date(value, existingFormat)
        return dates.epoch(value, per_second, name)

    stamp.__name__ = name
    return stamp
