"""Lookup-only templates read and run without Jinja: what a short ``lanner flow run`` needs.

Most templates of most flows only look values up: ``{{ inputs.name }}``,
``{{ outputs.t.value }}``, ``hello {{ execution.id }}``. :mod:`.lookups` runs
those from Jinja's parsed tree, so even they paid for importing Jinja, our
Pebble dialect and building the sandboxed environment (a sixth of a cold
``lanner flow run``). :func:`scan` recognises them from the text itself, with a
grammar narrower than Jinja's (plain names, ``.name``, ``[0]``, ``['key']``,
``[another.path]``, spaces; no whitespace control, no ``\\r``, no keywords, no
names starting with ``_``), and gives the very plan :func:`.lookups.plan` gives
for the parsed tree (tests/unit/test_expression_lite.py holds them side by
side). Anything else is None and goes to the full engine, imported then.

:func:`evaluate` answers what the full path's fast path answers, or :data:`MISS`;
without an environment at hand it walks only plain maps and lists (the sandbox's
``getattr``/``getitem`` give the same there) and hands every other step, and
every value that needs sizing as JSON, to the full path, which also raises the
errors with their usual messages. This module imports nothing of Jinja.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from functools import lru_cache
from typing import Any

#: What :func:`evaluate` answers when the template must be rendered the full way.
MISS: Any = object()

#: Kinds of step: ``.name``, ``[constant]``, ``[another path]``.
ATTR, ITEM, DYNAMIC = 0, 1, 2


class Path:
    """A root name and the steps that follow it: ``outputs.t[taskrun.value].value``."""

    __slots__ = ("name", "steps")

    def __init__(self, name: str, steps: tuple[tuple[int, Any], ...]):
        self.name = name
        self.steps = steps

    def __repr__(self) -> str:
        return f"Path({self.name!r}, {self.steps!r})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Path) and (self.name, self.steps) == (other.name, other.steps)

    def __hash__(self) -> int:
        return hash((self.name, self.steps))


#: A template the fast path can run: one path (a single ``{{ expression }}``), or texts and paths.
Plan = Path | tuple[str | Path, ...]

#: Steps one looks a value up with when there is no environment: the value, or MISS.
Step = Callable[[object, int, object], Any]


def is_expression(text: str) -> bool:
    """Whether ``text`` contains template syntax and needs rendering."""
    return "{" in text and ("{{" in text or "{%" in text or "{#" in text)


#: The attribute :func:`pass_context` sets.
CONTEXT_MARK = "lanner_pass_context"


def pass_context(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Mark a runtime function to receive the template's variables first, as Jinja's ``pass_context`` does,
    without importing Jinja: the full engine turns the mark into Jinja's when it wraps the function
    (:meth:`.guard.Watchdog.shield`). Lookups never call functions, so only the full engine needs it."""
    setattr(fn, CONTEXT_MARK, True)
    return fn


# --- reading ---------------------------------------------------------------------------------------

#: Names the parser reads as something else than a variable (constants, operators, tests), in
#: Jinja or in Pebble, or to which the code generator gives a meaning of its own.
_KEYWORDS = frozenset({
    "true", "false", "none", "null", "True", "False", "None", "and", "or", "not", "in", "is", "if", "else",
    "elif", "self", "loop", "super", "caller", "varargs", "kwargs", "contains", "equals", "matches",
})
_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_]*")
_WS = re.compile(r"[ \t\n]*")
_INT = re.compile(r"0|[1-9][0-9]{0,17}")
_STR = re.compile(r"'([ !#-&(-\[\]-~]*)'|\"([ !#-&(-\[\]-~]*)\"")  # printable ASCII, no quote, no backslash
_TEXT = re.compile(r"[^{\r]*(?:\{(?![{%#])[^{\r]*)*")  # up to the next {{, {% or {# (or a \r: not ours)
#: Longest template read here (each character is at most one token, so the lexer's bound holds) and
#: deepest ``[path]`` nesting.
MAX_LENGTH = 4000
_MAX_DEPTH = 4


@lru_cache(maxsize=4096)
def scan(source: str) -> Plan | None:
    """The plan of a lookup-only template, the one :func:`.lookups.plan` makes of its tree; None otherwise."""
    if len(source) > MAX_LENGTH or "{{" not in source:
        return None
    parts: list[str | Path] = []
    pos, end = 0, len(source)
    while pos < end:
        text = _TEXT.match(source, pos)
        assert text is not None  # matches the empty text at least
        if text.end() > pos:
            parts.append(text.group())
            pos = text.end()
            continue
        if not source.startswith("{{", pos):
            return None  # {% or {# or \r
        found = _path(source, _WS.match(source, pos + 2).end(), 0)  # type: ignore[union-attr]
        if found is None:
            return None
        path, pos = found
        pos = _WS.match(source, pos).end()  # type: ignore[union-attr]
        if not source.startswith("}}", pos):
            return None
        parts.append(path)
        pos += 2
    paths = [p for p in parts if isinstance(p, Path)]
    if source.lstrip().startswith("{{") and len(paths) == 1 and all(isinstance(p, Path) or not p.strip() for p in parts):
        return paths[0]  # a single expression: its value keeps its type
    return tuple(parts)


def _path(source: str, pos: int, depth: int) -> tuple[Path, int] | None:
    """The path starting at ``pos`` and where it ends, or None."""
    name = _NAME.match(source, pos)
    if name is None or name.group() in _KEYWORDS:
        return None
    steps: list[tuple[int, Any]] = []
    pos = name.end()
    while True:
        after = _WS.match(source, pos).end()  # type: ignore[union-attr]
        if source.startswith(".", after):
            attr = _NAME.match(source, _WS.match(source, after + 1).end())  # type: ignore[union-attr]
            if attr is None or source.startswith("..", after):
                return None
            steps.append((ATTR, attr.group()))
            pos = attr.end()
        elif source.startswith("[", after):
            inside = _WS.match(source, after + 1).end()  # type: ignore[union-attr]
            number, text = _INT.match(source, inside), _STR.match(source, inside)
            if number is not None and not _NAME.match(source, number.end()) and not source.startswith(("_", "."), number.end()):
                steps.append((ITEM, int(number.group())))
                close = number.end()
            elif text is not None:
                steps.append((ITEM, text.group(1) if text.group(1) is not None else text.group(2)))
                close = text.end()
            else:
                inner = _path(source, inside, depth + 1) if depth < _MAX_DEPTH else None
                if inner is None:
                    return None
                steps.append((DYNAMIC, inner[0]))
                close = inner[1]
            close = _WS.match(source, close).end()  # type: ignore[union-attr]
            if not source.startswith("]", close):
                return None
            pos = close + 1
        else:
            return Path(name.group(), tuple(steps)), pos


def referenced_outputs(plan: Plan) -> set[str]:
    """Task ids ``plan`` reads as ``outputs.X`` or ``outputs['X']`` (``[path]`` steps included)."""
    found: set[str] = set()
    for path in [plan] if isinstance(plan, Path) else [p for p in plan if isinstance(p, Path)]:
        _outputs_of(path, found)
    return found


def _outputs_of(path: Path, found: set[str]) -> None:
    if path.name == "outputs" and path.steps and path.steps[0][0] != DYNAMIC and isinstance(path.steps[0][1], str):
        found.add(path.steps[0][1])
    for kind, key in path.steps:
        if kind == DYNAMIC:
            _outputs_of(key, found)


# --- running ---------------------------------------------------------------------------------------


def plain_step(value: object, kind: int, key: object) -> Any:
    """A step without an environment: a key of a plain map (what the sandbox's ``getattr`` and ``getitem``
    try first), an index of a plain list; MISS for anything else."""
    if type(value) is dict:
        try:
            return value[key]
        except (KeyError, TypeError):
            return MISS
    if type(value) is list and kind != ATTR and type(key) is int and 0 <= key < len(value):
        return value[key]
    return MISS


def resolve(path: Path, step: Step, context: Mapping[str, Any], functions: Mapping[str, Any] | None) -> Any:
    """The value ``path`` names in ``context``, or :data:`MISS` (a name not in the context or a runtime
    function's, a step ``step`` does not answer)."""
    name = path.name
    if functions and name in functions:
        return MISS  # the runtime function, wrapped for the watchdog: the full path hands it out
    try:
        value = context[name]
    except KeyError:
        return MISS  # a global function or an undefined name
    for kind, key in path.steps:
        if kind == DYNAMIC:
            key = resolve(key, step, context, functions)
            if key is MISS:
                return MISS
        if type(value) is dict:
            try:
                value = value[key]
                continue
            except (KeyError, TypeError):
                pass
        value = step(value, kind, key)
        if value is MISS:
            return MISS
    return value


#: How the values that print as themselves print inside a text (``str(finalize(value))``).
PRINTED: dict[type, Callable[[Any], str]] = {
    str: str,
    int: str,
    float: str,
    bool: lambda v: "true" if v else "false",
    type(None): lambda v: "",
}
#: Scalars a single expression hands back as they are when the limits leave room for any of them.
_SMALL = frozenset({bool, float, type(None)})


def evaluate(
    plan: Plan,
    context: Mapping[str, Any],
    functions: Mapping[str, Any] | None,
    max_output: int,
    step: Step = plain_step,
    native: Callable[[Any], Any] | None = None,
) -> Any:
    """The value of ``plan`` in ``context``, exactly the full path's, or MISS for the full path to give it.

    ``native`` sizes what a single expression gives (a list, a map, a number) as the full path does; without
    it only texts and small scalars are answered.
    """
    try:
        if isinstance(plan, Path):
            value = resolve(plan, step, context, functions)
            kind = type(value)
            if kind is str:  # sized as JSON text: 2 quotes around it
                return value if len(value) + 2 <= max_output else MISS
            if native is not None:
                return native(value)
            if (kind in _SMALL or (kind is int and -(2**63) < value < 2**63)) and max_output >= 32:
                return value
            return MISS
        parts: list[str] = []
        for part in plan:
            if type(part) is str:
                parts.append(part)
                continue
            value = resolve(part, step, context, functions)  # type: ignore[arg-type]
            printed = PRINTED.get(type(value))
            if printed is None:
                return MISS  # lists, maps, dates print through the bounded JSON writer
            parts.append(printed(value))
        text = "".join(parts)
        return text if len(text) <= max_output else MISS
    except Exception:  # noqa: BLE001 - the full path raises it with its message
        return MISS
