"""Regular expressions a library compiles when imported, compiled when first used instead.

PyYAML compiles a dozen patterns as it is imported: the pure-Python reader's
check for characters YAML does not allow (a character class spanning most of
Unicode), its YAML 1.1 scalar resolvers and its timestamp pattern, together 9.5 %
of the instructions of a short ``lanner flow run``. Lanner reads YAML with libyaml and resolves scalars itself
(``engine.model.yaml_loader``), so a process that only reads flows uses none of
them. :func:`patterns_compiled_when_used` makes ``re.compile`` hand out a
:class:`LazyPattern` while such a library is imported.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

_compile = re.compile


class LazyPattern:
    """Stands for ``re.compile(pattern, flags)``, compiled when one of its attributes is first read.

    Each attribute read (``match``, ``search``, ``pattern``...) is then kept on the
    instance, so later reads are plain attribute reads of the compiled pattern's
    bound methods and values, with no Python call in between.
    """

    def __init__(self, pattern: str | bytes, flags: int = 0) -> None:
        self.__dict__["_source"] = (pattern, flags)

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__"):  # copy, pickle and friends probing for hooks: the compiled pattern's are not ours
            raise AttributeError(name)
        value = getattr(_compile(*self.__dict__["_source"]), name)  # re caches the compiled pattern
        self.__dict__[name] = value
        return value

    def __repr__(self) -> str:
        pattern, flags = self.__dict__["_source"]
        return f"LazyPattern({pattern!r}, {flags!r})"


def _lazy_compile(pattern: str | bytes | re.Pattern[Any], flags: int = 0) -> LazyPattern | re.Pattern[Any]:
    if isinstance(pattern, (str, bytes)):
        return LazyPattern(pattern, flags)
    return _compile(pattern, flags)  # a compiled pattern (or an error) as re gives it


@contextmanager
def patterns_compiled_when_used() -> Iterator[None]:
    """While inside, module-level ``re.compile(...)`` calls give :class:`LazyPattern` objects.

    Only for importing a library whose patterns are used through their methods and
    attributes (``p.match(s)``); one passed back to ``re.sub(p, ...)`` or checked with
    ``isinstance(p, re.Pattern)`` would not be taken for a pattern.
    """
    if re.compile is not _compile:  # nested, or someone else's stand-in: leave it be
        yield
        return
    setattr(re, "compile", _lazy_compile)  # noqa: B010 - looked up by the module being imported when it calls it
    try:
        yield
    finally:
        setattr(re, "compile", _compile)  # noqa: B010
