"""The templates gallery of the Flows page's "New flow" card: one card per business story Lanner ships.

Each card says what the flow does in one line and which steps and plugins it uses; "Use this
template" opens it in the editor under the namespace and id typed above it (the template's own
id when none is typed), unsaved until the user saves it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from builder.pages.common import CSS, esc
from builder.services import Services

CARD_CSS = """
.ln-tpl { border: 1px solid #e2e8f0; border-radius: 8px; padding: 8px 12px; background: white; height: 150px; }
.ln-tpl h4 { margin: 0 0 4px 0; font-size: 15px; }
.ln-tpl p { margin: 0 0 6px 0; font-size: 13px; }
.ln-tpl .ln-uses { color: #475569; font-size: 12px; }
.ln-tpl .ln-plugin { background: #fef3c7; color: #92400e; border-radius: 4px; padding: 0 5px; font-size: 11px; }
"""


def card_html(template: Any) -> str:
    plugins = "".join(f" <span class='ln-plugin'>{esc(p)}</span>" for p in template.plugins)
    files = f"<div class='ln-uses'>Adds {esc(', '.join(template.files))} to the namespace.</div>" \
        if template.files else ""
    problem = f"<div class='ln-error'>{esc(template.problem)}</div>" if template.problem else ""
    return (f"<div class='ln-tpl' data-template='{esc(template.id)}'><h4>{esc(template.title)}</h4>"
            f"<p>{esc(template.story)}</p><div class='ln-uses'>Uses: {esc(' · '.join(template.uses))}{plugins}"
            f"</div>{files}{problem}</div>")


def gallery(services: Services, use: Callable[[str], None]) -> Any:
    """The cards; ``use(template_id)`` opens the chosen one."""
    import panel as pn

    cards = []
    for template in services.templates():
        button = pn.widgets.Button(name="Use this template", button_type="primary", button_style="outline",
                                   width=160, disabled=not template.available,
                                   css_classes=["ln-use-template", f"ln-use-template-{template.id}"])
        button.on_click(lambda _e, tid=template.id: use(tid))
        cards.append(pn.Column(pn.pane.HTML(card_html(template), stylesheets=[CSS, CARD_CSS], sizing_mode="stretch_width"),
                               button, width=330,
                               css_classes=["ln-template-card"]))
    intro = pn.pane.Markdown("**Start from a template** — a complete flow you adapt; it opens in the editor "
                             "under the namespace and id above.", margin=(10, 10, 0, 10))
    return pn.Column(intro, pn.FlexBox(*cards, sizing_mode="stretch_width"), sizing_mode="stretch_width",
                     css_classes=["ln-template-gallery"])
