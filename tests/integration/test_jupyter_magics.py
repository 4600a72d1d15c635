"""%flow / %%flow in a real IPython shell, running flows on the embedded engine."""

from __future__ import annotations

import threading

import pytest
from IPython.core.interactiveshell import InteractiveShell
from IPython.utils.capture import capture_output

from builder.jupyter import FlowWidget, NotebookError
from builder.jupyter.magics import FlowMagics
from builder.jupyter.session import FlowInvalid, Session
from builder.topology import STATE_COLOURS

HELLO = """id: hello
namespace: demo.magics
inputs:
  - id: name
    type: STRING
    defaults: world
  - id: times
    type: INT
    defaults: 1
tasks:
  - id: say_hello
    type: log
    message: "Hello, {{ inputs.name }}!"
  - id: answer
    type: return
    format: "{{ inputs.name }} x{{ inputs.times }}"
"""

SLOW = """id: slow
namespace: demo.magics
tasks:
  - id: first
    type: log
    message: start
  - id: nap
    type: sleep
    duration: PT1S
  - id: last
    type: log
    message: done
"""

BAD = """id: broken
namespace: demo.magics
tasks:
  - id: oops
    type: lgo
    message: typo
"""


@pytest.fixture
def shell(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("LANNER_NOTEBOOK_DIR", raising=False)
    sh = InteractiveShell.instance()
    session = Session(home=tmp_path / ".lanner")
    sh.register_magics(FlowMagics(sh, session))
    yield sh, session
    session.close()


def test_load_ext_registers_line_and_cell_magics():
    sh = InteractiveShell.instance()
    sh.run_line_magic("load_ext", "builder.jupyter")
    assert "flow" in sh.magics_manager.magics["cell"] and "flow" in sh.magics_manager.magics["line"]


def test_cell_magic_draws_the_flow_without_running_it(shell):
    sh, session = shell
    widget = sh.run_cell_magic("flow", "", HELLO)
    assert isinstance(widget, FlowWidget)
    assert [n["id"] for n in widget.topology["nodes"]] == ["say_hello", "answer"]
    assert widget.states == {} and session.runs == []


def test_invalid_flow_lists_errors_with_lines_and_no_traceback(shell):
    sh, _ = shell
    with capture_output() as out:
        result = sh.run_cell("%%flow\n" + BAD)
    assert isinstance(result.error_in_exec, FlowInvalid)
    text = out.stdout + out.stderr
    assert "line 5: tasks[0].type: unknown task type 'lgo'; did you mean 'log'?" in text
    assert "Traceback" not in text and "File " not in text


def test_run_returns_the_summary_and_colours_the_widget(shell):
    sh, session = shell
    summary = sh.run_cell_magic("flow", "--run --input name=Ada --input times=3", HELLO)
    assert summary["state"] == "SUCCESS" and summary["inputs"]["name"] == "Ada"
    outputs = {r["taskId"]: r["outputs"] for r in summary["taskRuns"]}
    assert outputs["answer"]["value"] == "Ada x3"
    widget = session.runs[-1].widget
    assert widget.execution["id"] == summary["id"] and widget.execution["state"] == "SUCCESS"
    assert {k: v["state"] for k, v in widget.states.items()} == {"say_hello": "SUCCESS", "answer": "SUCCESS"}
    assert widget.states["answer"]["colour"] == STATE_COLOURS["SUCCESS"]
    assert any("Hello, Ada!" in line["message"] for line in widget.details["say_hello"]["logs"])
    assert widget.details["answer"]["runs"][0]["outputs"]["value"] == "Ada x3"


def test_widget_updates_live_while_the_flow_runs(shell):
    sh, session = shell
    seen: list[dict[str, str]] = []
    lock = threading.Lock()
    assert sh.run_cell_magic("flow", "--run --no-wait", SLOW) is None
    run = session.runs[-1]

    def record(change):
        with lock:
            seen.append({k: v["state"] for k, v in change["new"].items()})

    run.widget.observe(record, names="states")
    summary = run.wait(timeout=30)
    assert summary["state"] == "SUCCESS"
    assert any(s.get("nap") == "RUNNING" and "last" not in s for s in seen), seen
    assert seen[-1] == {"first": "SUCCESS", "nap": "SUCCESS", "last": "SUCCESS"}
    assert run.widget.states["nap"]["duration"] >= 1.0


def test_bad_input_is_one_clear_error(shell):
    sh, _ = shell
    with capture_output() as out:
        result = sh.run_cell("%%flow --run --input times=lots\n" + HELLO)
    assert isinstance(result.error_in_exec, NotebookError)
    assert "cannot start demo.magics.hello" in str(result.error_in_exec) and "times" in str(result.error_in_exec)
    assert "Traceback" not in out.stdout + out.stderr


def test_line_magics_show_run_and_watch(shell, tmp_path):
    sh, session = shell
    (tmp_path / "hello.yaml").write_text(HELLO)
    shown = sh.run_line_magic("flow", "show hello.yaml")
    assert [n["id"] for n in shown.topology["nodes"]] == ["say_hello", "answer"]
    summary = sh.run_line_magic("flow", "run hello.yaml --input name=Grace")
    assert summary["state"] == "SUCCESS" and summary["inputs"]["name"] == "Grace"
    # Once deployed, the flow is known by its id.
    by_id = sh.run_line_magic("flow", "show demo.magics.hello")
    assert by_id.topology == shown.topology
    assert sh.run_line_magic("flow", f"watch {summary['id']}") is None
    watched = session.runs[-1]
    watched.wait(timeout=10)
    assert watched.widget.execution["id"] == summary["id"]
    assert watched.widget.states["answer"]["state"] == "SUCCESS"


@pytest.mark.parametrize(("line", "message"), [
    ("frobnicate", "unknown %flow command 'frobnicate'"),
    ("show missing.yaml", "flow file 'missing.yaml' does not exist"),
    ("show no.such.flow", "'no.such.flow' is neither a flow file nor a flow id known to local"),
    ("watch nope", "execution 'nope' does not exist on local"),
    ("run", "the following arguments are required: target"),
])
def test_line_magic_errors_are_one_sentence(shell, line, message):
    sh, _ = shell
    with pytest.raises(NotebookError, match=message.replace(".", r"\.").replace("%", "%")):
        sh.run_line_magic("flow", line)


def test_run_is_skipped_inside_a_notebook_task(shell, monkeypatch):
    sh, session = shell
    monkeypatch.setenv("LANNER_NOTEBOOK_DIR", ".")
    with capture_output() as out:
        assert sh.run_cell_magic("flow", "--run", HELLO) is None
    assert "Not running demo.magics.hello" in out.stdout
    assert session.runs == [] and not session.local.started


def test_interrupting_the_cell_kills_the_execution(shell):
    import _thread

    sh, session = shell
    assert sh.run_cell_magic("flow", "--run --no-wait", SLOW.replace("PT1S", "PT30S")) is None
    run = session.runs[-1]
    timer = threading.Timer(0.5, _thread.interrupt_main)  # what "Interrupt kernel" does to a waiting cell
    timer.start()
    summary = run.wait(timeout=20)
    timer.join()
    assert summary["state"] == "KILLED"
    assert run.widget.states["nap"]["state"] in ("KILLED", "FAILED")


def test_run_of_a_flow_file_resolves_notebooks_beside_it(shell, tmp_path, monkeypatch):
    """Paths in a flow file are relative to its folder, as with `lanner flow run`, wherever the kernel runs."""
    from nbformat.v4 import new_code_cell

    from tests.integration.test_notebook_task import write_nb

    sh, _ = shell
    (tmp_path / "project" / "flows").mkdir(parents=True)
    (tmp_path / "project" / "notebooks").mkdir()
    write_nb(tmp_path / "project" / "notebooks" / "tiny.ipynb", new_code_cell("print('tiny ran')"))
    flow = tmp_path / "project" / "flows" / "nb.yaml"
    flow.write_text("id: nb\nnamespace: demo.magics\ntasks:\n"
                    "  - {id: tiny, type: notebook, notebook: ../notebooks/tiny.ipynb, report: false}\n")
    (tmp_path / "elsewhere").mkdir()
    monkeypatch.chdir(tmp_path / "elsewhere")
    summary = sh.run_line_magic("flow", f"run {flow}")
    assert summary["state"] == "SUCCESS", summary["taskRuns"][0]["attempts"]


def test_flow_edit_saves_valid_edits_to_the_file_and_refuses_invalid_ones(shell, tmp_path):
    sh, _ = shell
    (tmp_path / "hello.yaml").write_text(HELLO)
    editor = sh.run_line_magic("flow", "edit hello.yaml")
    assert editor.target == "hello.yaml" and editor.status["state"] == "saved"
    assert editor.module.name == "canvas" and "export function render" in editor.module.code
    assert any(item["type"] == "log" for item in editor.palette)

    broken = editor.data
    broken["tasks"].append({"id": "oops", "type": "lgo"})
    editor.flow = broken  # what the canvas sends after a drop
    assert editor.errors == {"oops": ["type: unknown task type 'lgo'; did you mean 'log'?"]}
    assert editor.status["state"] == "invalid"
    with pytest.raises(NotebookError, match="unknown task type 'lgo'"):
        editor.save()
    assert (tmp_path / "hello.yaml").read_text() == HELLO

    fixed = editor.data
    fixed["tasks"][-1] = {"id": "bye", "type": "log", "message": "Bye, {{ inputs.name }}!"}
    editor.flow = fixed
    assert editor.status["state"] == "unsaved" and editor.errors == {}
    assert editor.save() == "saved to hello.yaml"
    summary = sh.run_line_magic("flow", "run hello.yaml --input name=Ada")
    assert [r["taskId"] for r in summary["taskRuns"]] == ["say_hello", "answer", "bye"]

    created = sh.run_line_magic("flow", "edit new_flow.yaml")
    assert created.data == {"id": "new_flow", "namespace": "company.team", "tasks": []}
    assert not (tmp_path / "new_flow.yaml").exists()


def test_flow_edit_of_a_deployed_flow_saves_a_new_revision(shell):
    sh, session = shell
    sh.run_cell_magic("flow", "--run", HELLO)
    editor = sh.run_line_magic("flow", "edit demo.magics.hello")
    assert editor.target == "demo.magics.hello on local"
    data = editor.data
    data["tasks"][0]["message"] = "Hi, {{ inputs.name }}!"
    editor.flow = data
    assert editor.save() == "saved as revision 2 of demo.magics.hello on local"
    from builder.jupyter.session import flow_source

    assert "Hi, {{ inputs.name }}!" in flow_source(session.local, "demo.magics", "hello")
