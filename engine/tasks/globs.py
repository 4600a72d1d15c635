"""Ant-style globs on relative paths, as Kestra's file tasks read them.

``*`` matches within one folder, ``**`` across folders (``**/`` also matches
no folder at all, so ``**/*.csv`` finds ``a.csv`` too), ``?`` one character.
A leading ``/`` (namespace files are written ``/data/a.csv``) and Kestra's
``glob:`` prefix are ignored.
"""

from __future__ import annotations

import re
from functools import lru_cache


@lru_cache(maxsize=256)
def glob_regex(pattern: str) -> re.Pattern[str]:
    text = pattern.removeprefix("glob:").lstrip("/")
    out = []
    i = 0
    while i < len(text):
        if text.startswith("**/", i):
            out.append("(?:.*/)?")
            i += 3
        elif text.startswith("**", i):
            out.append(".*")
            i += 2
        elif text[i] == "*":
            out.append("[^/]*")
            i += 1
        elif text[i] == "?":
            out.append("[^/]")
            i += 1
        else:
            out.append(re.escape(text[i]))
            i += 1
    return re.compile("".join(out) + r"\Z")


def matches_any(path: str, patterns: list[str]) -> bool:
    """``path`` (relative, ``/``-separated) matches one of the globs."""
    rel = path.lstrip("/")
    return any(glob_regex(p).match(rel) for p in patterns)
