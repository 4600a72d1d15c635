"""The notebook task for real: papermill in a subprocess, a real ipykernel, real internal storage."""

from __future__ import annotations

import csv
import json
import os
import re
import sys
import threading
import time
import uuid
from pathlib import Path
from typing import Any

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

from engine.model import registry
from engine.model.task import TaskFailed
from engine.runtime.context import RunContext, TaskLogger
from engine.storage import InternalStorage
from engine.tasks.notebook import NotebookTask
from engine.tasks.notebook_runner import NO_PARAMETERS_CELL

REPO = Path(__file__).resolve().parents[2]
NS = "tests.notebooks"
CDN_SCRIPT = re.compile(r"<script[^>]+src=[\"']?(https?:)?//", re.IGNORECASE)
KERNELSPEC = {"name": "python3", "display_name": "Python 3", "language": "python"}


class Harness:
    """A RunContext wired to a list log sink and an InternalStorage under tmp_path."""

    def __init__(self, tmp_path: Path, timeout: float | None = None, flow_dir: Path | None = None):
        self.storage = InternalStorage(tmp_path / "storage")
        self.logs: list[tuple[float, str, str]] = []
        self.ctx = RunContext(
            execution_id="ex1",
            namespace=NS,
            flow_id="flow",
            task_id="nb",
            task_run_id="tr1",
            attempt=0,
            variables={},
            logger=TaskLogger(lambda level, msg: self.logs.append((time.monotonic(), level, msg))),
            timeout=timeout,
            flow_dir=flow_dir or tmp_path,
            home=tmp_path / "home",
            renderer=None,
            extra={"storage": self.storage},
        )
        self.ctx.put_file = lambda path, name: self.storage.put_task_file(NS, "flow", "ex1", "nb", "tr1", path, name)

    def task(self, **props: Any) -> NotebookTask:
        registry.finalize()
        return NotebookTask.model_validate({"id": "nb", "type": "notebook", **props})

    def lines(self, level: str | None = None) -> list[str]:
        return [m for _, lv, m in self.logs if level is None or lv == level]

    def read(self, uri: str) -> str:
        return self.storage.read_text(uri, namespace=NS, max_bytes=None)


def write_nb(path: Path, *cells: Any) -> Path:
    nb = new_notebook(cells=list(cells), metadata={"kernelspec": KERNELSPEC})
    nbformat.write(nb, str(path))
    return path


def params_cell(source: str) -> Any:
    return new_code_cell(source, metadata={"tags": ["parameters"]})


# --- process inspection -------------------------------------------------------------------------


def _processes() -> dict[int, tuple[int, bytes]]:
    """pid -> (ppid, environ) of every live process we can read."""
    out = {}
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            stat = Path(f"/proc/{name}/stat").read_bytes()
            fields = stat[stat.rfind(b")") + 2 :].split()
            if fields[0] in (b"Z", b"X"):
                continue
            environ = Path(f"/proc/{name}/environ").read_bytes()
        except OSError:
            continue
        out[int(name)] = (int(fields[1]), environ)
    return out


def leftovers(marker: str, before: set[int]) -> list[int]:
    """New processes carrying ``marker`` in their environment, or descending from this test process."""
    procs = _processes()
    me = os.getpid()
    found = []
    for pid, (_ppid, environ) in procs.items():
        if pid == me or pid in before:
            continue
        if marker.encode() in environ:
            found.append(pid)
            continue
        cur, seen = pid, set()
        while cur in procs and cur not in seen:
            seen.add(cur)
            cur = procs[cur][0]
            if cur == me:
                found.append(pid)
                break
    return found


def wait_no_leftovers(marker: str, before: set[int], within: float) -> list[int]:
    end = time.monotonic() + within
    while True:
        left = leftovers(marker, before)
        if not left or time.monotonic() > end:
            return left
        time.sleep(0.1)


# --- tests --------------------------------------------------------------------------------------


def test_typed_parameters_vars_notebook_and_report(tmp_path: Path) -> None:
    nb = write_nb(
        tmp_path / "typed.ipynb",
        new_markdown_cell("# typed"),
        params_cell('count = 0\nratio = 0.0\nname = "x"\nflag = False\nitems = []\nconf = {}'),
        new_code_cell(
            "print('types', type(count).__name__, type(ratio).__name__, type(name).__name__, "
            "type(flag).__name__, type(items).__name__, type(conf).__name__)"
        ),
        new_code_cell(
            "import json\n"
            "print('::' + json.dumps({'outputs': {'double': count * 2, 'name': name}}) + '::')\n"
            "print('::' + json.dumps({'outputs': {'total': sum(items), 'deep': conf['a']['b']}}) + '::')"
        ),
    )
    h = Harness(tmp_path)
    params = {"count": 21, "ratio": 0.5, "name": "bob", "flag": True, "items": [1, 2, 3], "conf": {"a": {"b": "c"}}}
    result = h.task(notebook=nb.name, parameters=params).run(h.ctx)

    assert "[cell 2] types int float str bool list dict" in h.lines("INFO")  # the injected cell shifts nothing
    assert result.outputs["vars"] == {"double": 42, "name": "bob", "total": 6, "deep": "c"}
    assert not any("::" in line for line in h.lines())  # marker lines are captured, not logged

    executed = json.loads(h.read(result.outputs["notebook"]))
    assert result.outputs["notebook"].endswith("/typed.ipynb")
    injected = [c for c in executed["cells"] if "injected-parameters" in c["metadata"].get("tags", [])]
    assert injected and "count = 21" in "".join(injected[0]["source"])

    report = h.read(result.outputs["report"])
    assert result.outputs["report"].endswith("/typed.html")
    assert "types int float str bool list dict" in report
    assert not CDN_SCRIPT.search(report)


def test_cell_output_streams_while_the_notebook_runs(tmp_path: Path) -> None:
    nb = write_nb(
        tmp_path / "stream.ipynb",
        new_code_cell("import time\nprint('early bird', flush=True)\ntime.sleep(2)\nprint('late')"),
        new_code_cell("import sys\nprint('to stderr', file=sys.stderr)"),
    )
    h = Harness(tmp_path)
    h.task(notebook=str(nb), report=False).run(h.ctx)
    finished = time.monotonic()
    early = [t for t, _, m in h.logs if m == "[cell 1] early bird"]
    assert early, h.logs
    assert finished - early[0] >= 1.5  # logged before the 2 s sleep ended, not at the end
    assert "[cell 1] late" in h.lines("INFO")
    assert "[cell 2] to stderr" in h.lines("WARN")


def test_failing_cell_fails_with_cell_and_exception_and_keeps_the_notebook(tmp_path: Path) -> None:
    nb = write_nb(
        tmp_path / "fails.ipynb",
        new_code_cell("print('before')"),
        new_markdown_cell("markdown cells are not numbered"),
        new_code_cell("def helper():\n    raise ValueError('boom 42')\n\nhelper()"),
        new_code_cell("print('never')"),
    )
    h = Harness(tmp_path)
    with pytest.raises(TaskFailed) as err:
        h.task(notebook=nb.name).run(h.ctx)
    message = err.value.message
    assert message.startswith("Cell 2 raised ValueError: boom 42"), message
    assert "helper()" in message and "raise ValueError" in message  # the traceback's last lines
    assert "\x1b[" not in message
    outputs = err.value.outputs
    executed = h.read(outputs["notebook"])
    printed = "".join(o.get("text", "") for c in nbformat.reads(executed, as_version=4).cells for o in c.get("outputs", []))
    assert "before" in printed and "never" not in printed
    assert "boom 42" in executed
    assert "boom 42" in h.read(outputs["report"])
    assert "[cell 1] before" in h.lines("INFO")


def test_timeout_stops_papermill_and_the_kernel(tmp_path: Path) -> None:
    marker = f"lanner-test-{uuid.uuid4().hex}"
    nb = write_nb(tmp_path / "sleepy.ipynb", new_code_cell("import time\nprint('sleeping', flush=True)\ntime.sleep(60)"))
    h = Harness(tmp_path, timeout=2.0)
    before = set(_processes())
    started = time.monotonic()
    with pytest.raises(TaskFailed, match="Timed out after PT2S"):
        h.task(notebook=nb.name, env={"LANNER_TEST_MARKER": marker}, report=False).run(h.ctx)
    assert time.monotonic() - started < 5.0
    assert wait_no_leftovers(marker, before, within=5.0) == []


def test_kill_stops_a_running_kernel_and_what_it_started(tmp_path: Path) -> None:
    marker = f"lanner-test-{uuid.uuid4().hex}"
    nb = write_nb(
        tmp_path / "busy.ipynb",
        new_code_cell(
            "import subprocess, time\n"
            "child = subprocess.Popen(['sleep', '300'])\n"
            "print('kernel busy', flush=True)\n"
            "time.sleep(60)"
        ),
    )
    h = Harness(tmp_path)
    before = set(_processes())

    def kill_when_busy() -> None:
        end = time.monotonic() + 60
        while time.monotonic() < end and "[cell 1] kernel busy" not in h.lines():
            time.sleep(0.05)
        assert leftovers(marker, before), "the kernel and its child should be running now"
        h.ctx.kill_reason.append("killed")
        h.ctx.kill_event.set()

    killer = threading.Thread(target=kill_when_busy)
    killer.start()
    with pytest.raises(TaskFailed, match="Killed") as err:
        h.task(notebook=nb.name, env={"LANNER_TEST_MARKER": marker}, report=False).run(h.ctx)
    killed_at = time.monotonic()
    killer.join()
    assert "[cell 1] kernel busy" in h.lines()
    assert wait_no_leftovers(marker, before, within=5.0) == []
    assert time.monotonic() - killed_at < 5.0
    # the partly executed notebook is kept
    assert "notebook" in err.value.outputs


def test_no_parameters_cell_warns_and_the_kernel_is_lanners_python(tmp_path: Path, monkeypatch) -> None:
    # Someone else's python3 kernelspec comes first on the Jupyter path: Lanner's interpreter is used anyway.
    spec_dir = tmp_path / "jupyter" / "kernels" / "python3"
    spec_dir.mkdir(parents=True)
    (spec_dir / "kernel.json").write_text(
        json.dumps({"argv": ["/nonexistent/python3", "-m", "ipykernel_launcher", "-f", "{connection_file}"],
                    "display_name": "Someone else's Python", "language": "python"})
    )
    monkeypatch.setenv("JUPYTER_PATH", str(tmp_path / "jupyter"))
    nb = write_nb(tmp_path / "noparams.ipynb", new_code_cell("import sys\nprint('x is', x, type(x).__name__, sys.executable)"))
    h = Harness(tmp_path)
    result = h.task(notebook=nb.name, parameters={"x": 5}, report=False).run(h.ctx)
    assert any(line.startswith(NO_PARAMETERS_CELL) for line in h.lines("WARN"))
    assert f"[cell 1] x is 5 int {sys.executable}" in h.lines("INFO")  # the user's first cell, after the injected one
    assert "report" not in result.outputs


def test_files_in_and_out_namespace_files_and_nsfile_notebook(tmp_path: Path) -> None:
    h = Harness(tmp_path)
    h.storage.namespace_files_put(NS, "helpers/util.py", b"def double(x):\n    return 2 * x\n")
    h.storage.namespace_files_put(NS, "helpers/skip.txt", b"not copied")
    stored = tmp_path / "stored.txt"
    stored.write_text("from storage")
    stored_uri = h.storage.put_input_file(NS, "flow", "ex1", "data", stored)
    nb = write_nb(
        tmp_path / "files.ipynb",
        params_cell("factor = 1"),
        new_code_cell(
            "import os, json\n"
            "from pathlib import Path\n"
            "from helpers.util import double\n"
            "Path('out').mkdir()\n"
            "Path('out/result.txt').write_text(Path('data/in.txt').read_text() + ' ' + str(double(factor)))\n"
            "Path('out/copy.txt').write_text(Path('stored.txt').read_text())\n"
            "print('skip present', os.path.exists('helpers/skip.txt'))\n"
            "print('::' + json.dumps({'outputs': {'cwd': os.getcwd()}}) + '::')"
        ),
    )
    h.storage.namespace_files_put(NS, "notebooks/files.ipynb", nb.read_bytes())
    task = h.task(
        notebook="nsfile:///notebooks/files.ipynb",
        parameters={"factor": 21},
        inputFiles={"data/in.txt": "hello", "stored.txt": stored_uri},
        namespaceFiles={"enabled": True, "include": ["helpers/*.py"]},
        outputFiles=["out/*.txt"],
        logOutputs=False,
        report=False,
    )
    result = task.run(h.ctx)
    files = result.outputs["outputFiles"]
    assert sorted(files) == ["out/copy.txt", "out/result.txt"]
    assert h.read(files["out/result.txt"]) == "hello 42"
    assert h.read(files["out/copy.txt"]) == "from storage"
    assert not [line for line in h.lines() if line.startswith("[cell")]  # logOutputs: false
    workdir = Path(result.outputs["vars"]["cwd"])
    assert workdir.is_relative_to((tmp_path / "home").resolve())
    assert not workdir.exists()  # the temporary working directory is removed


def test_notebook_from_another_namespace_or_missing_is_refused(tmp_path: Path) -> None:
    h = Harness(tmp_path)
    with pytest.raises(TaskFailed, match="not found"):
        h.task(notebook="missing.ipynb").run(h.ctx)
    with pytest.raises(TaskFailed, match="namespace 'other'"):
        h.task(notebook="lanner:///other/flow/executions/e/tasks/t/r/x.ipynb").run(h.ctx)
    with pytest.raises(TaskFailed, match="namespace 'other'"):
        h.task(notebook="nsfile://other/x.ipynb").run(h.ctx)
    (tmp_path / "broken.ipynb").write_text("this is not json")
    with pytest.raises(TaskFailed, match="not a readable Jupyter notebook"):
        h.task(notebook="broken.ipynb").run(h.ctx)
    nb = write_nb(tmp_path / "ok.ipynb", new_code_cell("print(1)"))
    with pytest.raises(TaskFailed, match="kernel 'no-such-kernel', which is not installed on this worker"):
        h.task(notebook=nb.name, kernel="no-such-kernel").run(h.ctx)
    with pytest.raises(ValueError, match="inputFiles name"):
        h.task(notebook="x.ipynb", inputFiles={"../escape.txt": "x"})


def _expected_totals(region: str, min_amount: int) -> tuple[int, float]:
    with open(REPO / "notebooks" / "data" / "sales.csv", newline="") as fh:
        rows = [r for r in csv.DictReader(fh) if float(r["amount"]) >= min_amount and region in ("all", r["region"])]
    return len(rows), round(sum(float(r["amount"]) for r in rows), 2)


def test_example_sales_notebooks(tmp_path: Path) -> None:
    h = Harness(tmp_path, flow_dir=REPO / "flows")
    summary = h.task(
        notebook="../notebooks/sales_summary.ipynb", parameters={"region": "north", "min_amount": 50}, report=False
    ).run(h.ctx)
    rows, total = _expected_totals("north", 50)
    assert summary.outputs["vars"]["rows"] == rows > 0
    assert summary.outputs["vars"]["total"] == pytest.approx(total)
    assert summary.outputs["vars"]["minAmount"] == 50
    assert any("min_amount=50 (int)" in line for line in h.lines("INFO"))

    plot = h.task(
        notebook="notebooks/plot_sales.ipynb", outputFiles=["sales_by_month.html", "*.csv"], report=False
    ).run(h.ctx)
    files = plot.outputs["outputFiles"]
    assert sorted(files) == ["monthly_totals.csv", "sales_by_month.html"]
    chart = h.read(files["sales_by_month.html"])
    assert "Bokeh" in chart and not CDN_SCRIPT.search(chart)
    assert h.read(files["monthly_totals.csv"]).startswith("date,amount")
    assert plot.outputs["vars"]["months"] >= 5
