"""What every builder page shares: the shell (header, navigation, CSS), URL arguments, state badges.

Pages are separate Panel applications under ``/ui`` (``/ui/flows``,
``/ui/editor?namespace=..&id=..``...) linked by ordinary URLs, so each page can
be bookmarked, opened in a new tab and tested on its own. The shell uses no
template: Panel's FastListTemplate fetches web fonts from the internet, and the
builder must never make a request that leaves the machine.
"""

from __future__ import annotations

import html
from collections.abc import Callable
from typing import Any
from urllib.parse import urlencode

from builder.topology import PENDING_COLOUR, STATE_COLOURS

CSS = """
:root { --lanner-accent: #4f46e5; }
body { font-family: system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; background: #f8fafc; margin: 0; }
.ln-header { background: #1e1b4b; color: white; padding: 8px 16px; display: flex; align-items: center; gap: 24px; }
.ln-header a { color: #c7d2fe; text-decoration: none; font-weight: 500; }
.ln-header a.ln-active { color: white; border-bottom: 2px solid white; }
.ln-brand { font-weight: 700; font-size: 18px; color: white !important; }
.ln-badge { display: inline-block; padding: 1px 8px; border-radius: 10px; color: white; font-size: 12px;
            font-weight: 600; }
.ln-table { border-collapse: collapse; width: 100%; font-size: 14px; }
.ln-table th, .ln-table td { text-align: left; padding: 6px 8px; border-bottom: 1px solid #e2e8f0; }
.ln-muted { color: #64748b; font-size: 13px; }
.ln-error { color: #b91c1c; }
.ln-ok { color: #15803d; }
.ln-dirty { color: #b45309; font-weight: 600; font-size: 13px; }
.ln-label { display: inline-block; background: #e0e7ff; color: #3730a3; border-radius: 4px; padding: 0 6px;
            margin-right: 4px; font-size: 12px; }
.ln-big { font-size: 32px; font-weight: 700; }
.ln-logs { font-family: ui-monospace, SFMono-Regular, Menlo, monospace; font-size: 12px; white-space: pre-wrap; }
.ln-log-ERROR { color: #b91c1c; } .ln-log-WARN { color: #b45309; } .ln-log-DEBUG, .ln-log-TRACE { color: #64748b; }
.ln-diff-add { background: #dcfce7; } .ln-diff-del { background: #fee2e2; } .ln-diff-hunk { color: #6366f1; }
.ln-tree a { text-decoration: none; color: #1e293b; } .ln-tree ul { padding-left: 14px; margin: 0; list-style: none; }
"""

FORM_CSS = """
.lf-title { font-weight: 700; font-size: 15px; }
.lf-label { font-size: 13px; font-weight: 500; }
.lf-help { color: #64748b; font-size: 12px; margin-top: 1px; }
.lf-error-text { color: #b91c1c; font-size: 12px; }
"""

NAV = (("flows", "Flows"), ("executions", "Executions"), ("logs", "Logs"), ("dashboard", "Dashboard"),
       ("dashboards", "Dashboards"), ("triggers", "Triggers"), ("namespace", "Namespaces"))


def arg(name: str, default: str = "") -> str:
    """A URL query argument of the current session ("" when absent)."""
    import panel as pn

    values = (pn.state.session_args or {}).get(name)
    if not values:
        return default
    value = values[0]
    return value.decode() if isinstance(value, bytes) else str(value)


def url(page: str, **query: Any) -> str:
    """Relative URL of a builder page (pages live side by side under /ui)."""
    q = {k: v for k, v in query.items() if v not in (None, "")}
    return f"./{page}" + (f"?{urlencode(q)}" if q else "")


def go(page: str, **query: Any) -> None:
    """Navigate the browser to another page of the builder."""
    import panel as pn

    target = url(page, **query)
    path, _, search = target[2:].partition("?")
    loc = pn.state.location
    base = loc.pathname.rsplit("/", 1)[0]
    # The browser pushes the new URL, then the reload flag makes it load that URL (models/location.ts).
    loc.reload = False
    loc.param.update(pathname=f"{base}/{path}", search=f"?{search}" if search else "")
    loc.reload = True


def badge(state: str | None) -> str:
    """A coloured state pill (same palette as the topology and the Gantt chart)."""
    if not state:
        return "<span class='ln-muted'>never run</span>"
    colour = STATE_COLOURS.get(state, PENDING_COLOUR)
    return f"<span class='ln-badge ln-state-{html.escape(state)}' style='background:{colour}'>{html.escape(state)}</span>"


def esc(value: Any) -> str:
    return html.escape(str(value), quote=True)


def shell(active: str, title: str, *body: Any) -> Any:
    """The page: header with navigation, a title, then the body, in plain Panel layouts."""
    import panel as pn

    links = " ".join(f"<a href='{url(key)}' class='ln-nav-{key}{' ln-active' if key == active else ''}'>{label}</a>"
                     for key, label in NAV)
    header = pn.pane.HTML(f"<div class='ln-header'><a class='ln-brand' href='{url('flows')}'>Lanner</a>{links}</div>",
                          sizing_mode="stretch_width", margin=0, stylesheets=[CSS])
    return pn.Column(header, pn.pane.Markdown(f"## {title}", margin=(0, 16), css_classes=["ln-title"]),
                     *body, sizing_mode="stretch_width", margin=0, stylesheets=[CSS, FORM_CSS])


def html_pane(text: str = "", **kw: Any) -> Any:
    """An HTML pane that carries the shell's CSS (panes render in their own shadow root)."""
    import panel as pn

    kw.setdefault("sizing_mode", "stretch_width")
    return pn.pane.HTML(text, stylesheets=[CSS, FORM_CSS], **kw)


class Poller:
    """Calls a page's refresh every ``period_ms``, from the moment the browser has drawn the page.

    Why not at once: BokehJS builds a page's views and connects them to their models before it renders them. A
    change the server pushes in between (an execution ending while its page loads) reaches views that have no
    DOM elements yet, and BokehJS throws ("Cannot read properties of undefined (reading 'firstChild')" from a
    Select given new options). Panel's ``onload`` runs when the browser reports the document ready, after
    rendering, and at once when the page is already loaded or outside a server session. The first poll then
    catches up with whatever changed while the page loaded.
    """

    def __init__(self, callback: Callable[[], None], period_ms: int):
        self.callback = callback
        self.period_ms = period_ms
        self.running = False
        self._periodic: Any = None

    def start(self) -> None:
        import panel as pn

        if self.running:
            return
        self.running = True
        pn.state.onload(self._begin)

    def _begin(self) -> None:
        import panel as pn

        if self.running and self._periodic is None:
            self._periodic = pn.state.add_periodic_callback(self.callback, period=self.period_ms)

    def stop(self) -> None:
        self.running = False
        if self._periodic is not None:
            self._periodic.stop()
            self._periodic = None
