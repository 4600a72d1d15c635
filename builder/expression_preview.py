"""Expression preview: under a form field, what its ``{{ … }}`` renders to, while the user types.

The pane asks once typing pauses (a Bokeh timeout callback, reset at each keystroke), and
once when the form opens. Rendering is the engine's (``Engine.preview_expression``: the
runner's sandbox with its limits, against the flow's last execution); this module only
decides when to ask and how the answer looks: the value in green, or the engine's sentence
saying why it does not render in red.
"""

from __future__ import annotations

import html
from collections.abc import Callable
from typing import Any

#: Renders a template: (value, None) or (None, the sentence why not).
Previewer = Callable[[str], tuple[str | None, str | None]]
#: Milliseconds of quiet typing before a preview is asked for.
DEBOUNCE_MS = 350


def preview_html(value: str | None, error: str | None) -> str:
    """The line under a field showing what its expression renders to (or why it does not)."""
    if error:
        return f"<div class='lf-preview lf-preview-error' style='color:#b91c1c;font-size:12px'>⚠ {html.escape(error)}</div>"
    return ("<div class='lf-preview lf-preview-value' style='color:#15803d;font-size:12px;white-space:pre-wrap'>"
            f"= {html.escape(value or '')}</div>")


def preview_pane(widget: Any, name: str, previewer: Previewer) -> Any:
    """An HTML pane under ``widget`` that follows its ``value_input`` (debounced)."""
    import panel as pn

    pane = pn.pane.HTML("", css_classes=["lf-preview-box", f"lf-preview-{name}"], sizing_mode="stretch_width",
                        margin=(0, 10))
    pending: dict[str, Any] = {}

    def show(text: str | None) -> None:
        pane.object = preview_html(*previewer(text)) if text and "{{" in text else ""

    def typed(event: Any) -> None:
        doc = pn.state.curdoc
        if doc is None or doc.session_context is None:  # no browser session (tests of the form): at once
            show(event.new)
            return
        if pending.get("handle") is not None:
            try:
                doc.remove_timeout_callback(pending["handle"])
            except ValueError:
                pass  # it already ran
        pending["handle"] = doc.add_timeout_callback(lambda: show(widget.value_input), DEBOUNCE_MS)

    widget.param.watch(typed, "value_input")
    show(widget.value if isinstance(widget.value, str) else None)
    return pane
