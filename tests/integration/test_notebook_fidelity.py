"""Notebook task fidelity: what users see in logs and errors, and what survives a timeout, a kill or a retry.

Real papermill, real kernels, real internal storage (see ``test_notebook_task.py`` for the harness).
"""

from __future__ import annotations

import http.server
import json
import threading
import time
from pathlib import Path

import nbformat
import pytest
from nbformat.v4 import new_code_cell

from engine.model.task import TaskFailed
from tests.integration.test_notebook_task import Harness, params_cell, write_nb


def outputs_text(nb_json: str) -> str:
    nb = nbformat.reads(nb_json, as_version=4)
    return "".join(o.get("text", "") for c in nb.cells for o in c.get("outputs", []))


def test_crlf_lines_of_shell_commands_are_logged(tmp_path: Path) -> None:
    nb = write_nb(
        tmp_path / "shell.ipynb",
        new_code_cell("!echo from-the-shell"),
        new_code_cell("import sys\nsys.stdout.write('windows line\\r\\n')\nsys.stdout.flush()"),
    )
    h = Harness(tmp_path)
    h.task(notebook=nb.name, report=False).run(h.ctx)
    info = h.lines("INFO")
    assert "[cell 1] from-the-shell" in info, info
    assert "[cell 2] windows line" in info
    assert "[cell 1] " not in info and "[cell 2] " not in info  # no empty lines instead


def test_levels_results_progress_and_the_users_cell_numbers(tmp_path: Path) -> None:
    nb = write_nb(
        tmp_path / "fidelity.ipynb",
        params_cell("n = 1"),
        new_code_cell(
            "import logging\nlogging.basicConfig(level=logging.INFO, force=True)\n"
            "logging.info('an info line')\nlogging.warning('a warning line')\nlogging.error('an error line')"
        ),
        new_code_cell("n * 21"),
        new_code_cell(
            "import sys, time\n"
            "sys.stderr.write('\\rprogress 10%'); sys.stderr.flush()\n"
            "time.sleep(2.5)\n"
            "sys.stderr.write('\\rprogress 100%\\n'); sys.stderr.flush()"
        ),
        new_code_cell("print('plain stderr', file=sys.stderr)"),
    )
    h = Harness(tmp_path)
    h.task(notebook=nb.name, parameters={"n": 2}, report=False).run(h.ctx)
    by_level = {(lv, m) for _, lv, m in h.logs}
    # The injected cell does not shift the numbers: cell 2 is the user's second code cell.
    assert ("INFO", "[cell 2] INFO:root:an info line") in by_level, h.logs
    assert ("WARN", "[cell 2] WARNING:root:a warning line") in by_level
    assert ("ERROR", "[cell 2] ERROR:root:an error line") in by_level
    assert ("INFO", "[cell 3] 42") in by_level  # an execute_result is logged, as papermill does
    assert ("WARN", "[cell 5] plain stderr") in by_level
    # \r progress shows while the cell runs, not only when its line ends.
    early = [t for t, _, m in h.logs if m == "[cell 4] progress 10%"]
    late = [t for t, _, m in h.logs if m == "[cell 4] progress 100%"]
    assert early and late and early[0] < late[0], h.logs  # "10%" was only ever on screen mid-line
    assert ("INFO", "[cell 4] progress 100%") in by_level


def test_no_parameters_cell_warning_names_the_assignments_that_win(tmp_path: Path) -> None:
    nb = write_nb(
        tmp_path / "untagged.ipynb",
        new_code_cell("x = 1\nlimit: int = 10"),
        new_code_cell("print('x is', x)"),
    )
    h = Harness(tmp_path)
    h.task(notebook=nb.name, parameters={"x": 5, "limit": 3, "other": 0}, report=False).run(h.ctx)
    warnings = [m for m in h.lines("WARN") if "no cell tagged 'parameters'" in m]
    assert len(warnings) == 1, h.lines("WARN")
    assert "own assignments to x, limit win over the values given" in warnings[0]
    assert "tag the cell that sets their defaults with 'parameters'" in warnings[0]
    assert "[cell 2] x is 1" in h.lines("INFO")  # what the warning says, happened


def test_a_missing_kernel_is_one_sentence_naming_the_installed_ones(tmp_path: Path) -> None:
    nb = write_nb(tmp_path / "ok.ipynb", new_code_cell("print(1)"))
    h = Harness(tmp_path)
    with pytest.raises(TaskFailed) as err:
        h.task(notebook=nb.name, kernel="conda-env-analysis-py", report=False).run(h.ctx)
    message = err.value.message
    assert message.startswith("The task's kernel property names kernel 'conda-env-analysis-py', which is not "
                              "installed on this worker (installed: "), message
    assert "python3" in message and "set the task's `kernel` property" in message
    assert "\n" not in message and "Traceback" not in message

    r_nb = tmp_path / "r.ipynb"
    nbformat.write(nbformat.v4.new_notebook(cells=[new_code_cell("print(1)")], metadata={
        "kernelspec": {"name": "ir", "display_name": "R", "language": "R"}}), str(r_nb))
    with pytest.raises(TaskFailed) as err:
        h.task(notebook=r_nb.name, report=False).run(h.ctx)
    assert err.value.message.startswith("The notebook's metadata (kernelspec) names kernel 'ir', which is not installed")


def test_a_dead_kernel_names_the_cell_and_the_exit_code_or_signal(tmp_path: Path) -> None:
    nb = write_nb(
        tmp_path / "dies.ipynb",
        params_cell("code = 0"),
        new_code_cell("print('alive', flush=True)"),
        new_code_cell("import os, signal, time\ntime.sleep(0.2)\n"
                      "os._exit(code) if code else os.kill(os.getpid(), signal.SIGKILL)"),
    )
    h = Harness(tmp_path)
    with pytest.raises(TaskFailed) as err:
        h.task(notebook=nb.name, parameters={"code": 3}, report=False).run(h.ctx)
    assert err.value.message == "The kernel 'python3' died while running cell 3 (exit code 3)"
    assert "alive" in outputs_text(h.read(err.value.outputs["notebook"]))
    with pytest.raises(TaskFailed) as err:
        h.task(notebook=nb.name, parameters={"code": 0}, report=False).run(h.ctx)
    assert err.value.message == ("The kernel 'python3' died while running cell 3 "
                                 "(killed by SIGKILL, often the out-of-memory killer)")


def test_timeout_keeps_what_ran_and_renders_the_report(tmp_path: Path) -> None:
    nb = write_nb(
        tmp_path / "slow.ipynb",
        new_code_cell("print('first cell done')"),
        new_code_cell("import time\nprint('started the long part', flush=True)\ntime.sleep(60)"),
    )
    h = Harness(tmp_path, timeout=90.0)

    def expire_once_the_long_part_runs() -> None:
        # What the worker's timer does when `timeout` passes (engine/runtime/worker.py); waiting for
        # the long cell makes the test independent of how long the kernel takes to start here.
        end = time.monotonic() + 80
        while time.monotonic() < end and "[cell 2] started the long part" not in h.lines():
            time.sleep(0.05)
        h.ctx.kill_reason.append("timeout")
        h.ctx.kill_event.set()

    timer = threading.Thread(target=expire_once_the_long_part_runs)
    timer.start()
    with pytest.raises(TaskFailed, match="Timed out after PT1M30S") as err:
        h.task(notebook=nb.name).run(h.ctx)
    timer.join()
    outputs = err.value.outputs
    printed = outputs_text(h.read(outputs["notebook"]))
    assert "first cell done" in printed and "started the long part" in printed
    report = h.read(outputs["report"])
    assert "started the long part" in report and "Lanner stopped the notebook here" in report


def test_each_attempt_keeps_its_own_notebook_and_report(tmp_path: Path) -> None:
    nb = write_nb(tmp_path / "flaky.ipynb", params_cell("n = 0"), new_code_cell("raise ValueError(f'attempt {n}')"))
    h = Harness(tmp_path)
    uris = []
    for attempt in (0, 1):
        h.ctx.attempt = attempt
        with pytest.raises(TaskFailed) as err:
            h.task(notebook=nb.name, parameters={"n": attempt + 1}).run(h.ctx)
        uris.append(err.value.outputs)
    first, second = uris
    assert first["notebook"] != second["notebook"] and first["report"] != second["report"]
    assert "attempt 1" in h.read(first["notebook"]) and "attempt 2" in h.read(second["notebook"])
    assert "attempt 1" in h.read(first["report"]) and "attempt 2" in h.read(second["report"])
    assert second["previousAttempts"] == [{"attempt": 1, "notebook": first["notebook"], "report": first["report"]}]


def test_cell_timeout_stops_the_cell_and_names_it(tmp_path: Path) -> None:
    nb = write_nb(
        tmp_path / "cells.ipynb",
        new_code_cell("print('quick')"),
        new_code_cell("import time\nprint('slow cell', flush=True)\ntime.sleep(120)"),
    )
    h = Harness(tmp_path)
    started = time.monotonic()
    with pytest.raises(TaskFailed) as err:
        h.task(notebook=nb.name, cellTimeout="PT2S").run(h.ctx)
    assert err.value.message == "Cell 2 ran longer than cellTimeout PT2S and was stopped"
    assert time.monotonic() - started < 90  # well before the cell's own end
    assert "slow cell" in outputs_text(h.read(err.value.outputs["notebook"]))
    assert "slow cell" in h.read(err.value.outputs["report"])


@pytest.fixture
def notebook_server(tmp_path: Path):
    """A plain HTTP server on 127.0.0.1 serving tmp_path/served."""
    root = tmp_path / "served"
    root.mkdir()

    class Handler(http.server.SimpleHTTPRequestHandler):
        def __init__(self, *a, **kw):
            super().__init__(*a, directory=str(root), **kw)

        def log_message(self, *_a) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield root, f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_notebook_from_an_fsspec_url(tmp_path: Path, notebook_server) -> None:
    root, url = notebook_server
    write_nb(root / "remote.ipynb", params_cell("who = 'x'"), new_code_cell("print('hello', who)"))
    h = Harness(tmp_path)
    result = h.task(notebook=f"{url}/remote.ipynb", parameters={"who": "web"}, report=False).run(h.ctx)
    assert "[cell 2] hello web" in h.lines("INFO")
    assert result.outputs["notebook"].endswith("/remote.ipynb")
    assert json.loads(h.read(result.outputs["notebook"]))["cells"]
    with pytest.raises(TaskFailed, match="not found"):
        h.task(notebook=f"{url}/missing.ipynb").run(h.ctx)
    with pytest.raises(TaskFailed, match="no installed fsspec implementation reads 'nosuchproto://' URLs"):
        h.task(notebook="nosuchproto://bucket/x.ipynb").run(h.ctx)
