"""%%flow --server: flows deployed to and run on a real Lanner API server on 127.0.0.1."""

from __future__ import annotations

import socket

import pytest
from IPython.core.interactiveshell import InteractiveShell

from builder.jupyter import NotebookError
from builder.jupyter.magics import FlowMagics
from builder.jupyter.session import Session
from tests.integration.server_process import serve_in_thread
from tests.integration.test_jupyter_magics import HELLO


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    from engine.api.app import create_app
    from engine.local_engine import LocalEngine
    from engine.runtime.local import LocalRunner

    runner = LocalRunner(home=tmp_path_factory.mktemp("server-home"))
    with serve_in_thread(create_app(LocalEngine(runner), ui=False)) as url:
        yield url, runner
    runner.close()


@pytest.fixture
def shell(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("LANNER_NOTEBOOK_DIR", raising=False)
    sh = InteractiveShell.instance()
    session = Session(home=tmp_path / ".lanner")
    sh.register_magics(FlowMagics(sh, session))
    yield sh, session
    session.close()


def test_run_on_a_server_and_again_as_a_new_revision(shell, server):
    sh, session = shell
    url, runner = server
    first = sh.run_cell_magic("flow", f"--run --server {url} --input name=Ada", HELLO)
    assert first["state"] == "SUCCESS" and first["inputs"]["name"] == "Ada"
    assert runner.summary(first["id"])["state"] == "SUCCESS"  # it ran on the server...
    assert not session.local.started  # ...and not in the kernel
    widget = session.runs[-1].widget
    assert {k: v["state"] for k, v in widget.states.items()} == {"say_hello": "SUCCESS", "answer": "SUCCESS"}
    assert any("Hello, Ada!" in line["message"] for line in widget.details["say_hello"]["logs"])
    # The flow exists now: deploying it again goes through PUT.
    changed = HELLO.replace("x{{ inputs.times }}", "times {{ inputs.times }}")
    second = sh.run_cell_magic("flow", f"--run --server {url} --input times=2", changed)
    assert second["state"] == "SUCCESS" and second["flowRevision"] == first["flowRevision"] + 1
    assert {r["taskId"]: r["outputs"] for r in second["taskRuns"]}["answer"]["value"] == "world times 2"


def test_show_and_watch_from_a_server(shell, server):
    sh, session = shell
    url, runner = server
    summary = sh.run_cell_magic("flow", f"--run --server {url}", HELLO)
    shown = sh.run_line_magic("flow", f"show demo.magics.hello --server {url}")
    assert [n["id"] for n in shown.topology["nodes"]] == ["say_hello", "answer"]
    watched = sh.run_line_magic("flow", f"watch {summary['id']} --server {url} --wait")
    assert watched["id"] == summary["id"] and watched["state"] == "SUCCESS"
    widget = session.runs[-1].widget
    assert widget.states["answer"]["state"] == "SUCCESS" and widget.execution["id"] == summary["id"]


def test_unreachable_server_is_one_clear_error(shell):
    sh, _ = shell
    url = f"http://127.0.0.1:{free_port()}"
    with pytest.raises(NotebookError, match=f"cannot reach the Lanner server at {url}"):
        sh.run_cell_magic("flow", f"--run --server {url}", HELLO)
    with pytest.raises(NotebookError, match="--server must be an http"):
        sh.run_cell_magic("flow", "--run --server localhost:1", HELLO)


FILES = """id: files
namespace: demo.magics
tasks:
  - id: write
    type: python
    script: |
      open("out.txt", "w").write("made on the server")
    outputFiles: [out.txt]
"""


def test_file_links_download_from_the_server_and_the_embedded_engine(shell, server, tmp_path):
    """The widget's file links: a server's download URL, or bytes read by the kernel (both backends)."""
    sh, session = shell
    url, _ = server
    summary = sh.run_cell_magic("flow", f"--run --server {url}", FILES)
    uri = summary["taskRuns"][0]["outputs"]["outputFiles"]["out.txt"]
    widget = session.runs[-1].widget
    assert widget.files_url == url
    assert widget.file_reader(uri) == ("out.txt", b"made on the server")
    with pytest.raises(NotebookError, match="is not a file of execution"):
        widget.file_reader(uri.replace(summary["id"], "someone-else"))

    local = sh.run_cell_magic("flow", "--run", FILES)
    local_widget = session.runs[-1].widget
    assert local_widget.files_url == ""
    assert local_widget.file_reader(local["taskRuns"][0]["outputs"]["outputFiles"]["out.txt"]) == (
        "out.txt", b"made on the server")
