"""Where a notebook runs its flows: the embedded engine, or a Lanner server over REST.

Both are an :class:`engine.service.Engine` (:class:`~engine.local_engine.LocalEngine`
started on first use, :class:`~engine.client.HttpEngine` for ``--server``), so the
magics and the live widget do not care which one they talk to. What a notebook
user caused and can fix is a :class:`NotebookError`: one message, never a traceback.
"""

from __future__ import annotations

import atexit
from pathlib import Path

from engine.client import HttpEngine
from engine.local_engine import LocalEngine


class NotebookError(Exception):
    """An error a notebook user caused and can fix: shown as one message, never a traceback."""

    def _render_traceback_(self) -> list[str]:  # IPython shows this instead of a traceback
        return [f"\x1b[31m{self.__class__.__name__}\x1b[0m: {line}" if i == 0 else line
                for i, line in enumerate(str(self).splitlines() or [""])]


def local_engine(home: str | Path | None = None) -> LocalEngine:
    """The embedded engine (SQLite store + in-process workers in ``home``), started on first use, closed at exit."""
    engine = LocalEngine(home=home)
    atexit.register(engine.close)
    return engine


def server_engine(url: str, *, timeout: float = 30.0) -> HttpEngine:
    """A Lanner server's engine, through its REST API under /api/v1."""
    if not url.startswith(("http://", "https://")):
        raise NotebookError(f"--server must be an http(s) URL such as http://127.0.0.1:8080, not '{url}'")
    return HttpEngine(url, timeout=timeout)
