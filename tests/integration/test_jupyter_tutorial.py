"""notebooks/tutorial.ipynb runs in a real kernel, and its widgets hold the right state.

The executed notebook keeps every widget's last state in its metadata (as a saved
notebook does), so the assertions read what a viewer without a kernel would show.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

from builder.jupyter.static import svg_from_html
from builder.topology import STATE_COLOURS

TUTORIAL = Path(__file__).resolve().parents[2] / "notebooks" / "tutorial.ipynb"
WIDGET_MIME = "application/vnd.jupyter.widget-view+json"
STATE_MIME = "application/vnd.jupyter.widget-state+json"


@pytest.fixture(scope="module")
def executed(tmp_path_factory):
    work = tmp_path_factory.mktemp("tutorial")
    shutil.copy(TUTORIAL, work / "tutorial.ipynb")
    nb = nbformat.read(work / "tutorial.ipynb", as_version=4)
    mp = pytest.MonkeyPatch()
    mp.setenv("LANNER_HOME", str(work / ".lanner"))
    mp.delenv("LANNER_NOTEBOOK_DIR", raising=False)
    try:
        NotebookClient(nb, timeout=120, kernel_name="python3", resources={"metadata": {"path": str(work)}},
                       store_widget_state=True).execute()
    finally:
        mp.undo()
    return nb


def cell_with(nb, source_start: str):
    for cell in nb.cells:
        if cell.cell_type == "code" and cell.source.startswith(source_start):
            return cell
    raise AssertionError(f"no cell starts with {source_start!r}")


def widgets_of(nb, cell) -> list[dict]:
    """Saved states of the flow widgets a cell displayed, in output order."""
    saved = nb.metadata["widgets"][STATE_MIME]["state"]
    out = []
    for o in cell.outputs:
        data = o.get("data", {})
        if WIDGET_MIME in data:
            model = saved[data[WIDGET_MIME]["model_id"]]
            if model["state"].get("_anywidget_id") == "builder.jupyter.widget.FlowWidget":
                out.append(model["state"])
    return out


def text_of(cell) -> str:
    parts = []
    for o in cell.outputs:
        if o.output_type == "stream":
            parts.append(o.text)
        elif "data" in o:
            parts.append(o.data.get("text/plain", ""))
    return "\n".join(parts)


def test_show_draws_the_whole_topology_without_state(executed):
    (w,) = widgets_of(executed, cell_with(executed, "%flow show"))
    ids = [n["id"] for n in w["topology"]["nodes"] if n["kind"] != "branch-label"]
    assert ids == ["greet", "fan_out", "shout", "nap", "per_city", "postcard", "check", "famous", "welcome"]
    kinds = {n["id"]: n["kind"] for n in w["topology"]["nodes"]}
    assert kinds["per_city"] == "container" and kinds["postcard"] == "task" and kinds["check:then"] == "branch-label"
    assert w["states"] == {} and w["execution"] == {}


def test_invalid_flow_cell_shows_the_line_and_no_traceback(executed):
    cell = cell_with(executed, "%%flow\nid: broken")
    (err,) = [o for o in cell.outputs if o.output_type == "error"]
    assert err.ename == "FlowInvalid"
    text = "\n".join(err.traceback)
    assert "line 5: tasks[0].type: unknown task type 'lgo'; did you mean 'log'?" in text
    assert "Traceback" not in text and "File " not in text


def test_run_cell_returns_the_summary_and_its_widget_ends_green(executed):
    cell = cell_with(executed, "%%flow --run")
    (w,) = widgets_of(executed, cell)
    assert w["execution"]["state"] == "SUCCESS"
    assert {k: v["state"] for k, v in w["states"].items()} == {"say_hello": "SUCCESS", "answer": "SUCCESS"}
    result = [o for o in cell.outputs if o.output_type == "execute_result"][0].data["text/plain"]
    assert "'state': 'SUCCESS'" in result and "Ada asked; the answer is 42" in result
    # The static fallback was refreshed at the end of the run, for viewers without widgets.
    html = [o.data["text/html"] for o in cell.outputs if "text/html" in o.get("data", {})][0]
    svg = svg_from_html(html)
    assert svg.count('data-state="SUCCESS"') == 2 and STATE_COLOURS["SUCCESS"] in svg


def test_flow_file_run_has_states_iterations_and_outputs(executed):
    (w,) = widgets_of(executed, cell_with(executed, "%flow run tutorial_flow.yaml"))
    states = {k: v["state"] for k, v in w["states"].items()}
    assert states == {k: "SUCCESS" for k in ("greet", "fan_out", "shout", "nap", "per_city", "postcard", "check", "famous")}
    assert w["states"]["per_city"]["iterations"] == {"SUCCESS": 3}
    assert [v["value"] for v in w["states"]["per_city"]["values"]] == ["Paris", "Lima", "Osaka"]
    assert w["states"]["nap"]["duration"] >= 0.5
    postcards = [r["outputs"]["value"] for r in w["details"]["postcard"]["runs"]]
    assert sorted(postcards) == ["Greetings from Lima, Ada", "Greetings from Osaka, Ada", "Greetings from Paris, Ada"]
    assert any("Hello, Ada!" in line["message"] for line in w["details"]["greet"]["logs"])


def test_inspect_cell_reads_outputs_from_the_summary(executed):
    text = text_of(cell_with(executed, "summary = _"))
    assert text.startswith("SUCCESS")
    assert "'postcard[Lima]': {'value': 'Greetings from Lima, Ada'}" in text
    assert "'shout': {'value': 'ADA'}" in text


def test_watch_attaches_to_the_same_execution(executed):
    run_widget = widgets_of(executed, cell_with(executed, "%flow run tutorial_flow.yaml"))[0]
    (w,) = widgets_of(executed, cell_with(executed, "%flow watch"))
    assert w["execution"]["id"] == run_widget["execution"]["id"]
    assert w["states"]["per_city"]["iterations"] == {"SUCCESS": 3}


def test_python_api_runs_in_the_background_and_builds_the_gantt(executed):
    api_cell = cell_with(executed, "from builder.jupyter import")
    (w,) = widgets_of(executed, api_cell)
    assert re.search(r"<Run of execution \w+ on local: ", text_of(api_cell))
    assert "('SUCCESS', {'SUCCESS'})" in text_of(cell_with(executed, "result = handle.wait()"))
    # The Grace run took the else branch.
    assert w["states"]["welcome"]["state"] == "SUCCESS" and "famous" not in w["states"]
    (gantt,) = widgets_of(executed, cell_with(executed, "handle.widget.show_gantt()"))
    assert gantt["view"] == "gantt" and gantt["gantt"]["executionId"] == w["execution"]["id"]
    assert "postcard [Osaka]" in [row["label"] for row in gantt["gantt"]["rows"]]
