"""The editor page's glue with a real engine: a form edit and a canvas edit crossing on the wire both land.

The browser's messages are fed to the canvas component the way Panel delivers them (``_process_events``), with
the revision the canvas made its edit on; the form is edited through its own setter, as its widgets do.
"""

from __future__ import annotations

import copy
from typing import Any

import pytest
import yaml

from builder.canvas.component import EDIT_KEY, REVISION_KEY, SEEN_KEY
from builder.pages.editor import Editor
from builder.services import Services
from engine.local_engine import LocalEngine

VALUE = "{{ inputs.region }}"


@pytest.fixture
def editor(tmp_path) -> Editor:
    return Editor(Services(LocalEngine(home=tmp_path)), "acme.routing", "route")


def from_browser(editor: Editor, flow: dict[str, Any], made_on: int) -> None:
    """The canvas in the browser sends an edit made on revision ``made_on`` of the flow."""
    editor.canvas._process_events({"flow": {**copy.deepcopy(flow), REVISION_KEY: made_on}})


def switch_task(editor: Editor) -> dict[str, Any]:
    return editor.sync.data["tasks"][0]


def with_switch(editor: Editor) -> dict[str, Any]:
    """Drop a Switch on the canvas and select it, as a user does; returns the flow the canvas then holds."""
    flow = {**editor.sync.data, "tasks": [{"id": "switch_1", "type": "switch"}]}
    from_browser(editor, flow, editor.canvas._revision)
    editor.canvas._process_events({"selected": "switch_1"})
    assert editor._form is not None and editor._form.task["id"] == "switch_1"
    return flow


def assert_everywhere(editor: Editor, task: dict[str, Any]) -> None:
    assert switch_task(editor) == task
    assert editor.canvas.flow["tasks"][0] == task, "the canvas is sent the merged flow"
    assert yaml.safe_load(editor.code.value)["tasks"][0] == task, "the YAML tab shows the merged flow"


def test_a_case_added_on_the_canvas_before_a_typed_value_arrived_keeps_the_value(editor):
    on_canvas = with_switch(editor)
    made_on = editor.canvas._revision
    editor._form._set("value", VALUE)  # reaches the server first; the canvas has not seen it yet
    assert editor.canvas._revision > made_on
    on_canvas["tasks"][0]["cases"] = {"north": []}
    from_browser(editor, on_canvas, made_on)
    assert_everywhere(editor, {"id": "switch_1", "type": "switch", "value": VALUE, "cases": {"north": []}})


def test_a_value_typed_before_a_case_was_added_keeps_the_case(editor):
    on_canvas = with_switch(editor)
    typing_in = editor._form
    on_canvas["tasks"][0]["cases"] = {"north": []}
    from_browser(editor, on_canvas, editor.canvas._revision)  # the case first; the form is rebuilt for it
    typing_in._set("value", VALUE)  # the value typed into the form the user saw, arriving late
    assert_everywhere(editor, {"id": "switch_1", "type": "switch", "cases": {"north": []}, "value": VALUE})
    assert editor._form.task == switch_task(editor), "the form on show has the late value too"


def test_after_a_form_edit_the_form_is_not_rebuilt_by_the_next_change_elsewhere(editor):
    with_switch(editor)
    form = editor._form
    form._set("value", VALUE)
    # The flow settings change a flow-level field: the task's form stays as it is.
    editor.set_flow({**editor.sync.data, "description": "routes orders"}, origin="flow")
    assert editor._form is form


def test_an_edit_made_on_the_latest_revision_is_taken_as_sent(editor):
    on_canvas = with_switch(editor)
    on_canvas["tasks"].append({"id": "log_1", "type": "log", "message": "hi"})
    on_canvas["tasks"][0]["value"] = "x"
    from_browser(editor, on_canvas, editor.canvas._revision)
    assert editor.sync.data["tasks"] == on_canvas["tasks"]


def test_a_task_deleted_on_the_canvas_stays_deleted_when_a_form_edit_crossed_it(editor):
    on_canvas = with_switch(editor)
    on_canvas["tasks"].append({"id": "log_1", "type": "log", "message": "hi"})
    from_browser(editor, on_canvas, editor.canvas._revision)
    made_on = editor.canvas._revision
    editor._form._set("value", VALUE)
    from_browser(editor, {**on_canvas, "tasks": [on_canvas["tasks"][0]]}, made_on)  # log_1 deleted
    assert [t["id"] for t in editor.sync.data["tasks"]] == ["switch_1"]
    assert switch_task(editor)["value"] == VALUE


def test_what_the_browser_is_sent_says_its_revision_and_the_last_canvas_edit_taken_in(editor):
    on_canvas = with_switch(editor)
    editor.canvas._process_events({"flow": {**copy.deepcopy(on_canvas), REVISION_KEY: editor.canvas._revision,
                                            EDIT_KEY: 7}})
    editor._form._set("value", VALUE)
    sent = editor.canvas._process_param_change({"flow": editor.canvas.flow})["flow"]
    assert (sent[REVISION_KEY], sent[SEEN_KEY]) == (editor.canvas._revision, 7)
    assert EDIT_KEY not in editor.canvas.flow and REVISION_KEY not in editor.sync.data, "the keys stay on the wire"


def test_a_canvas_edit_taken_as_sent_is_not_sent_back_but_a_merged_one_is(editor):
    """The browser already shows its own edit: only a flow it lacks goes back (a merge, a form change)."""
    from bokeh.document import Document
    from panel.io.state import set_curdoc

    doc = Document()
    with set_curdoc(doc):
        doc.add_root(editor.canvas.get_root(doc))
    sent: list[dict[str, Any]] = []
    doc.on_change(lambda e: sent.append(e.new) if getattr(e, "attr", None) == "flow" else None)

    def canvas_edit(flow: dict[str, Any], made_on: int, number: int) -> None:
        with set_curdoc(doc):
            editor.canvas._process_events({"flow": {**copy.deepcopy(flow), REVISION_KEY: made_on, EDIT_KEY: number}})

    on_canvas = {**editor.sync.data, "tasks": [{"id": "switch_1", "type": "switch"}]}
    canvas_edit(on_canvas, editor.canvas._revision, 1)
    assert sent == [], "the edit went back to the browser that made it"
    assert editor.sync.data["tasks"] == on_canvas["tasks"]

    made_on = editor.canvas._revision
    with set_curdoc(doc):
        editor.canvas._process_events({"selected": "switch_1"})
        editor._form._set("value", VALUE)  # a form change: the browser is sent it
    assert [flow["tasks"][0].get("value") for flow in sent] == [VALUE]
    assert sent[-1][SEEN_KEY] == 1, "it says which canvas edit it includes"

    sent.clear()
    on_canvas["tasks"][0]["cases"] = {"north": []}
    canvas_edit(on_canvas, made_on, 2)  # made before the form change reached the canvas: merged, and sent
    assert len(sent) == 1
    assert sent[0]["tasks"] == [{"id": "switch_1", "type": "switch", "value": VALUE, "cases": {"north": []}}]
    assert sent[0][SEEN_KEY] == 2
