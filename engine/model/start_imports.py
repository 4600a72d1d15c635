"""Importing pydantic and PyYAML at the start of a process without the work that process never uses.

PyYAML's patterns are compiled when first used (:mod:`engine.model.lazy_patterns`).

pydantic-core declares its schema types as ~600 ``TypedDict`` fields written under
``from __future__ import annotations``, and ``typing_extensions`` adds ~90 more.
CPython (3.12, 3.13) turns each into a ``typing.ForwardRef``, whose constructor
compiles the text at once, although nothing reads those annotations unless it asks
``get_type_hints`` of pydantic-core's own types: 6 % of the instructions of a short
``lanner flow run``. While pydantic is imported here, ``typing`` keeps each
reference's text instead of compiling it. Reading a reference evaluates it with
``eval``, which takes text as it takes code, so a reference that is read still
works; it is compiled when read.

On a Python whose ``ForwardRef`` does not compile in its constructor (3.14's
annotationlib), ``typing`` is left alone.
"""

from __future__ import annotations

import sys
import typing
from collections.abc import Iterator
from contextlib import contextmanager

from engine.model.entry_point_cache import prime_pydantic
from engine.model.lazy_patterns import patterns_compiled_when_used


def start_imports() -> None:
    """Import pydantic's model machinery and PyYAML the quick way, and tell pydantic it has no plugins when none
    is installed.

    Called first thing by the commands (``lanner flow run``, every other command, the server).
    """
    if "pydantic_core" in sys.modules:  # imported already: the references are compiled
        prime_pydantic()
    else:
        with forward_refs_kept_as_text():
            prime_pydantic()
            import pydantic.main  # noqa: F401 - pydantic-core, typing_extensions and the model machinery
    with patterns_compiled_when_used():
        import yaml  # noqa: F401


def _keep_text(source: str, filename: str, mode: str) -> str:
    return source


@contextmanager
def forward_refs_kept_as_text() -> Iterator[None]:
    """While inside, the ``typing.ForwardRef`` made keep their text uncompiled (compiled by ``eval`` when read)."""
    init = getattr(typing.ForwardRef.__init__, "__code__", None)
    if init is None or "compile" not in init.co_names or "compile" in vars(typing):
        yield  # another implementation of ForwardRef: nothing to skip
        return
    # A global of the typing module: ForwardRef.__init__ finds it before the builtin.
    setattr(typing, "compile", _keep_text)  # noqa: B010
    try:
        yield
    finally:
        delattr(typing, "compile")
