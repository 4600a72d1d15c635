""""Test this task": run the selected task alone from the editor's side panel and show what it did.

The engine runs the task as a real execution of a one-task flow (``Engine.test_task``): it is
stored, logged and can be killed like any other. The panel takes sample inputs (YAML, prefilled
with the inputs of the chosen execution) and pins the outputs of the earlier tasks from a chosen
previous execution of the flow, then polls the execution and shows its state, the task's
outputs and its log lines, with a link to the execution page.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import yaml

from builder.pages.common import badge, esc, html_pane, url
from builder.services import Services
from builder.services_assist import Problem
from engine.model.yaml_loader import YamlError, load_any_yaml

POLL_MS = 300
#: How long the panel keeps polling one test (the execution itself goes on; its page shows the rest).
POLL_LIMIT_MS = 10 * 60 * 1000


def parse_inputs(text: str) -> dict[str, Any]:
    """The sample inputs typed as YAML (or JSON); ValueError with a sentence naming the field."""
    try:
        data = yaml.safe_load(text or "") or {}
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" (line {mark.line + 1})" if mark is not None else ""
        raise ValueError(f"Sample inputs: not valid YAML{where}; write one 'name: value' per line") from None
    if not isinstance(data, dict):
        raise ValueError("Sample inputs: write one 'name: value' per line (a mapping of input ids to values)")
    return {str(k): v for k, v in data.items()}


def secret_input_ids(flow_text: str) -> set[str]:
    """The ids of the flow's SECRET inputs (none when its YAML does not read)."""
    try:
        data = load_any_yaml(flow_text or "")
    except YamlError:
        return set()
    declared = data.get("inputs") if isinstance(data, dict) else None
    return {str(d.get("id")) for d in declared or [] if isinstance(d, dict) and d.get("type") == "SECRET"}


def sample_inputs_text(values: dict[str, Any], secret_ids: set[str]) -> str:
    """A past execution's inputs as sample YAML. A SECRET input is left for the user to type: executions show it
    masked, and running the task with the mask as its value would be wrong without a word."""
    shown = {k: v for k, v in values.items() if k not in secret_ids}
    lines = [yaml.safe_dump(shown, sort_keys=False, allow_unicode=True).strip()] if shown else []
    lines += [f"# {k}: a SECRET input, not shown: type its value here" for k in values if k in secret_ids]
    return "\n".join(lines)


class TaskTestPanel:
    """The "Test this task" card of one task (built again when another task is selected)."""

    def __init__(self, services: Services, flow: Callable[[], tuple[str, str, str]], task_id: str):
        """``flow()`` gives (namespace, flow id, the YAML as edited) at the moment Run is pressed."""
        import panel as pn

        self.services = services
        self.flow = flow
        self.task_id = task_id
        self.execution_id: str | None = None
        self._poller: Any = None
        namespace, flow_id, _text = flow()
        self.recent = [e for e in services.recent_executions(namespace, flow_id) if e["state"] not in ("CREATED",)]
        options = {"Nothing pinned (earlier outputs are empty)": ""}
        for e in self.recent:
            options[f"{e['id'][:10]} · {e['state']} · {(e['startDate'] or '')[:19].replace('T', ' ')}"] = e["id"]
        self.pin = pn.widgets.Select(name="Outputs of earlier tasks from", options=options,
                                     value=self.recent[0]["id"] if self.recent else "", sizing_mode="stretch_width",
                                     css_classes=["ln-test-pin"])
        self.inputs = pn.widgets.TextAreaInput(name="Sample inputs (YAML: one 'name: value' per line)", height=90,
                                               sizing_mode="stretch_width", css_classes=["ln-test-inputs"])
        self._fill_inputs()
        self.pin.param.watch(lambda _e: self._fill_inputs(), "value")
        self.run_button = pn.widgets.Button(name="▶ Run this task", button_type="success", width=140,
                                            css_classes=["ln-test-run"])
        self.run_button.on_click(lambda _e: self.run())
        self.kill_button = pn.widgets.Button(name="Kill", button_type="danger", width=70, visible=False,
                                             css_classes=["ln-test-kill"])
        self.kill_button.on_click(lambda _e: self.kill())
        self.result = html_pane("", css_classes=["ln-test-result"])
        self.panel = pn.Card(
            html_pane("<span class='ln-muted'>Runs this task alone, as a real execution, with the inputs below "
                      "and the outputs the earlier tasks produced in the chosen execution.</span>"),
            self.pin, self.inputs, pn.Row(self.run_button, self.kill_button), self.result,
            title="🧪 Test this task", sizing_mode="stretch_width", css_classes=["ln-task-test"])

    def _fill_inputs(self) -> None:
        chosen = next((e for e in self.recent if e["id"] == self.pin.value), None)
        self.inputs.value = sample_inputs_text(chosen["inputs"] if chosen else {}, secret_input_ids(self.flow()[2]))

    def run(self) -> None:
        import panel as pn

        namespace, flow_id, text = self.flow()
        try:
            inputs = parse_inputs(self.inputs.value_input if self.inputs.value_input is not None else self.inputs.value)
            self.execution_id = self.services.test_task(namespace, flow_id, self.task_id, text, inputs, self.pin.value)
        except (ValueError, Problem) as exc:
            self.result.object = f"<div class='ln-error ln-test-error'>Not run: {esc(exc)}</div>"
            return
        self.result.object = "<span class='ln-muted'>Starting…</span>"
        self.kill_button.visible = True
        if self._poller is not None:
            self._poller.stop()
        self._poller = pn.state.add_periodic_callback(self.poll, period=POLL_MS, timeout=POLL_LIMIT_MS)

    def kill(self) -> None:
        if self.execution_id:
            try:
                self.services.kill(self.execution_id)
            except Exception as exc:  # noqa: BLE001 - an execution that just ended cannot be killed: say so
                self.result.object += f"<div class='ln-error'>{esc(exc)}</div>"

    def poll(self) -> None:
        if self.execution_id is None:
            return
        summary = self.services.summary(self.execution_id)
        if summary is None:
            return
        ended = summary["state"] in ("SUCCESS", "WARNING", "FAILED", "KILLED")
        run = next((t for t in summary.get("taskRuns", []) if t["taskId"] == self.task_id), None)
        outputs = run.get("outputs") if run else None
        lines = self.services.logs(self.execution_id, min_level="INFO")
        logs = "".join(f"<div class='ln-log-{esc(line['level'])}'>{esc(line['level'])} {esc(line['message'])}</div>"
                       for line in lines) or "<span class='ln-muted'>No log line.</span>"
        shown = esc(json.dumps(outputs, indent=2, ensure_ascii=False, default=str)) if outputs else \
            "<span class='ln-muted'>No output.</span>"
        link = f"<a class='ln-test-execution' href='{url('execution', id=self.execution_id)}'>execution page</a>"
        self.result.object = (f"<div class='ln-test-state'>{badge(summary['state'])} · {link}</div>"
                              f"<b>Outputs</b><pre class='ln-logs ln-test-outputs'>{shown}</pre>"
                              f"<b>Logs</b><div class='ln-logs ln-test-logs'>{logs}</div>")
        if ended:
            self.kill_button.visible = False
            if self._poller is not None:
                self._poller.stop()
                self._poller = None


def opener(services: Services, flow: Callable[[], tuple[str, str, str]], task_id: str) -> Any:
    """A "Test this task" button that builds the panel when pressed (a form opens often; most are not tested)."""
    import panel as pn

    box = pn.Column(sizing_mode="stretch_width", margin=0, css_classes=["ln-task-test-box"])
    button = pn.widgets.Button(name="🧪 Test this task", button_type="light", width=150,
                               css_classes=["ln-task-test-open"])
    button.on_click(lambda _e: setattr(box, "objects", [TaskTestPanel(services, flow, task_id).panel]))
    box.objects = [button]
    return box
