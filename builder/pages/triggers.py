"""Triggers page: every trigger with its next run, enable/disable, and backfills with their progress.

Enabling and disabling write the trigger state the scheduler reads; a backfill
is recorded for the scheduler to run tick by tick, and its progress bar follows
the ``done/total`` it reports.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from builder.pages.common import Poller, badge, esc, html_pane, shell, url
from builder.services import Services

REFRESH_MS = 2000


class TriggersPage:
    def __init__(self, services: Services):
        import panel as pn

        self.services = services
        self.list = pn.Column(sizing_mode="stretch_width", css_classes=["ln-trigger-list"])
        self.message = html_pane("", css_classes=["ln-message"])
        self.target = pn.widgets.Select(name="Trigger", options={}, width=320, css_classes=["ln-backfill-trigger"])
        now = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
        self.start = pn.widgets.TextInput(name="Start (ISO-8601, UTC if no offset)",
                                          value=(now - timedelta(days=1)).isoformat(), width=260)
        self.end = pn.widgets.TextInput(name="End (excluded)", value=now.isoformat(), width=260)
        self.go = pn.widgets.Button(name="Start backfill", button_type="primary", align="end",
                                    css_classes=["ln-backfill-start"])
        self.go.on_click(self.backfill)
        self.progress = pn.Column(sizing_mode="stretch_width", css_classes=["ln-backfills"])
        self._signature: Any = None
        self.refresh()

    def refresh(self) -> None:
        import panel as pn

        triggers = self.services.triggers()
        backfills = self.services.backfills()
        signature = ([tuple(sorted(t.items())) for t in triggers],
                     [(b["id"], b["done"], b["state"]) for b in backfills])
        if signature == self._signature:
            return
        self._signature = signature
        rows: list[Any] = [html_pane(
            "<table class='ln-table'><tr><th style='width:30%'>Flow</th><th style='width:18%'>Trigger</th>"
            "<th style='width:20%'>Schedule</th><th>Next run</th></tr></table>")]
        options = {}
        for t in triggers:
            key = f"{t['namespace']}.{t['flowId']} / {t['triggerId']}"
            if t["cron"]:
                options[key] = (t["namespace"], t["flowId"], t["triggerId"])
            state = "<span class='ln-muted'>disabled</span>" if t["disabled"] else esc(t["next"] or "–")
            cells = (f"<table class='ln-table'><tr class='ln-trigger-row' data-trigger='{esc(t['triggerId'])}'>"
                     f"<td style='width:30%'><a href='{url('editor', namespace=t['namespace'], id=t['flowId'])}'>"
                     f"{esc(t['namespace'])}.{esc(t['flowId'])}</a></td><td style='width:18%'>{esc(t['triggerId'])} "
                     f"<span class='ln-muted'>{esc(t['type'])}</span></td><td style='width:20%'>"
                     f"{esc(t['cron'] or '')} {esc(t['timezone'] if t['cron'] else '')}</td>"
                     f"<td class='ln-next-run'>{state} · <a class='ln-trigger-executions' "
                     f"href='{url('executions', namespace=t['namespace'], flowId=t['flowId'])}'>Executions</a>"
                     "</td></tr></table>")
            toggle = pn.widgets.Button(name="Enable" if t["disabled"] else "Disable", width=90,
                                       button_type="success" if t["disabled"] else "warning",
                                       css_classes=["ln-toggle"], disabled=t["disabledInYaml"],
                                       description="Disabled in the flow's YAML" if t["disabledInYaml"] else None)
            toggle.on_click(lambda _e, t=t: self.toggle(t))
            rows.append(pn.Row(html_pane(cells), toggle, sizing_mode="stretch_width"))
        if not triggers:
            rows.append(html_pane("<p class='ln-muted'>No flow has a trigger yet.</p>"))
        self.list.objects = rows
        self.target.options = options
        if self.target.value not in options.values():  # Select keeps a stale value (or None): show the first
            self.target.value = next(iter(options.values()), None)
        bars = []
        for b in backfills:
            value = int(100 * b["done"] / b["total"]) if b["total"] else 100
            bars.append(pn.Row(
                html_pane(f"{esc(b['namespace'])}.{esc(b['flowId'])} / {esc(b['triggerId'])} "
                          f"{esc(b['start'])} → {esc(b['end'])}: {b['done']}/{b['total']} {badge(b['state'])}",
                          width=700),
                pn.indicators.Progress(value=value, max=100, width=200, css_classes=["ln-backfill-progress"]),
            ))
        self.progress.objects = bars or [html_pane("<p class='ln-muted'>No backfill yet.</p>")]

    def toggle(self, trigger: dict[str, Any]) -> None:
        self.services.set_trigger_disabled(trigger["namespace"], trigger["flowId"], trigger["triggerId"],
                                           not trigger["disabled"])
        self.refresh()

    def backfill(self, _event: Any = None) -> None:
        from engine.triggers.ticks import parse_instant

        if not self.target.value:
            self.message.object = "<span class='ln-error'>Choose a schedule trigger first.</span>"
            return
        ns, fid, tid = self.target.value
        try:
            start, end = parse_instant(self.start.value_input or self.start.value), \
                parse_instant(self.end.value_input or self.end.value)
            record = self.services.backfill(ns, fid, tid, start, end)
        except ValueError as exc:
            self.message.object = f"<span class='ln-error'>Backfill not started: {esc(exc)}</span>"
            return
        self.message.object = f"<span class='ln-ok'>Backfill of {record['total']} run(s) requested.</span>"
        self.refresh()

    def view(self) -> Any:
        import panel as pn

        Poller(self.refresh, REFRESH_MS).start()
        return shell("triggers", "Triggers", pn.Column(
            self.list, pn.pane.Markdown("#### Backfill"), pn.Row(self.target, self.start, self.end, self.go),
            self.message, self.progress, sizing_mode="stretch_width", margin=(0, 16)))


def page(services: Services) -> Any:
    return TriggersPage(services).view()
