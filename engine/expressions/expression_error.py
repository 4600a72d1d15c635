"""The one error of the expression language, importable without the engine that raises it (Jinja)."""

from __future__ import annotations


class ExpressionError(Exception):
    """A template that does not parse or cannot be rendered.

    ``template`` is the template text (when known) and ``reason`` the short
    cause, so callers can build their own message around them.
    """

    def __init__(self, message: str, *, template: str | None = None, reason: str | None = None):
        super().__init__(message)
        self.template = template
        self.reason = reason or message
        #: For parse errors: the cause without its place, and the place in the template (1-based).
        self.cause: str = self.reason
        self.line: int | None = None
        self.column: int | None = None
