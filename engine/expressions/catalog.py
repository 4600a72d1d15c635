"""Every filter, test and function of the environment, by Kestra's (and Pebble's) names.

One table per kind, built per environment. Jinja's built-ins stay available
(bounded where they could build large values) except those that run regular
expressions over user text or multiply text (``striptags``, ``urlize``,
``wordwrap``, ``xmlattr``); where Pebble and Jinja share a name with
different meanings (``slice``, ``title``, ``default``, ``first``, ``range``
with two arguments ...), Pebble's meaning wins. :data:`RUNTIME_FUNCTIONS`
names the functions the runner supplies per render, so validation knows them.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from functools import wraps
from typing import TYPE_CHECKING, Any, SupportsIndex

from jinja2.filters import FILTERS as JINJA_FILTERS
from jinja2.runtime import Undefined
from jinja2.tests import TESTS as JINJA_TESTS

from engine.expressions import (
    bounds,
    calendar_functions,
    crypto,
    dates,
    ion,
    jq_filter,
    numbers,
    regexes,
    semantics,
)
from engine.expressions import filters as f
from engine.expressions import functions as fn
from engine.expressions import predicates as p
from engine.expressions import sequences as s
from engine.expressions.bounds import bounded_list

if TYPE_CHECKING:
    from engine.expressions.sandbox import LannerEnvironment

#: Jinja built-ins dropped from the sandbox: regexes over user text, or text multipliers.
REMOVED_FILTERS = ("striptags", "urlize", "wordwrap", "xmlattr")

#: Functions the runner passes to every render (engine.runtime.expression_functions).
RUNTIME_FUNCTIONS = frozenset(
    {"secret", "read", "kv", "fileURI", "fileSize", "fileExists", "isFileEmpty", "fileEmpty", "errorLogs", "tasksWithState"}
)
#: Names a template may call that are not functions: macros' caller, recursive loops.
CALLABLE_NAMES = frozenset({"caller", "loop", "super", "varargs", "kwargs"})


def null_safe(filter_fn: Callable[..., Any]) -> Callable[..., Any]:
    """A Jinja text filter that gives null for null, as Pebble's filters do (``None|upper`` is not ``NONE``)."""

    @wraps(filter_fn)
    def wrapper(value: object, *args: object, **kwargs: object) -> Any:
        return None if value is None else filter_fn(value, *args, **kwargs)

    return wrapper


KESTRA_FILTERS: dict[str, Callable[..., Any]] = {
    "default": f.default,
    "d": f.default,
    "number": f.number,
    "numberFormat": numbers.number_format,
    "className": numbers.class_name,
    "json": f.to_json_filter,
    "toJson": f.to_json_filter,
    "jsonEncode": f.to_json_filter,
    "tojson": f.to_json_filter,
    "fromJson": f.from_json,
    "yaml": f.to_yaml,
    "toYaml": f.to_yaml,
    "fromYaml": f.from_yaml,
    "toIon": ion.to_ion,
    "jq": jq_filter.jq_filter,
    "capitalize": f.capitalize,
    "title": f.title,
    "abbreviate": f.abbreviate,
    "slugify": f.slugify,
    "escapeChar": f.escape_char,
    "nl2br": f.nl2br,
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
    "replace": regexes.replace,
    "split": regexes.split,
    "regexMatch": regexes.regex_match,
    "regexExtract": regexes.regex_extract,
    "regexReplace": regexes.regex_replace,
    "substringBefore": f.substring_filter(before=True, last=False),
    "substringBeforeLast": f.substring_filter(before=True, last=True),
    "substringAfter": f.substring_filter(before=False, last=False),
    "substringAfterLast": f.substring_filter(before=False, last=True),
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
    "flatten": s.flatten,
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

#: Jinja filters whose input is bounded first, by what they do with it (see sequences.sized_input):
#: item by item in Python (its length is enough), compared in C in pieces, or sorted in C.
_SIZED = {
    "map": "lazy", "select": "lazy", "reject": "lazy", "selectattr": "lazy", "rejectattr": "lazy", "random": "lazy",
    "min": "pieces", "max": "pieces", "groupby": "walk", "dictsort": "walk",
}
#: Jinja text filters that pass null through, as Pebble's do.
_NULL_SAFE = ("upper", "lower", "trim", "abs", "truncate", "wordcount", "round", "int", "float")
#: Jinja filters that print a list or map given to them with str(), in C: its size is checked first.
_PRINTING = ("upper", "lower", "trim", "truncate", "wordcount", "escape", "e", "forceescape", "safe", "filesizeformat")


def build_filters() -> dict[str, Callable[..., Any]]:
    table: dict[str, Callable[..., Any]] = {name: fn for name, fn in JINJA_FILTERS.items() if name not in REMOVED_FILTERS}
    for name, walk in _SIZED.items():
        table[name] = s.sized_input(JINJA_FILTERS[name], walk)
    for name in _NULL_SAFE:
        table[name] = null_safe(JINJA_FILTERS[name])
    for name in _PRINTING:
        table[name] = s.walked_input(table[name], prints=True)
    table.update(KESTRA_FILTERS)
    return table


def build_tests() -> dict[str, Callable[..., Any]]:
    # mypy joins jinja's tests to builtins.function, which it does not count as callable.
    table: dict[str, Callable[..., Any]] = dict(JINJA_TESTS)  # type: ignore[arg-type]
    table.update(p.COMPARISON_TESTS)  # Jinja's, comparing large values in pieces
    table.update(
        {
            "defined": p.is_defined,
            "null": p.is_null,
            "empty": p.is_empty,
            "even": p.is_even,
            "odd": p.is_odd,
            "iterable": p.is_iterable,
            "map": p.is_map,
            "json": p.is_json,
            "startsWith": s.walked_input(p.starts_with, prints=True),
            "endsWith": s.walked_input(p.ends_with, prints=True),
            "contains": s.walked_input(p.contains),
        }
    )
    return table


def build_functions(env: LannerEnvironment) -> dict[str, Any]:
    """Globals every template sees (runtime functions such as ``secret`` come per render)."""
    limits = env.limits

    def pebble_range(*args: object) -> range | list[int] | list[str]:
        """``range(end)`` as Jinja (end excluded); ``range(start, end[, step])`` as Pebble (end included)."""
        if len(args) >= 2:
            return semantics.inclusive_range(args[0], args[1], args[2] if len(args) > 2 else None, limits)
        if not args:
            raise f.FilterError("range() needs an end, like range(5), or a start and an end, like range(1, 5)")
        end = args[0]
        if isinstance(end, Undefined):
            end._fail_with_undefined_error()
        if not isinstance(end, SupportsIndex):
            raise f.FilterError(f"range() needs a whole number as its end, not {'null' if end is None else type(end).__name__}")
        result = range(end)
        if len(result) > limits.max_range:
            raise bounds.too_long("range()", len(result), limits.max_range, "items")
        return result

    def make_dict(items: Mapping[Any, object] | Iterable[tuple[Any, object]] = (), /, **kwargs: object) -> dict[Any, object]:
        return dict(items, **kwargs)

    def extreme(pick: Callable[..., Any]) -> Callable[..., Any]:
        def choose(*args: object) -> Any:
            if len(args) == 1 and isinstance(args[0], Iterable) and not isinstance(args[0], str):
                args = tuple(bounded_list(args[0], limits))
            if not args:
                raise f.FilterError(f"{pick.__name__}() needs at least one value")
            return pick(args)

        return choose

    def now(timeZone: str | None = None) -> str:  # noqa: N803 - Kestra's keyword
        return dates.now(timeZone)

    def parse_json(value: object = None) -> Any:
        return f.from_json(env, value)

    def parse_yaml(value: object = None) -> Any:
        return f.from_yaml(env, value)

    def parse_ion(ion_text: object = None, allRows: object = False, **kwargs: object) -> Any:  # noqa: N803
        return ion.from_ion(env, kwargs.get("ion", ion_text), allRows)

    return {
        "range": pebble_range,
        "dict": make_dict,
        "now": now,
        "fromJson": parse_json,
        "json": parse_json,
        "jsonDecode": parse_json,
        "yaml": parse_yaml,
        "fromYaml": parse_yaml,
        "fromIon": parse_ion,
        "max": extreme(max),
        "min": extreme(min),
        "render": fn.render,
        "renderOnce": fn.render_once,
        "printContext": fn.print_context,
        "fetchContext": fn.print_context,
        "currentEachOutput": fn.current_each_output,
        "iterationOutput": fn.iteration_output,
        "loopOutputs": fn.loop_outputs,
        "env": fn.env_function,
        "uuid": fn.new_uuid,
        "id": fn.new_id,
        "ksuid": fn.ksuid,
        "nanoId": fn.nano_id,
        "randomInt": fn.random_int,
        "randomPort": fn.random_port,
        "encrypt": crypto.encrypt,
        "decrypt": crypto.decrypt,
        "isWeekend": calendar_functions.is_weekend,
        "isPublicHoliday": calendar_functions.is_public_holiday,
        "isDayWeekInMonth": calendar_functions.is_day_week_in_month,
        "isLastWorkingDay": calendar_functions.is_last_working_day,
        "dayOfWeek": calendar_functions.day_of_week,
        "dayOfMonth": calendar_functions.day_of_month,
        "monthOfYear": calendar_functions.month_of_year,
        "hourOfDay": calendar_functions.hour_of_day,
        "isDateBetween": calendar_functions.is_date_between,
        "null": None,
    }


def known_function(name: str, env: LannerEnvironment) -> bool:
    """Whether ``name(...)`` can be called in a template of ``env`` (built-in or supplied at run time)."""
    return name in env.globals or name in RUNTIME_FUNCTIONS or name in CALLABLE_NAMES

