"""The execution page's tools beyond kill/resume/restart: replay from a chosen task, change a task run's
state, add labels, previous/next execution of the same flow, and the State history and Metrics tabs.

Each action goes through :class:`builder.services.Services` to the Engine; refusals
(an execution still running, a task run that has not ended) are shown as the
engine's one sentence, never raised.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from builder.history import parse_labels
from builder.human import took, when_html
from builder.pages.common import badge, esc, go, html_pane, url
from builder.services import Services
from engine.model.state import TERMINAL

#: What a task run can be set to (the engine's rule; it refuses anything else).
CHANGEABLE_TO = ("SUCCESS", "WARNING", "FAILED")


def run_label(run: dict[str, Any]) -> str:
    """How a task run is named in a list: ``task [value] · STATE``."""
    value = f" [{run['value']}]" if run.get("value") is not None else ""
    return f"{run['taskId']}{value} · {run['state']}"


def _unique_labels(runs: list[dict[str, Any]]) -> list[tuple[str, dict[str, Any]]]:
    """(label, task run) for a list of choices: a label shared by two task runs gets the run's short id."""
    seen: dict[str, int] = {}
    for r in runs:
        seen[run_label(r)] = seen.get(run_label(r), 0) + 1
    return [(run_label(r) + (f" ({r['id'][:8]})" if seen[run_label(r)] > 1 else ""), r) for r in runs]


def history_html(summary: dict[str, Any]) -> str:
    """The execution's state changes, then each task run's, with when and how long each state lasted."""

    def table(history: list[dict[str, Any]], end: str | None) -> str:
        rows = []
        for i, h in enumerate(history):
            until = history[i + 1]["date"] if i + 1 < len(history) else end
            rows.append(f"<tr class='ln-history-row' data-state='{esc(h['state'])}'><td>{badge(h['state'])}</td>"
                        f"<td>{when_html(h['date'])}</td><td>{esc(took(h['date'], until)) if until else ''}</td></tr>")
        return f"<table class='ln-table'>{''.join(rows)}</table>" if rows else "<p class='ln-muted'>No history.</p>"

    parts = [f"<h4>Execution</h4><div class='ln-history-execution'>"
             f"{table(summary.get('stateHistory') or [], summary.get('endDate'))}</div>"]
    for run in summary.get("taskRuns") or []:
        parts.append(f"<h4 class='ln-history-task' data-task='{esc(run['taskId'])}'>{esc(run_label(run))}</h4>"
                     f"{table(run.get('stateHistory') or [], run.get('endDate'))}")
    return "".join(parts)


def _number(value: Any) -> Any:
    """3.0 reads as 3; other values as they are."""
    return int(value) if isinstance(value, float) and value.is_integer() else value


def metrics_html(summary: dict[str, Any]) -> str:
    """Every metric the task runs published (metric Publish, a script's ``Kestra.counter``...)."""
    rows = []
    for run in summary.get("taskRuns") or []:
        for m in run.get("metrics") or []:
            tags = "".join(f"<span class='ln-label'>{esc(k)}:{esc(v)}</span>" for k, v in (m.get("tags") or {}).items())
            rows.append(f"<tr class='ln-metric-row' data-name='{esc(m.get('name'))}'><td>{esc(run_label(run))}</td>"
                        f"<td>{esc(m.get('type'))}</td><td><b>{esc(m.get('name'))}</b></td>"
                        f"<td class='ln-metric-value'>{esc(_number(m.get('value')))}</td><td>{tags}</td></tr>")
    if not rows:
        return "<p class='ln-muted ln-no-metrics'>No task published a metric.</p>"
    return ("<table class='ln-table'><tr><th>Task run</th><th>Type</th><th>Name</th><th>Value</th><th>Tags</th></tr>"
            f"{''.join(rows)}</table>")


class ExecutionTools:
    """Replay from a task, change a task run's state, labels, previous/next: updated with each summary."""

    def __init__(self, services: Services, execution_id: str, message: Any, on_change: Callable[[], None]):
        import panel as pn

        self.services, self.execution_id, self.message, self.on_change = services, execution_id, message, on_change
        self.neighbours = html_pane("", css_classes=["ln-neighbours"])
        self.labels_view = html_pane("", css_classes=["ln-exec-labels"])
        self.label_input = pn.widgets.TextInput(name="Add labels", placeholder="key:value", width=200,
                                                css_classes=["ln-label-input"])
        self.label_add = pn.widgets.Button(name="Add", width=70, css_classes=["ln-label-add"])
        self.replay_from = pn.widgets.Select(name="Replay from task", width=260, css_classes=["ln-replay-from"])
        self.replay_button = pn.widgets.Button(name="Replay from here", width=140, css_classes=["ln-replay-task"])
        self.state_run = pn.widgets.Select(name="Change the state of", width=260, css_classes=["ln-state-run"])
        self.state_new = pn.widgets.Select(name="to", options=list(CHANGEABLE_TO), width=120,
                                           css_classes=["ln-state-new"])
        self.state_button = pn.widgets.Button(name="Change state", button_type="warning", width=120,
                                              css_classes=["ln-state-change"])
        self.label_add.on_click(lambda _e: self.add_labels())
        self.replay_button.on_click(lambda _e: self.replay())
        self.state_button.on_click(lambda _e: self.change_state())
        self._runs_signature: Any = None

    def update(self, summary: dict[str, Any]) -> None:
        ended = summary["state"] in TERMINAL
        prev_id, next_id = self.services.neighbours(summary)
        prev = (f"<a class='ln-prev' href='{url('execution', id=prev_id)}'>‹ previous execution</a>" if prev_id
                else "<span class='ln-muted'>‹ no earlier execution</span>")
        nxt = (f"<a class='ln-next' href='{url('execution', id=next_id)}'>next execution ›</a>" if next_id
               else "<span class='ln-muted'>no later execution ›</span>")
        self.neighbours.object = f"<div>{prev} · {nxt}</div>"
        labels = "".join(f"<span class='ln-label'>{esc(k)}:{esc(v)}</span>"
                         for k, v in (summary.get("labels") or {}).items() if not k.startswith("system."))
        self.labels_view.object = f"<div>Labels: {labels or '<span class=ln-muted>none</span>'}</div>"
        runs = summary.get("taskRuns") or []
        signature = [(r["id"], r["state"]) for r in runs]
        if signature != self._runs_signature:
            self._runs_signature = signature
            labelled = _unique_labels(runs)
            self.replay_from.options = {label: r["id"] for label, r in labelled}
            self.state_run.options = {label: r["id"] for label, r in labelled if r["state"] in TERMINAL}
        self.replay_button.disabled = not ended or not runs
        changeable = ended and summary["state"] != "KILLED"
        self.state_button.disabled = not changeable or not self.state_run.options
        self.label_add.disabled = not ended

    def _done(self, text: str) -> None:
        self.message.object = f"<span class='ln-ok'>{esc(text)}</span>"

    def _refused(self, what: str, exc: Exception) -> None:
        self.message.object = f"<span class='ln-error'>{esc(what)} refused: {esc(exc)}</span>"

    def add_labels(self) -> None:
        try:
            labels = parse_labels(self.label_input.value)
            if not labels:
                raise ValueError("type labels as key:value")
            self.services.add_labels(self.execution_id, labels)
        except Exception as exc:  # noqa: BLE001 - the engine's refusal is shown, not raised
            self._refused("Labels", exc)
            return
        self.label_input.value = ""
        self._done(f"Labels {', '.join(f'{k}:{v}' for k, v in labels.items())} added")
        self.on_change()

    def replay(self) -> None:
        try:
            new_id = self.services.replay(self.execution_id, self.replay_from.value)
        except Exception as exc:  # noqa: BLE001
            self._refused("Replay", exc)
            return
        go("execution", id=new_id)

    def change_state(self) -> None:
        try:
            self.services.change_state(self.execution_id, self.state_run.value, self.state_new.value)
        except Exception as exc:  # noqa: BLE001
            self._refused("Change of state", exc)
            return
        self._done(f"Task run set to {self.state_new.value}; the execution goes on from there")
        self.on_change()

    def view(self) -> Any:
        import panel as pn

        return pn.Column(
            pn.Row(self.labels_view, self.label_input, self.label_add, sizing_mode="stretch_width"),
            pn.Row(self.replay_from, self.replay_button, self.state_run, self.state_new, self.state_button,
                   sizing_mode="stretch_width"),
            sizing_mode="stretch_width")
