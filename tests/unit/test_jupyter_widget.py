"""The topology widget (builder/jupyter/widget.py): traits, static fallback, Gantt, magic options."""

from __future__ import annotations

import base64
import gzip
import json
import re
from pathlib import Path

import pytest

from builder.canvas.bundles import bundle
from builder.jupyter import static
from builder.jupyter.backends import NotebookError
from builder.jupyter.gantt import gantt_data, gantt_rows
from builder.jupyter.session import FlowInvalid, parse_inputs
from builder.jupyter.widget import FlowWidget
from builder.topology import STATE_COLOURS, layout_from_summary

WIDGET_DIR = Path(__file__).resolve().parents[2] / "builder" / "jupyter"
SYNCED = ("topology", "states", "details", "execution", "selected", "view", "gantt", "palette", "files_url")

FLOW = {
    "id": "hello", "namespace": "demo.nb",
    "tasks": [
        {"id": "greet", "type": "log", "message": "hi"},
        {"id": "loop", "type": "for_each", "values": ["a", "b"], "tasks": [{"id": "each", "type": "return", "format": "x"}]},
    ],
}


def run(rid, task, state, start, end, parent=None, value=None):
    return {"id": rid, "taskId": task, "parentTaskRunId": parent, "value": value, "state": state,
            "attempts": [{"state": state}], "outputs": {"value": f"out-{rid}"},
            "startDate": f"2024-05-01T10:00:{start:02d}+00:00", "endDate": f"2024-05-01T10:00:{end:02d}+00:00"}


SUMMARY = {
    "id": "ex42", "namespace": "demo.nb", "flowId": "hello", "flowRevision": 1, "state": "SUCCESS",
    "inputs": {}, "outputs": {}, "labels": {},
    "startDate": "2024-05-01T10:00:00+00:00", "endDate": "2024-05-01T10:00:05+00:00",
    "taskRuns": [
        run("r1", "greet", "SUCCESS", 0, 1),
        run("r2", "loop", "SUCCESS", 1, 5),
        run("r3", "each", "SUCCESS", 1, 2, parent="r2", value="a"),
        run("r4", "each", "SUCCESS", 2, 4, parent="r2", value="b"),
    ],
}
LOGS = [{"id": 1, "executionId": "ex42", "taskRunId": "r1", "taskId": "greet", "attempt": 0, "level": "INFO",
         "timestamp": "2024-05-01T10:00:00.5+00:00", "message": "hi there"}]


def unpack(text: str) -> str:
    return gzip.decompress(base64.b64decode(text)).decode("utf-8")


def test_js_and_css_are_the_topology_bundle_shared_by_every_widget():
    w, other = FlowWidget.from_flow(FLOW), FlowWidget.from_flow(FLOW)
    assert str(w._esm) == (WIDGET_DIR / "loader.js").read_text()  # a few lines that load the shared code
    assert w.module is other.module
    assert w.module.encoding == "gzip"
    js = bundle("topology.js").read_text()
    assert unpack(w.module.code) == js
    assert unpack(w.module.css) == bundle("topology.css").read_text()
    assert len(w.module.code) < len(js) / 2  # what a saved notebook keeps
    assert w.get_state(key=["module"])["module"] == f"IPY_MODEL_{w.module.model_id}"
    assert re.search(r"export\s*\{[^}]*\bas default\b", js)
    # Only the anywidget contract: no Jupyter globals, no imports left unbundled, no network.
    assert not re.search(r"\bimport\s*[\w{*].*?from\s*['\"]|\bimport\(|require\(|@jupyter|window\.jupyter", js)
    assert not re.search(r"https?://(?!www\.w3\.org|reactjs\.org|react\.dev|reactflow\.dev)[\w.-]+", js)


def test_traits_are_plain_json_and_start_without_an_execution():
    w = FlowWidget.from_flow(FLOW)
    state = w.get_state(key=list(SYNCED))
    assert json.loads(json.dumps(state)) == state
    assert [n["id"] for n in w.topology["nodes"]] == ["greet", "loop", "each"]
    assert w.states == {} and w.execution == {} and w.view == "topology"
    assert w.palette == STATE_COLOURS


def test_show_execution_fills_states_details_and_execution():
    w = FlowWidget.from_flow(FLOW)
    w.show_execution(SUMMARY, LOGS)
    assert w.states["greet"]["state"] == "SUCCESS" and w.states["greet"]["colour"] == STATE_COLOURS["SUCCESS"]
    assert w.states["loop"]["iterations"] == {"SUCCESS": 2}
    assert [v["value"] for v in w.states["loop"]["values"]] == ["a", "b"]
    assert w.details["greet"]["logs"][0]["message"] == "hi there"
    assert w.details["each"]["runs"][1]["outputs"] == {"value": "out-r4"}
    assert w.execution["id"] == "ex42" and w.execution["state"] == "SUCCESS" and w.execution["duration"] == 5.0
    # Logs given once are kept when a later poll does not re-read them.
    w.show_execution(SUMMARY)
    assert w.details["greet"]["logs"][0]["message"] == "hi there"
    assert json.loads(json.dumps(w.get_state(key=list(SYNCED))))


def test_mimebundle_has_the_widget_view_and_a_static_svg_fallback():
    w = FlowWidget.from_flow(FLOW)
    data, _ = w._repr_mimebundle_()
    assert data["application/vnd.jupyter.widget-view+json"]["model_id"] == w.model_id
    html = data["text/html"]
    # An image, not inline SVG: sanitizers (JupyterLab on untrusted notebooks) keep images only.
    assert re.search(r'<img [^>]*src="data:image/svg\+xml;base64,', html)
    assert "<svg" not in html and "<script" not in html
    svg = static.svg_from_html(html)
    assert svg.startswith("<svg") and "<script" not in svg
    assert set(re.findall(r'data-node-id="([^"]+)"', svg)) == {"greet", "loop", "each"}
    assert 'data-state=""' in svg and STATE_COLOURS["SUCCESS"] not in svg
    w.show_execution(SUMMARY, LOGS)
    html = w._repr_mimebundle_()[0]["text/html"]
    svg = static.svg_from_html(html)
    assert svg.count('data-state="SUCCESS"') == 3 and STATE_COLOURS["SUCCESS"] in svg
    assert "2 success" in svg and "ex42" in html and 'alt="Topology of demo.nb.hello, execution ex42 SUCCESS"' in html


def test_static_fallback_escapes_names():
    summary = {"namespace": "x", "flowId": "<b>f</b>", "taskRuns": [
        {"id": "1", "taskId": "<img src=x onerror=alert(1)>", "parentTaskRunId": None, "state": "FAILED"}]}
    html = static.static_html(layout_from_summary(summary).to_dict())
    svg = static.svg_from_html(html)
    assert "<b>" not in html and "<img src=x" not in svg and "&lt;img src=x" in svg


def test_gantt_is_built_when_its_view_opens():
    w = FlowWidget.from_flow(FLOW)
    w.view = "gantt"
    assert w.gantt == {}  # nothing ran yet
    w.view = "topology"
    w.show_execution(SUMMARY, LOGS)
    assert w.gantt == {}  # built on demand only
    w.view = "gantt"
    assert w.gantt["executionId"] == "ex42" and len(w.gantt["rows"]) == 4
    assert w.gantt["end"] - w.gantt["start"] == 5000


def test_gantt_rows_follow_start_order_with_loop_values():
    rows = gantt_rows(SUMMARY)
    assert [r["label"] for r in rows] == ["greet", "loop", "each [a]", "each [b]"]
    assert rows[3]["duration"] == "2.0s" and rows[3]["colour"] == STATE_COLOURS["SUCCESS"]
    data = gantt_data(SUMMARY)
    assert [r["label"] for r in data["rows"]] == ["greet", "loop", "each [a]", "each [b]"]
    assert data["rows"][3]["end"] - data["rows"][3]["start"] == 2000 and data["dropped"] == 0


def test_a_file_link_click_is_answered_with_the_bytes_or_the_reason():
    w = FlowWidget.from_flow(FLOW)
    sent: list[tuple[dict, list]] = []
    w.send = lambda content, buffers=None: sent.append((content, buffers or []))
    w._on_message(w, {"kind": "download", "uri": "lanner:///a/b/executions/e/tasks/t/r/nb.ipynb"}, [])
    assert sent[-1][0]["error"].startswith("LookupError: this widget has no engine")
    w.file_reader = lambda uri: (uri.rsplit("/", 1)[-1], b"{}")
    w._on_message(w, {"kind": "download", "uri": "lanner:///a/b/executions/e/tasks/t/r/nb.ipynb"}, [])
    assert sent[-1] == ({"kind": "file", "uri": "lanner:///a/b/executions/e/tasks/t/r/nb.ipynb", "name": "nb.ipynb"},
                        [b"{}"])


def test_parse_inputs():
    assert parse_inputs(["name=Ada", "expr=a=b", "empty="]) == {"name": "Ada", "expr": "a=b", "empty": ""}
    with pytest.raises(NotebookError, match="--input 'oops' must look like NAME=VALUE"):
        parse_inputs(["oops"])


def test_errors_render_without_a_traceback():
    class E:
        path, message, line = "tasks[0].type", "unknown task type 'lgo'; did you mean 'log'?", 7

    err = FlowInvalid([E()])
    lines = err._render_traceback_()
    assert "FlowInvalid" in lines[0] and "the flow is invalid (1 error)" in lines[0]
    assert lines[1] == "  line 7: tasks[0].type: unknown task type 'lgo'; did you mean 'log'?"
    assert not any("Traceback" in line for line in lines)


def test_the_gantt_view_keeps_the_widget_state_small():
    """The Gantt is drawn from its rows: no page (1.4 MB of inlined BokehJS) is kept in the saved notebook."""
    w = FlowWidget.from_flow(FLOW)
    w.show_execution(SUMMARY, LOGS)
    w.show_gantt()
    state = json.dumps({k: v for k, v in w.get_state().items() if k not in ("_esm", "_css")})
    assert len(state) < 20_000, len(state)
