"""Size checks made *before* a template builds a value.

Checking a value after it exists is too late: ``'a' * 10**9`` has already
taken a gigabyte. So every operation that can multiply sizes (repetition,
``+``, ``**``, padding, joining, ``%``/``format`` widths, ``replace``,
splitting) estimates its result first and raises :class:`LimitError` when the
estimate is over the limit. The helpers here are used by the sandbox
(operators and method calls) and by the filters.
"""

from __future__ import annotations

import datetime as _dt
import json
import math
import re
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from jinja2.runtime import Undefined

from engine.expressions.limits import LimitError, Limits

_SEQUENCES = (list, tuple)
_TEXTS = (str, bytes)


def too_long(what: str, size: int, limit: int, unit: str = "characters") -> LimitError:
    return LimitError(f"{what} would be {size:,} {unit}, over the limit of {limit:,}")


def measure(value: Any, limits: Limits, what: str = "the value") -> int:
    """Approximate size of ``value`` as text (characters); raises past ``max_output``.

    Walks containers breadth-first and stops as soon as the budget is spent, so
    ``[big] * 100000`` is refused after a few items, not after a terabyte.
    """
    budget = limits.max_output
    total = 0
    stack: list[tuple[Any, int]] = [(value, 0)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, _TEXTS):
            total += len(item) + 2
        elif isinstance(item, Mapping):
            total += 2 + 2 * len(item)
            if depth < 64:
                for k, v in item.items():
                    stack.append((k, depth + 1))
                    stack.append((v, depth + 1))
        elif isinstance(item, (list, tuple, set, frozenset)):
            total += 2 + len(item)
            if depth < 64:
                # Many references to one object are common in bombs: measure
                # item by item but give up as soon as the budget is spent.
                for v in item:
                    if isinstance(v, _TEXTS):
                        total += len(v) + 2
                        if total > budget:
                            break
                    else:
                        stack.append((v, depth + 1))
        elif isinstance(item, int) and not isinstance(item, bool):
            total += max(1, item.bit_length() // 3)
        else:
            total += 8
        if total > budget:
            raise too_long(what, total, budget)
    return total


def check_text(size: int, limits: Limits, what: str) -> None:
    if size > limits.max_output:
        raise too_long(what, size, limits.max_output)


def check_items(count: int, limits: Limits, what: str) -> None:
    if count > limits.max_items:
        raise too_long(what, count, limits.max_items, "items")


def bounded_list(value: Any, limits: Limits, what: str = "the list") -> list[Any]:
    """``list(value)`` that refuses more than ``max_items`` items (also for generators)."""
    if isinstance(value, Undefined):
        value._fail_with_undefined_error()
    if hasattr(value, "__len__"):
        check_items(len(value), limits, what)
        return list(value)
    out: list[Any] = []
    cap = limits.max_items
    for item in value:
        out.append(item)
        if len(out) > cap:
            raise too_long(what, len(out), cap, "items")
    return out


def json_default(value: Any) -> Any:
    """JSON for the non-JSON types a context holds (dates, sets, tuples, Undefined)."""
    if isinstance(value, Undefined):
        value._fail_with_undefined_error()
    if isinstance(value, (_dt.datetime, _dt.date, _dt.time)):
        return value.isoformat()
    if isinstance(value, (set, frozenset)):
        return list(value)
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return str(value)


def to_json(value: Any, limits: Limits, indent: int | None = None) -> str:
    measure(value, limits, "the JSON text")
    separators = (",", ":") if indent is None else (",", ": ")
    return json.dumps(value, ensure_ascii=False, separators=separators, indent=indent, default=json_default)


def to_text(value: Any, limits: Limits) -> str:
    """How a value prints inside text, the way Kestra prints it.

    ``None`` prints nothing, booleans print ``true``/``false``, lists and maps
    print as compact JSON, dates as ISO-8601. Undefined values raise.
    """
    if type(value) is str:
        return value
    if value is None:
        return ""
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, Undefined):
        value._fail_with_undefined_error()
    if isinstance(value, str):
        return str(value)
    if isinstance(value, (list, tuple, dict)):
        return to_json(value, limits)
    if isinstance(value, (_dt.datetime, _dt.date, _dt.time)):
        return value.isoformat()
    if isinstance(value, Mapping):
        return to_json(dict(value), limits)
    return str(value)


def joined(parts: Iterable[Any], separator: str, limits: Limits, what: str = "the joined text") -> str:
    """``separator.join`` of texts, refusing before the result passes ``max_output``."""
    texts: list[str] = []
    total = 0
    sep = len(separator)
    cap = limits.max_output
    for part in parts:
        text = to_text(part, limits)
        total += len(text) + (sep if texts else 0)
        if total > cap:
            raise too_long(what, total, cap)
        texts.append(text)
    return separator.join(texts)


# --- operators --------------------------------------------------------------------------------


def _repeat(seq: Any, times: int, limits: Limits) -> None:
    size = len(seq) * max(times, 0)
    if isinstance(seq, _TEXTS):
        check_text(size, limits, "the repeated text")
    else:
        check_items(size, limits, "the repeated list")


def mul(left: Any, right: Any, limits: Limits) -> Any:
    if isinstance(right, int) and isinstance(left, (*_TEXTS, *_SEQUENCES)):
        _repeat(left, right, limits)
    elif isinstance(left, int) and isinstance(right, (*_TEXTS, *_SEQUENCES)):
        _repeat(right, left, limits)
    elif isinstance(left, int) and isinstance(right, int):
        bits = left.bit_length() + right.bit_length()
        if bits > limits.max_int_bits:
            raise too_long("the product", bits, limits.max_int_bits, "bits")
    return left * right


def power(left: Any, right: Any, limits: Limits) -> Any:
    if isinstance(left, int) and isinstance(right, int) and right > 0 and abs(left) > 1:
        bits = int(right * math.log2(abs(left))) + 1
        if bits > limits.max_int_bits:
            raise too_long("the power", bits, limits.max_int_bits, "bits")
    return left**right


def add(left: Any, right: Any, limits: Limits) -> Any:
    if isinstance(left, _TEXTS) and isinstance(right, _TEXTS):
        check_text(len(left) + len(right), limits, "the concatenated text")
    elif isinstance(left, _SEQUENCES) and isinstance(right, _SEQUENCES):
        check_items(len(left) + len(right), limits, "the concatenated list")
    return left + right


_PERCENT_SPEC = re.compile(r"%(?:\([^)]{0,200}\))?[-#0 +]*(\*|\d+)?(?:\.(\*|\d+))?")


def check_percent(fmt: str | bytes, args: Any, limits: Limits) -> None:
    """Refuse ``fmt % args`` whose widths or substituted values would be too large."""
    text = fmt.decode("latin-1") if isinstance(fmt, bytes) else fmt
    values = list(args.values()) if isinstance(args, Mapping) else list(args) if isinstance(args, tuple) else [args]
    for width, precision in _PERCENT_SPEC.findall(text):
        for number in (width, precision):
            if number == "*":
                for v in values:
                    if isinstance(v, int) and abs(v) > limits.max_output:
                        raise too_long("a '*' width", abs(v), limits.max_output)
            elif number and int(number) > limits.max_output:
                raise too_long("a format width", int(number), limits.max_output)
    biggest = max((measure(v, limits, "a formatted value") for v in values), default=0)
    uses = text.count("%") if isinstance(args, Mapping) else len(values)
    check_text(len(text) + uses * biggest, limits, "the formatted text")


def modulo(left: Any, right: Any, limits: Limits) -> Any:
    if isinstance(left, _TEXTS):
        check_percent(left, right, limits)
    return left % right


def check_format_spec(spec: str, limits: Limits) -> None:
    """Refuse ``{:>999999999}``-style widths and precisions."""
    for number in re.findall(r"\d+", spec):
        if len(number) > 12 or int(number) > limits.max_output:
            raise too_long("a format width", int(number[:13]), limits.max_output)


# --- methods of str/bytes called from templates -----------------------------------------------


def _arg(args: tuple[Any, ...], kwargs: Mapping[str, Any], index: int, name: str, default: Any) -> Any:
    if len(args) > index:
        return args[index]
    return kwargs.get(name, default)


def _pad(owner: Any, args: tuple[Any, ...], kwargs: Mapping[str, Any], limits: Limits) -> None:
    width = _arg(args, kwargs, 0, "width", 0)
    if isinstance(width, int):
        check_text(width, limits, "the padded text")


def _replace(owner: Any, args: tuple[Any, ...], kwargs: Mapping[str, Any], limits: Limits) -> None:
    old = _arg(args, kwargs, 0, "old", None)
    new = _arg(args, kwargs, 1, "new", None)
    count = _arg(args, kwargs, 2, "count", -1)
    if isinstance(old, _TEXTS) and isinstance(new, _TEXTS):
        check_text(replaced_size(owner, old, new, count), limits, "the replaced text")


def replaced_size(text: Any, old: Any, new: Any, count: int = -1) -> int:
    hits = len(text) + 1 if not old else text.count(old)
    if isinstance(count, int) and count >= 0:
        hits = min(hits, count)
    return len(text) + hits * (len(new) - len(old))


def _expandtabs(owner: Any, args: tuple[Any, ...], kwargs: Mapping[str, Any], limits: Limits) -> None:
    size = _arg(args, kwargs, 0, "tabsize", 8)
    if isinstance(size, int):
        check_text(len(owner) + owner.count("\t" if isinstance(owner, str) else b"\t") * max(size, 0), limits, "the expanded text")


#: Characters ``str.split()`` splits on (an upper bound of the pieces it makes).
_WHITESPACE = " \t\n\r\x0b\x0c\x1c\x1d\x1e\x1f\x85\xa0\u1680\u2028\u2029\u202f\u205f\u3000" + "".join(
    chr(c) for c in range(0x2000, 0x200B)
)
_BYTES_WHITESPACE = [bytes([c]) for c in b" \t\n\r\x0b\x0c"]


def split_count(text: Any, sep: Any, maxsplit: Any = -1) -> int:
    """An upper bound of ``len(text.split(sep, maxsplit))``, without splitting."""
    if sep is None:
        chars = _WHITESPACE if isinstance(text, str) else _BYTES_WHITESPACE
        pieces = sum(text.count(c) for c in chars) + 1
    else:
        pieces = text.count(sep) + 1 if sep else len(text)
    if isinstance(maxsplit, int) and maxsplit >= 0:
        pieces = min(pieces, maxsplit + 1)
    return pieces


def _split(owner: Any, args: tuple[Any, ...], kwargs: Mapping[str, Any], limits: Limits) -> None:
    sep = _arg(args, kwargs, 0, "sep", None)
    maxsplit = _arg(args, kwargs, 1, "maxsplit", -1)
    check_items(split_count(owner, sep, maxsplit), limits, "the split list")


def _splitlines(owner: Any, args: tuple[Any, ...], kwargs: Mapping[str, Any], limits: Limits) -> None:
    nl = ("\n", "\r") if isinstance(owner, str) else (b"\n", b"\r")
    check_items(owner.count(nl[0]) + owner.count(nl[1]) + 1, limits, "the split list")


def _translate(owner: Any, args: tuple[Any, ...], kwargs: Mapping[str, Any], limits: Limits) -> None:
    table = _arg(args, kwargs, 0, "table", None)
    if isinstance(table, Mapping):
        longest = max((len(v) for v in table.values() if isinstance(v, _TEXTS)), default=1)
        check_text(len(owner) * max(longest, 1), limits, "the translated text")


def _encode(owner: Any, args: tuple[Any, ...], kwargs: Mapping[str, Any], limits: Limits) -> None:
    check_text(len(owner) * 4, limits, "the encoded text")


#: Pre-checks of the str/bytes methods whose result can outgrow their input.
METHOD_CHECKS: dict[str, Callable[[Any, tuple[Any, ...], Mapping[str, Any], Limits], None]] = {
    "center": _pad,
    "ljust": _pad,
    "rjust": _pad,
    "zfill": _pad,
    "replace": _replace,
    "expandtabs": _expandtabs,
    "split": _split,
    "rsplit": _split,
    "splitlines": _splitlines,
    "translate": _translate,
    "encode": _encode,
}


def check_result(value: Any, limits: Limits) -> Any:
    """Post-check of anything returned by a call: a cheap length test."""
    if isinstance(value, _TEXTS):
        check_text(len(value), limits, "the result")
    elif isinstance(value, _SEQUENCES):
        check_items(len(value), limits, "the result")
    return value
