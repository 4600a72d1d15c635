"""The filters, tests and globals of the environment, by Kestra's names.

One table per kind, built per environment. Jinja built-ins that run regular
expressions over user text (``striptags``, ``urlize``) or multiply text
(``wordwrap``, ``xmlattr``) are removed; the rest of Jinja's filters stay,
bounded where they could build large values.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from jinja2.filters import FILTERS as JINJA_FILTERS
from jinja2.tests import TESTS as JINJA_TESTS

from engine.expressions import bounds, dates
from engine.expressions import filters as f
from engine.expressions import sequences as s
from engine.expressions.bounds import bounded_list

#: Jinja built-ins dropped from the sandbox: regexes over user text, or text multipliers.
REMOVED_FILTERS = ("striptags", "urlize", "wordwrap", "xmlattr")

KESTRA_FILTERS: dict[str, Callable[..., Any]] = {
    "default": f.default,
    "d": f.default,
    "number": f.number,
    "json": f.to_json_filter,
    "toJson": f.to_json_filter,
    "tojson": f.to_json_filter,
    "fromJson": f.from_json,
    "yaml": f.to_yaml,
    "toYaml": f.to_yaml,
    "fromYaml": f.from_yaml,
    "capitalize": f.capitalize,
    "slugify": f.slugify,
    "md5": f.digest_filter("md5"),
    "sha1": f.digest_filter("sha1"),
    "sha256": f.digest_filter("sha256"),
    "sha512": f.digest_filter("sha512"),
    "base64encode": f.base64encode,
    "base64decode": f.base64decode,
    "urlencode": f.urlencode,
    "urldecode": f.urldecode,
    "startsWith": f.starts_with,
    "endsWith": f.ends_with,
    "replace": f.replace,
    "split": f.split,
    "substringBefore": f.substring_filter(before=True, last=False),
    "substringBeforeLast": f.substring_filter(before=True, last=True),
    "substringAfter": f.substring_filter(before=False, last=False),
    "substringAfterLast": f.substring_filter(before=False, last=True),
    "abbreviate": f.abbreviate,
    "center": f.center,
    "indent": f.indent,
    "nindent": f.nindent,
    "format": f.format_filter,
    "string": f.string,
    "list": s.to_list,
    "join": s.join,
    "first": s.first,
    "last": s.last,
    "length": s.length,
    "count": s.length,
    "sort": s.sort,
    "rsort": s.rsort,
    "reverse": s.reverse,
    "unique": s.unique,
    "distinct": s.distinct,
    "chunk": s.chunk,
    "batch": s.batch,
    "slice": s.slice_filter,
    "merge": s.merge,
    "keys": s.keys,
    "values": s.values,
    "pprint": s.pprint,
    "sum": s.total,
    "date": f.date,
    "dateAdd": f.date_add,
    "timestamp": f.epoch_filter(1, "timestamp"),
    "timestampMilli": f.epoch_filter(1_000, "timestampMilli"),
    "timestampMicro": f.epoch_filter(1_000_000, "timestampMicro"),
    "timestampNano": f.epoch_filter(1_000_000_000, "timestampNano"),
}

#: Lazy Jinja filters whose input length is checked.
_SIZED = ("map", "select", "reject", "selectattr", "rejectattr", "groupby", "dictsort", "min", "max", "random")


def build_filters() -> dict[str, Callable[..., Any]]:
    table = {name: fn for name, fn in JINJA_FILTERS.items() if name not in REMOVED_FILTERS}
    for name in _SIZED:
        table[name] = s.sized_input(JINJA_FILTERS[name])
    table.update(KESTRA_FILTERS)
    return table


def build_tests() -> dict[str, Callable[..., Any]]:
    table = dict(JINJA_TESTS)
    table.update(
        {
            "null": f.is_null,
            "empty": f.is_empty,
            "startsWith": lambda value, prefix: str(value).startswith(str(prefix)),
            "endsWith": lambda value, suffix: str(value).endswith(str(suffix)),
            "contains": f.contains,
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
                raise f.FilterError(f"{pick.__name__}() needs at least one value")
            return pick(args)

        return choose

    def now(timeZone: str | None = None) -> str:  # noqa: N803 - Kestra's keyword
        return dates.now(timeZone)

    return {
        "range": bounded_range,
        "dict": make_dict,
        "now": now,
        "fromJson": lambda value: f.from_json(env, value),
        "yaml": lambda value: f.from_yaml(env, value),
        "fromYaml": lambda value: f.from_yaml(env, value),
        "max": extreme(max),
        "min": extreme(min),
        "null": None,
    }
