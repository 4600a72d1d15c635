"""Regular expressions of Kestra's filters, on RE2 so no pattern can stall a render.

Java (and Python's ``re``) backtrack: ``(a|aa)+$`` on forty ``a`` runs for
hours inside one C call that nothing can interrupt. RE2 (PyPI
``google-re2``) matches in time linear in the text, and the loops here go
back to Python between matches, where the time limit stops them. The price:
RE2 has no look-around (``(?=``, ``(?<!``) and no back-references (``\\1``);
such a pattern is refused with a clear error.

``split`` keeps Java's meaning (a regular expression, trailing empty pieces
dropped unless a limit is given) except that a one-character delimiter is
taken literally, so ``split('.')`` splits on dots as authors mean it.
Replacements use Java's ``$1`` / ``${name}`` group references.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from functools import lru_cache
from typing import TYPE_CHECKING, Any, Protocol

from jinja2 import pass_environment
from jinja2.runtime import Undefined

from engine.expressions import bounds
from engine.expressions.bounds import check_items, check_text, to_text
from engine.expressions.filters import FilterError, whole_number
from engine.expressions.limits import Limits

if TYPE_CHECKING:
    from engine.expressions.sandbox import LannerEnvironment


class Match(Protocol):
    """What the loops here use of an RE2 match (the ``re2`` module ships no types)."""

    def group(self, which: int | str, /) -> str | None: ...

    def start(self) -> int: ...

    def end(self) -> int: ...


@lru_cache(maxsize=256)
def compile_pattern(pattern: str) -> Any:
    import re2  # imported on first use

    options = re2.Options()
    options.log_errors = False  # errors are reported to the author, not printed by the C++ library
    try:
        return re2.compile(pattern, options)
    except re2.error as exc:
        reason = exc.args[0].decode() if exc.args and isinstance(exc.args[0], bytes) else str(exc)
        hint = ""
        if any(p in pattern for p in ("(?=", "(?!", "(?<=", "(?<!")) or "\\1" in pattern:
            hint = " (look-around and back-references are not available: Lanner matches with RE2, in linear time)"
        raise FilterError(f"invalid regular expression {pattern!r}: {reason}{hint}") from None


def _text(value: object, env: LannerEnvironment) -> str:
    if isinstance(value, Undefined):
        value._fail_with_undefined_error()
    return value if isinstance(value, str) else to_text(value, env.limits)


def java_split(text: str, delimiter: str, limit: int, limits: Limits) -> list[str]:
    """Java's ``String.split(regex, limit)``; a one-character delimiter is literal."""
    if len(delimiter) == 1:
        pieces = text.split(delimiter, limit - 1) if limit > 0 else text.split(delimiter)
        check_items(len(pieces), limits, "the split list")
    else:
        pieces, start = [], 0
        for match in compile_pattern(delimiter).finditer(text):
            if limit > 0 and len(pieces) == limit - 1:
                break
            if match.end() == 0 or (match.start() == match.end() == len(text)):
                continue  # Java never yields a leading empty piece for a zero-width match
            pieces.append(text[start : match.start()])
            start = match.end()
            if len(pieces) > limits.max_items:
                check_items(len(pieces), limits, "the split list")
        pieces.append(text[start:])
    if limit == 0:
        while len(pieces) > 1 and pieces[-1] == "":
            pieces.pop()
    return pieces


def _java_replacement(template: str) -> Callable[[Match], str]:
    """Java's replacement syntax: ``$1``, ``${name}``, ``\\$`` for a dollar."""
    parts: list[str | int] = []
    i, buf = 0, []
    while i < len(template):
        c = template[i]
        if c == "\\" and i + 1 < len(template):
            buf.append(template[i + 1])
            i += 2
        elif c == "$" and i + 1 < len(template) and template[i + 1] == "{":
            end = template.find("}", i)
            if end < 0:
                raise FilterError(f"replacement {template!r} has '${{' without '}}'")
            parts.extend(["".join(buf), template[i + 2 : end]])
            buf, i = [], end + 1
        elif c == "$" and i + 1 < len(template) and template[i + 1].isdigit():
            j = i + 1
            while j < len(template) and template[j].isdigit():
                j += 1
            parts.extend(["".join(buf), int(template[i + 1 : j])])
            buf, i = [], j
        else:
            buf.append(c)
            i += 1
    parts.append("".join(buf))

    def expand(match: Match) -> str:
        out: list[str] = []
        for k, part in enumerate(parts):
            if isinstance(part, str) and k % 2 == 0:
                out.append(part)
            else:
                try:
                    out.append(match.group(part) or "")
                except (IndexError, KeyError):
                    raise FilterError(f"replacement {template!r} refers to group {part!r}, which the pattern does not have") from None
        return "".join(out)

    return expand


def replace_all(text: str, pattern: str, replacement: str, limits: Limits) -> str:
    """Java's ``replaceAll``: every match of ``pattern`` replaced, size-checked as it goes."""
    expand = _java_replacement(replacement)
    out: list[str] = []
    total, start = 0, 0
    for match in compile_pattern(pattern).finditer(text):
        piece = text[start : match.start()] + expand(match)
        total += len(piece)
        check_text(total, limits, "the replaced text")
        out.append(piece)
        start = match.end()
    out.append(text[start:])
    check_text(total + len(text) - start, limits, "the replaced text")
    return "".join(out)


@pass_environment
def regex_match(env: LannerEnvironment, value: object, regex: object = None) -> bool:
    """``'hello world' | regexMatch('hello.*')``: whether the pattern occurs (null is false)."""
    if value is None:
        return False
    if regex is None:
        raise FilterError("regexMatch needs a pattern: regexMatch('[0-9]+')")
    return compile_pattern(str(regex)).search(_text(value, env)) is not None


@pass_environment
def regex_extract(env: LannerEnvironment, value: object, regex: object = None, group: object = 0) -> str | None:
    """``'order-123' | regexExtract('\\d+')``: the first match (or a group of it), else null."""
    if value is None:
        return None
    if regex is None:
        raise FilterError("regexExtract needs a pattern: regexExtract('[0-9]+')")
    match = compile_pattern(str(regex)).search(_text(value, env))
    if match is None:
        return None
    try:
        return match.group(group if group is not None else 0)
    except (IndexError, KeyError):
        raise FilterError(f"regexExtract: the pattern has no group {group!r}") from None


@pass_environment
def regex_replace(env: LannerEnvironment, value: object, regex: object = None, replacement: object = "") -> str | None:
    """``'a1b2' | regexReplace('[0-9]', '#')``: every match replaced (``$1`` for groups)."""
    if value is None:
        return None
    if regex is None:
        raise FilterError("regexReplace needs a pattern and a replacement: regexReplace('[0-9]+', '#')")
    return replace_all(_text(value, env), str(regex), _text(replacement, env), env.limits)


@pass_environment
def split(env: LannerEnvironment, value: object, delimiter: object = None, limit: object = None) -> list[str] | None:
    """``'a,b,c' | split(',')``; ``limit`` is the most pieces (Java's meaning)."""
    if value is None:
        return None
    text = _text(value, env)
    if delimiter is None:
        check_items(bounds.split_count(text, None), env.limits, "the split list")
        return text.split()
    count = 0 if limit is None else whole_number(limit, "split: limit")
    return java_split(text, _text(delimiter, env), count, env.limits)


@pass_environment
def replace(env: LannerEnvironment, value: object, old: object = None, new: object = None, count: object = None,
            regexp: object = False) -> Any:
    """``replace({'%a%': x})`` (Pebble), ``replace('a', 'b')`` (Jinja), ``regexp=true`` for patterns.

    Maps and lists are walked: every text inside is replaced (Kestra).
    """
    if value is None:
        return None
    if isinstance(old, Mapping):
        pairs = [(_text(k, env), _text(v, env)) for k, v in old.items()]
        if isinstance(new, bool):
            regexp = new
    elif old is not None and new is not None:
        pairs = [(_text(old, env), _text(new, env))]
    else:
        raise FilterError("replace expects a map of replacements or two texts: replace({'old': 'new'}) or replace('old', 'new')")
    limit = -1 if count is None else whole_number(count, "replace: count")

    def one(text: str) -> str:
        for a, b in pairs:
            if regexp:
                text = replace_all(text, a, b, env.limits)
            else:
                check_text(bounds.replaced_size(text, a, b, limit), env.limits, "the replaced text")
                text = text.replace(a, b, limit)
        return text

    def walk(item: object) -> Any:
        if isinstance(item, Mapping):
            return {k: walk(v) for k, v in item.items()}
        if isinstance(item, (list, tuple)):
            return [walk(v) for v in item]
        return one(_text(item, env))

    return walk(value)
