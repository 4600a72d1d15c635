"""Kestra's filters, tests and functions, written for Jinja2 and bounded.

Names are Kestra's (camelCase). Jinja built-ins that could build unbounded
values (``center``, ``indent``, ``format``, ``join``, ``batch``, ``slice``,
``list``, ``sort`` ...) are replaced by bounded versions here; the ones that
run regular expressions over user text (``striptags``, ``urlize``) or can
multiply text (``wordwrap``, ``xmlattr``) are removed. Every filter that needs
the limits takes the environment (``@pass_environment``) and reads
``env.limits``.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import re
import unicodedata
import urllib.parse
from collections.abc import Callable, Iterable, Mapping
from typing import Any

import yaml
from jinja2 import pass_context, pass_environment
from jinja2.exceptions import TemplateRuntimeError
from jinja2.filters import FILTERS as JINJA_FILTERS
from jinja2.filters import do_sort, do_unique, make_attrgetter
from jinja2.runtime import Undefined
from jinja2.tests import TESTS as JINJA_TESTS
from jinja2.utils import _PassArg

from engine.expressions import bounds, dates
from engine.expressions.bounds import bounded_list, check_items, check_text, to_json, to_text


class FilterError(TemplateRuntimeError):
    """A filter or function was given a value it cannot work with."""


def _text(value: Any, env: Any) -> str:
    return to_text(value, env.limits)


def _fail(message: str) -> FilterError:
    return FilterError(message)


# --- general ------------------------------------------------------------------------------------


def default(value: Any, default_value: Any = "", boolean: bool = False) -> Any:
    """Jinja's default, that also replaces ``None`` (Pebble's ``??`` / ``default``)."""
    if value is None or isinstance(value, Undefined) or (boolean and not value):
        return default_value
    return value


@pass_environment
def number(env: Any, value: Any, type: str | None = None) -> int | float:  # noqa: A002 - Kestra's name
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
def to_json_filter(env: Any, value: Any, indent: int | None = None) -> str:
    """Dump to compact JSON (Kestra's ``toJson``; ``json`` is its old name)."""
    return to_json(value, env.limits, indent=indent if isinstance(indent, int) and 0 < indent <= 16 else None)


@pass_environment
def from_json(env: Any, value: Any) -> Any:
    """Parse a JSON text."""
    if not isinstance(value, (str, bytes)):
        if isinstance(value, Undefined):
            value._fail_with_undefined_error()
        return value  # already parsed (Kestra accepts maps and lists too)
    check_text(len(value), env.limits, "the JSON text")
    try:
        return json.loads(value)
    except json.JSONDecodeError as exc:
        raise _fail(f"fromJson got invalid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}") from None


@pass_environment
def to_yaml(env: Any, value: Any) -> str:
    """Dump to block-style YAML."""
    bounds.measure(value, env.limits, "the YAML text")
    plain = json.loads(to_json(value, env.limits))  # dates, sets ... as JSON would print them
    return yaml.safe_dump(plain, default_flow_style=False, allow_unicode=True, sort_keys=False)


@pass_environment
def from_yaml(env: Any, value: Any) -> Any:
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
def capitalize(env: Any, value: Any) -> str:
    """Pebble's capitalize: upper-case the first character, leave the rest as is."""
    text = _text(value, env)
    return text[:1].upper() + text[1:]


@pass_environment
def slugify(env: Any, value: Any) -> str:
    """``"Hello, World!"`` -> ``"hello-world"`` (ASCII, lower case, dashes)."""
    text = unicodedata.normalize("NFKD", _text(value, env)).encode("ascii", "ignore").decode("ascii")
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")


def _digest(name: str) -> Callable[..., str]:
    @pass_environment
    def digest(env: Any, value: Any) -> str:
        data = value if isinstance(value, bytes) else _text(value, env).encode("utf-8")
        return hashlib.new(name, data).hexdigest()

    digest.__name__ = name
    digest.__doc__ = f"Hex {name} digest of the UTF-8 text."
    return digest


@pass_environment
def base64encode(env: Any, value: Any) -> str:
    data = value if isinstance(value, bytes) else _text(value, env).encode("utf-8")
    check_text(len(data) * 4 // 3 + 4, env.limits, "the base64 text")
    return base64.b64encode(data).decode("ascii")


@pass_environment
def base64decode(env: Any, value: Any) -> str:
    text = _text(value, env).strip()
    try:
        return base64.b64decode(text, validate=True).decode("utf-8")
    except (binascii.Error, ValueError):
        raise _fail(f"base64decode got text that is not valid base64 of UTF-8 text: {_short(text)}") from None


@pass_environment
def urlencode(env: Any, value: Any) -> str:
    """Java's ``URLEncoder`` (form encoding, space as ``+``); maps become query strings."""
    if isinstance(value, Mapping):
        return urllib.parse.urlencode({_text(k, env): _text(v, env) for k, v in value.items()})
    text = _text(value, env)
    check_text(len(text) * 9, env.limits, "the encoded text")
    return urllib.parse.quote_plus(text, safe="*").replace("~", "%7E")


@pass_environment
def urldecode(env: Any, value: Any) -> str:
    return urllib.parse.unquote_plus(_text(value, env))


@pass_environment
def starts_with(env: Any, value: Any, prefix: Any) -> bool:
    return _text(value, env).startswith(_text(prefix, env))


@pass_environment
def ends_with(env: Any, value: Any, suffix: Any) -> bool:
    return _text(value, env).endswith(_text(suffix, env))


@pass_environment
def replace(env: Any, value: Any, old: Any, new: Any = None, count: int | None = None) -> str:
    """``replace('a', 'b')`` as in Jinja, or ``replace({'a': 'b', 'c': 'd'})`` as in Pebble."""
    text = _text(value, env)
    pairs = [(_text(k, env), _text(v, env)) for k, v in old.items()] if isinstance(old, Mapping) else None
    if pairs is None:
        if new is None:
            raise _fail("replace expects a map of replacements or two texts: replace('old', 'new')")
        pairs = [(_text(old, env), _text(new, env))]
    limit = -1 if count is None else int(count)
    for a, b in pairs:
        check_text(bounds.replaced_size(text, a, b, limit), env.limits, "the replaced text")
        text = text.replace(a, b, limit)
    return text


@pass_environment
def split(env: Any, value: Any, delimiter: Any = None, limit: int | None = None) -> list[str]:
    """Split on a literal delimiter (not a regex); ``limit`` is the most pieces (Java's meaning)."""
    text = _text(value, env)
    maxsplit = int(limit) - 1 if limit is not None and int(limit) > 0 else -1
    sep = None if delimiter is None else _text(delimiter, env)
    check_items(bounds.split_count(text, sep, maxsplit), env.limits, "the split list")
    if sep == "":
        return list(text)
    return text.split(sep, maxsplit)


def _substring(before: bool, last: bool) -> Callable[..., str]:
    @pass_environment
    def cut(env: Any, value: Any, separator: Any) -> str:
        text, sep = _text(value, env), _text(separator, env)
        if not sep:
            return "" if before else text
        index = text.rfind(sep) if last else text.find(sep)
        if index < 0:
            return text if before else ""
        return text[:index] if before else text[index + len(sep):]

    return cut


@pass_environment
def abbreviate(env: Any, value: Any, length: int) -> str:
    """Cut to ``length`` characters, the last three being ``...``."""
    text = _text(value, env)
    length = int(length)
    if length < 4:
        raise _fail("abbreviate length must be at least 4")
    return text if len(text) <= length else text[: length - 3] + "..."


@pass_environment
def center(env: Any, value: Any, width: int = 80) -> str:
    check_text(int(width), env.limits, "the centred text")
    return _text(value, env).center(int(width))


@pass_environment
def indent(env: Any, value: Any, width: int | str = 4, first: bool = False, blank: bool = False) -> str:
    """Jinja's indent (not the first line unless ``first``), bounded."""
    pad = width if isinstance(width, str) else " " * min(max(int(width), 0), env.limits.max_output)
    text = _text(value, env)
    check_text(len(text) + (text.count("\n") + 1) * len(pad), env.limits, "the indented text")
    lines = text.split("\n")
    out = [
        line if (i == 0 and not first) or (not blank and not line.strip()) else pad + line
        for i, line in enumerate(lines)
    ]
    return "\n".join(out)


@pass_environment
def nindent(env: Any, value: Any, width: int | str = 4) -> str:
    """A newline, then the text with every line indented (Kestra/Helm's ``nindent``)."""
    return "\n" + indent(env, value, width, first=True)


@pass_environment
def format_filter(env: Any, value: Any, *args: Any, **kwargs: Any) -> str:
    """``"%s-%d"|format(a, b)``, with widths and sizes bounded."""
    if args and kwargs:
        raise _fail("format takes positional or keyword arguments, not both")
    fmt = _text(value, env)
    values: Any = kwargs or args
    bounds.check_percent(fmt, values, env.limits)
    return fmt % values


@pass_environment
def string(env: Any, value: Any) -> str:
    return _text(value, env)


# --- collections --------------------------------------------------------------------------------


@pass_environment
def to_list(env: Any, value: Any) -> list[Any]:
    if isinstance(value, Mapping):
        return bounded_list(value.keys(), env.limits)
    return bounded_list(value, env.limits)


@pass_environment
def join(env: Any, value: Any, separator: Any = "", attribute: Any = None) -> str:
    items = bounded_list(value, env.limits)
    if attribute is not None:
        items = list(map(make_attrgetter(env, attribute), items))
    return bounds.joined(items, _text(separator, env), env.limits)


@pass_environment
def first(env: Any, value: Any) -> Any:
    for item in value:
        return item
    return env.undefined("first: the sequence is empty")


@pass_environment
def last(env: Any, value: Any) -> Any:
    items = value if isinstance(value, (str, list, tuple)) else bounded_list(value, env.limits)
    if not items:
        return env.undefined("last: the sequence is empty")
    return items[-1]


@pass_environment
def length(env: Any, value: Any) -> int:
    if isinstance(value, Undefined):
        value._fail_with_undefined_error()
    if value is None:
        return 0
    if hasattr(value, "__len__"):
        return len(value)
    return len(bounded_list(value, env.limits))


@pass_environment
def sort(env: Any, value: Any, reverse: bool = False, case_sensitive: bool = False, attribute: Any = None) -> list[Any]:
    return do_sort(env, bounded_list(value, env.limits), reverse, case_sensitive, attribute)


@pass_environment
def rsort(env: Any, value: Any, case_sensitive: bool = False, attribute: Any = None) -> list[Any]:
    return sort(env, value, True, case_sensitive, attribute)


@pass_environment
def reverse(env: Any, value: Any) -> Any:
    if isinstance(value, str):
        return value[::-1]
    return bounded_list(value, env.limits)[::-1]


@pass_environment
def unique(env: Any, value: Any, case_sensitive: bool = False, attribute: Any = None) -> list[Any]:
    return list(do_unique(env, bounded_list(value, env.limits), case_sensitive, attribute))


@pass_environment
def distinct(env: Any, value: Any) -> list[Any]:
    """Pebble's distinct: drop repeated items, keep the first order (case-sensitive)."""
    return unique(env, value, True)


@pass_environment
def chunk(env: Any, value: Any, size: int) -> list[list[Any]]:
    """``[1,2,3,4,5]|chunk(2)`` -> ``[[1,2],[3,4],[5]]``."""
    size = int(size)
    if size <= 0:
        raise _fail("chunk size must be a positive number")
    items = bounded_list(value, env.limits)
    return [items[i: i + size] for i in range(0, len(items), size)]


@pass_environment
def batch(env: Any, value: Any, linecount: int, fill_with: Any = None) -> list[list[Any]]:
    linecount = int(linecount)
    if linecount <= 0:
        raise _fail("batch size must be a positive number")
    check_items(linecount, env.limits, "a batch")
    rows = chunk(env, value, linecount)
    if fill_with is not None and rows and len(rows[-1]) < linecount:
        rows[-1] = rows[-1] + [fill_with] * (linecount - len(rows[-1]))
    return rows


@pass_environment
def slice_filter(env: Any, value: Any, slices: int, fill_with: Any = None) -> list[list[Any]]:
    slices = int(slices)
    if slices <= 0:
        raise _fail("slice count must be a positive number")
    check_items(slices, env.limits, "the slices")
    items = bounded_list(value, env.limits)
    per, extra = divmod(len(items), slices)
    out, offset = [], 0
    for i in range(slices):
        end = offset + per + (1 if i < extra else 0)
        part = items[offset:end]
        if fill_with is not None and extra and i >= extra:
            part.append(fill_with)
        out.append(part)
        offset = end
    return out


@pass_environment
def merge(env: Any, value: Any, other: Any) -> Any:
    """Merge two maps (right wins) or concatenate two lists."""
    if isinstance(value, Mapping) and isinstance(other, Mapping):
        return {**value, **other}
    if isinstance(value, (list, tuple)) and isinstance(other, (list, tuple)):
        check_items(len(value) + len(other), env.limits, "the merged list")
        return [*value, *other]
    raise _fail(f"merge needs two maps or two lists, not {type(value).__name__} and {type(other).__name__}")


def keys(value: Any) -> list[Any]:
    if isinstance(value, Mapping):
        return list(value.keys())
    raise _fail(f"keys needs a map, not {type(value).__name__}")


def values(value: Any) -> list[Any]:
    if isinstance(value, Mapping):
        return list(value.values())
    raise _fail(f"values needs a map, not {type(value).__name__}")


@pass_environment
def pprint(env: Any, value: Any) -> str:
    return to_json(value, env.limits, indent=2)


def _sized_input(filter_fn: Callable[..., Any]) -> Callable[..., Any]:
    """Wrap a lazy Jinja filter so its input cannot be longer than ``max_items``."""
    pass_arg = _PassArg.from_obj(filter_fn)

    @pass_context
    def wrapper(context: Any, value: Any, *args: Any, **kwargs: Any) -> Any:
        env = context.environment
        if hasattr(value, "__len__") and not isinstance(value, Undefined):
            check_items(len(value), env.limits, f"the input of {filter_fn.__name__}")
        if pass_arg is _PassArg.context:
            return filter_fn(context, value, *args, **kwargs)
        if pass_arg is _PassArg.eval_context:
            return filter_fn(context.eval_ctx, value, *args, **kwargs)
        if pass_arg is _PassArg.environment:
            return filter_fn(env, value, *args, **kwargs)
        return filter_fn(value, *args, **kwargs)

    wrapper.__name__ = filter_fn.__name__
    wrapper.__doc__ = filter_fn.__doc__
    return wrapper


# --- dates --------------------------------------------------------------------------------------


def date(value: Any, format: str | None = None, timeZone: str | None = None, existingFormat: str | None = None,  # noqa: A002,N803
         locale: str | None = None) -> str:  # fmt: skip
    """Format with a Java pattern (``yyyy-MM-dd``) or a Kestra name (``iso``, ``sql`` ...)."""
    if existingFormat:
        value = dates.parse_date(value, existingFormat)
    return dates.format_date(value, format, timeZone)


def date_add(value: Any, amount: Any, unit: str) -> str:
    return dates.date_add(value, amount, unit)


def _epoch(per_second: int, name: str) -> Callable[..., int]:
    def stamp(value: Any, timeZone: str | None = None) -> int:  # noqa: N803 - Kestra's keyword
        return dates.epoch(value, per_second, name)

    stamp.__name__ = name
    return stamp


# --- tests --------------------------------------------------------------------------------------


def is_null(value: Any) -> bool:
    return value is None


def is_empty(value: Any) -> bool:
    if value is None or isinstance(value, Undefined):
        return True
    try:
        return len(value) == 0
    except TypeError:
        return False


def contains(value: Any, item: Any) -> bool:
    return item in value if isinstance(value, (str, Mapping, list, tuple, set, frozenset)) else False


# --- tables -------------------------------------------------------------------------------------

#: Jinja built-ins dropped from the sandbox: regexes over user text, or text multipliers.
REMOVED_FILTERS = ("striptags", "urlize", "wordwrap", "xmlattr")

KESTRA_FILTERS: dict[str, Callable[..., Any]] = {
    "default": default,
    "d": default,
    "number": number,
    "json": to_json_filter,
    "toJson": to_json_filter,
    "tojson": to_json_filter,
    "fromJson": from_json,
    "yaml": to_yaml,
    "toYaml": to_yaml,
    "fromYaml": from_yaml,
    "capitalize": capitalize,
    "slugify": slugify,
    "md5": _digest("md5"),
    "sha1": _digest("sha1"),
    "sha256": _digest("sha256"),
    "sha512": _digest("sha512"),
    "base64encode": base64encode,
    "base64decode": base64decode,
    "urlencode": urlencode,
    "urldecode": urldecode,
    "startsWith": starts_with,
    "endsWith": ends_with,
    "replace": replace,
    "split": split,
    "substringBefore": _substring(before=True, last=False),
    "substringBeforeLast": _substring(before=True, last=True),
    "substringAfter": _substring(before=False, last=False),
    "substringAfterLast": _substring(before=False, last=True),
    "abbreviate": abbreviate,
    "center": center,
    "indent": indent,
    "nindent": nindent,
    "format": format_filter,
    "string": string,
    "list": to_list,
    "join": join,
    "first": first,
    "last": last,
    "length": length,
    "count": length,
    "sort": sort,
    "rsort": rsort,
    "reverse": reverse,
    "unique": unique,
    "distinct": distinct,
    "chunk": chunk,
    "batch": batch,
    "slice": slice_filter,
    "merge": merge,
    "keys": keys,
    "values": values,
    "pprint": pprint,
    "date": date,
    "dateAdd": date_add,
    "timestamp": _epoch(1, "timestamp"),
    "timestampMilli": _epoch(1_000, "timestampMilli"),
    "timestampMicro": _epoch(1_000_000, "timestampMicro"),
    "timestampNano": _epoch(1_000_000_000, "timestampNano"),
}

#: Lazy Jinja filters whose input length is checked.
_SIZED = ("map", "select", "reject", "selectattr", "rejectattr", "groupby", "dictsort", "sum", "min", "max", "random")


def build_filters() -> dict[str, Callable[..., Any]]:
    table = {name: fn for name, fn in JINJA_FILTERS.items() if name not in REMOVED_FILTERS}
    for name in _SIZED:
        table[name] = _sized_input(JINJA_FILTERS[name])
    table.update(KESTRA_FILTERS)
    return table


def build_tests() -> dict[str, Callable[..., Any]]:
    table = dict(JINJA_TESTS)
    table.update(
        {
            "null": is_null,
            "empty": is_empty,
            "startsWith": lambda value, prefix: str(value).startswith(str(prefix)),
            "endsWith": lambda value, suffix: str(value).endswith(str(suffix)),
            "contains": contains,
        }
    )
    return table


def build_functions(env: Any) -> dict[str, Any]:
    """Globals every template sees (runtime functions such as ``secret`` come per render)."""
    limits = env.limits

    def bounded_range(*args: Any) -> range:
        result = range(*args)
        if len(result) > limits.max_range:
            raise bounds.too_long("range()", len(result), limits.max_range, "items")
        return result

    def make_dict(*args: Any, **kwargs: Any) -> dict[Any, Any]:
        return dict(*args, **kwargs)

    def extreme(pick: Callable[..., Any]) -> Callable[..., Any]:
        def choose(*args: Any) -> Any:
            if len(args) == 1 and isinstance(args[0], Iterable) and not isinstance(args[0], str):
                args = tuple(bounded_list(args[0], limits))
            if not args:
                raise _fail(f"{pick.__name__}() needs at least one value")
            return pick(args)

        return choose

    def now(timeZone: str | None = None) -> str:  # noqa: N803 - Kestra's keyword
        return dates.now(timeZone)

    return {
        "range": bounded_range,
        "dict": make_dict,
        "now": now,
        "fromJson": lambda value: from_json(env, value),
        "yaml": lambda value: from_yaml(env, value),
        "fromYaml": lambda value: from_yaml(env, value),
        "max": extreme(max),
        "min": extreme(min),
        "null": None,
    }
