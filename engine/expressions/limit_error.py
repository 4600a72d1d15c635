"""The error raised when a template exceeds one of its :class:`~engine.expressions.limits.Limits`.

Apart from the limits themselves, which a short run reads without importing Jinja.
"""

from __future__ import annotations

from jinja2.exceptions import TemplateRuntimeError


class LimitError(TemplateRuntimeError):
    """A template tried to build a value, or run for longer, than its limits allow."""
