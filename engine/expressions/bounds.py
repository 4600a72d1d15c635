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
import math
import operator
import re
import sys
from collections.abc import Callable, Iterable, Mapping, Sequence, Sized
from typing import Any, AnyStr

from jinja2.runtime import Undefined

from engine.expressions.json_text import to_json
from engine.expressions.ledger import ledger, too_many
from engine.expressions.limit_error import LimitError
from engine.expressions.limits import Limits
from engine.expressions.walks import walk_too_long

_SEQUENCES = (list, tuple)
_TEXTS = (str, bytes)
_SCALARS = frozenset({str, int, float, bool, type(None)})
#: ``str()`` of a list or map (``format``, ``%``, text filters) may print ``max_walk`` / this items.
PRINT_SHARE = 5


def too_long(what: str, size: int, limit: int, unit: str = "characters") -> LimitError:
    return LimitError(f"{what} would be {size:,} {unit}, over the limit of {limit:,}")


def measure(value: object, limits: Limits, what: str = "the value") -> int:
    """Size of ``value`` as JSON text (characters), expanded; raises past the limits.

    Counts nested items at every depth and a shared item each time it appears
    (see :mod:`engine.expressions.ledger`), so a walk of a value it accepts, in
    C or not, is bounded. A value nested deeper than ``max_depth`` is refused.
    """
    return ledger(limits).size(value, what)[1]


def walkable(value: object, limits: Limits, what: str = "the value") -> None:
    """Refuse a list or map that one C step (hashing it, ``max``, ``count`` ...) would walk for too long.

    ``==``, ``in``, sorting and JSON split large values in pieces
    (:mod:`engine.expressions.walks`); what cannot be split may hold
    ``max_walk`` items.
    """
    if type(value) not in _SCALARS:
        nodes = ledger(limits).size(value, what)[0]
        if nodes > limits.max_walk:
            raise walk_too_long(what, nodes, limits)


def printable(value: object, limits: Limits, what: str = "the value") -> None:
    """Refuse a list or map too large to print with ``str()``/``repr()`` (``format``, ``%``, ``upper`` ...).

    Those print in one C call, unlike ``|toJson`` and ``{{ value }}``, which
    write large values in pieces; printing an item costs up to ten times
    comparing it, so they may print a fifth of ``max_walk`` items.
    """
    if type(value) in _SCALARS:
        return
    nodes = ledger(limits).size(value, what)[0]
    cap = limits.max_walk // PRINT_SHARE
    if nodes > cap:
        raise LimitError(
            f"{what} would print {nodes:,} items in one piece, over the limit of {cap:,} items for "
            "format, %, and text filters (print large values with toJson)"
        )


def check_text(size: int, limits: Limits, what: str) -> None:
    if size > limits.max_output:
        raise too_long(what, size, limits.max_output)


def check_items(count: int, limits: Limits, what: str) -> None:
    if count > limits.max_items:
        raise too_long(what, count, limits.max_items, "items")


def bounded_list(value: object, limits: Limits, what: str = "the list") -> list[Any]:
    """``list(value)`` that refuses more than ``max_items`` items, nested ones counted (also for generators).

    Items a generator makes (``map``, ``select`` ...) are new values: each is
    sized and counted as it comes, so a generator of large texts stops at the
    limit instead of after filling the memory.
    """
    if isinstance(value, Undefined):
        value._fail_with_undefined_error()
    if not isinstance(value, Iterable):
        raise TypeError(f"'{type(value).__name__}' object is not iterable")
    if isinstance(value, Sized):
        check_items(len(value), limits, what)
        return list(value)
    book = ledger(limits)
    out: list[Any] = []
    room, room_chars = limits.max_items, limits.max_output
    nodes, chars, spent = 1, 2, 0
    for item in value:
        n, c, s = book.item(item, room - nodes, room_chars - chars, what)
        nodes, chars, spent = nodes + n, chars + c, spent + s
        out.append(item)
        if nodes > room:
            raise too_many(what, nodes, room, False)
        if chars > room_chars:
            raise too_long(what, chars, room_chars)
        book.charge(s)
    book.record(out, nodes, chars, sys.getsizeof(out))
    return out


def to_text(value: object, limits: Limits) -> str:
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


#: What ``*`` repeats: texts and lists.
Repeatable = str | bytes | list[Any] | tuple[Any, ...]


def _repeat(seq: Repeatable, times: int, limits: Limits) -> Repeatable:
    """``seq * times``, refused before it is built when the repeated value would be too large.

    A list is sized with its items expanded: ``[b] * 1000`` holds 1,000 times
    what ``b`` holds, although it takes only 1,000 references.
    """
    times = max(times, 0)
    size = len(seq) * times
    if isinstance(seq, _TEXTS):
        check_text(size, limits, "the repeated text")
        return seq * times
    check_items(size, limits, "the repeated list")
    book = ledger(limits)
    nodes, chars = book.size(seq, "the repeated list")
    nodes, chars = nodes * times, 2 + (chars - 2) * times + max(times - 1, 0)
    if nodes > limits.max_items:
        raise too_many("the repeated list", nodes, limits.max_items, True)
    check_text(chars, limits, "the repeated list as text")
    result = seq * times
    book.record(result, nodes, chars, sys.getsizeof(result))
    return result


# The operators below take any two template values: what they do not size they hand to Python's
# operator, which combines them or raises TypeError (reported as the template's error).


def mul(left: object, right: object, limits: Limits) -> object:
    if isinstance(right, int) and isinstance(left, (str, bytes, list, tuple)):
        return _repeat(left, right, limits)
    if isinstance(left, int) and isinstance(right, (str, bytes, list, tuple)):
        return _repeat(right, left, limits)
    if isinstance(left, int) and isinstance(right, int):
        bits = left.bit_length() + right.bit_length()
        if bits > limits.max_int_bits:
            raise too_long("the product", bits, limits.max_int_bits, "bits")
    return operator.mul(left, right)


def power(left: object, right: object, limits: Limits) -> object:
    if isinstance(left, int) and isinstance(right, int) and right > 0 and abs(left) > 1:
        bits = int(right * math.log2(abs(left))) + 1
        if bits > limits.max_int_bits:
            raise too_long("the power", bits, limits.max_int_bits, "bits")
    return operator.pow(left, right)


def add(left: object, right: object, limits: Limits) -> object:
    if isinstance(left, (str, bytes)) and isinstance(right, (str, bytes)):
        check_text(len(left) + len(right), limits, "the concatenated text")
    elif isinstance(left, (list, tuple)) and isinstance(right, (list, tuple)):
        return concatenated(left, right, limits)
    return operator.add(left, right)


def concatenated(left: Sequence[object], right: Sequence[object], limits: Limits) -> list[Any]:
    """``[*left, *right]``, sized from the sizes of both sides (nested items counted) before it is built."""
    check_items(len(left) + len(right), limits, "the concatenated list")
    book = ledger(limits)
    nodes_left, chars_left = book.size(left, "the concatenated list")
    nodes_right, chars_right = book.size(right, "the concatenated list")
    nodes, chars = nodes_left + nodes_right, chars_left + chars_right - 1
    if nodes > limits.max_items:
        raise too_many("the concatenated list", nodes, limits.max_items, True)
    check_text(chars, limits, "the concatenated list as text")
    result = [*left, *right]
    book.record(result, nodes, chars, sys.getsizeof(result))
    return result


_PERCENT_SPEC = re.compile(r"%(?:\([^)]{0,200}\))?[-#0 +]*(\*|\d+)?(?:\.(\*|\d+))?")


def check_percent(fmt: str | bytes, args: object, limits: Limits) -> None:
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
    for v in values:
        printable(v, limits, "a formatted value")
    biggest = max((measure(v, limits, "a formatted value") for v in values), default=0)
    uses = text.count("%") if isinstance(args, Mapping) else len(values)
    check_text(len(text) + uses * biggest, limits, "the formatted text")


def modulo(left: object, right: object, limits: Limits) -> object:
    if isinstance(left, (str, bytes)):
        check_percent(left, right, limits)
    return operator.mod(left, right)


def check_format_spec(spec: str, limits: Limits) -> None:
    """Refuse ``{:>999999999}``-style widths and precisions."""
    for number in re.findall(r"\d+", spec):
        if len(number) > 12 or int(number) > limits.max_output:
            raise too_long("a format width", int(number[:13]), limits.max_output)


# --- methods of str/bytes called from templates -----------------------------------------------


def _arg(args: tuple[object, ...], kwargs: Mapping[str, object], index: int, name: str, default: object) -> object:
    if len(args) > index:
        return args[index]
    return kwargs.get(name, default)


def _pad(owner: str | bytes, args: tuple[object, ...], kwargs: Mapping[str, object], limits: Limits) -> None:
    width = _arg(args, kwargs, 0, "width", 0)
    if isinstance(width, int):
        check_text(width, limits, "the padded text")


def _replace(owner: str | bytes, args: tuple[object, ...], kwargs: Mapping[str, object], limits: Limits) -> None:
    old = _arg(args, kwargs, 0, "old", None)
    new = _arg(args, kwargs, 1, "new", None)
    count = _arg(args, kwargs, 2, "count", -1)
    # Texts of mixed kinds (a str owner, bytes arguments) need no check: the call raises TypeError.
    if isinstance(owner, str) and isinstance(old, str) and isinstance(new, str):
        check_text(replaced_size(owner, old, new, count), limits, "the replaced text")
    elif isinstance(owner, bytes) and isinstance(old, bytes) and isinstance(new, bytes):
        check_text(replaced_size(owner, old, new, count), limits, "the replaced text")


def replaced_size(text: AnyStr, old: AnyStr, new: AnyStr, count: object = -1) -> int:
    hits = len(text) + 1 if not old else text.count(old)
    if isinstance(count, int) and count >= 0:
        hits = min(hits, count)
    return len(text) + hits * (len(new) - len(old))


def _expandtabs(owner: str | bytes, args: tuple[object, ...], kwargs: Mapping[str, object], limits: Limits) -> None:
    size = _arg(args, kwargs, 0, "tabsize", 8)
    if isinstance(size, int):
        tabs = owner.count("\t") if isinstance(owner, str) else owner.count(b"\t")
        check_text(len(owner) + tabs * max(size, 0), limits, "the expanded text")


#: Characters ``str.split()`` splits on (an upper bound of the pieces it makes).
_WHITESPACE = " \t\n\r\x0b\x0c\x1c\x1d\x1e\x1f\x85\xa0\u1680\u2028\u2029\u202f\u205f\u3000" + "".join(
    chr(c) for c in range(0x2000, 0x200B)
)
_BYTES_WHITESPACE = [bytes([c]) for c in b" \t\n\r\x0b\x0c"]


def split_count(text: str | bytes, sep: object, maxsplit: object = -1) -> int:
    """An upper bound of ``len(text.split(sep, maxsplit))``, without splitting.

    A separator of the other kind (bytes for a text) makes the split itself raise TypeError: one piece.
    """
    if sep is None:
        if isinstance(text, str):
            pieces = sum(text.count(c) for c in _WHITESPACE) + 1
        else:
            pieces = sum(text.count(c) for c in _BYTES_WHITESPACE) + 1
    elif not sep:
        pieces = len(text)
    elif isinstance(text, str):
        pieces = text.count(sep) + 1 if isinstance(sep, str) else 1
    else:
        pieces = text.count(sep) + 1 if isinstance(sep, bytes) else 1
    if isinstance(maxsplit, int) and maxsplit >= 0:
        pieces = min(pieces, maxsplit + 1)
    return pieces


def _split(owner: str | bytes, args: tuple[object, ...], kwargs: Mapping[str, object], limits: Limits) -> None:
    sep = _arg(args, kwargs, 0, "sep", None)
    maxsplit = _arg(args, kwargs, 1, "maxsplit", -1)
    check_items(split_count(owner, sep, maxsplit), limits, "the split list")


def _splitlines(owner: str | bytes, args: tuple[object, ...], kwargs: Mapping[str, object], limits: Limits) -> None:
    breaks = owner.count("\n") + owner.count("\r") if isinstance(owner, str) else owner.count(b"\n") + owner.count(b"\r")
    check_items(breaks + 1, limits, "the split list")


def _translate(owner: str | bytes, args: tuple[object, ...], kwargs: Mapping[str, object], limits: Limits) -> None:
    table = _arg(args, kwargs, 0, "table", None)
    if isinstance(table, Mapping):
        longest = max((len(v) for v in table.values() if isinstance(v, _TEXTS)), default=1)
        check_text(len(owner) * max(longest, 1), limits, "the translated text")


def _encode(owner: str | bytes, args: tuple[object, ...], kwargs: Mapping[str, object], limits: Limits) -> None:
    check_text(len(owner) * 4, limits, "the encoded text")


#: Pre-checks of the str/bytes methods whose result can outgrow their input.
METHOD_CHECKS: dict[str, Callable[[str | bytes, tuple[object, ...], Mapping[str, object], Limits], None]] = {
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
