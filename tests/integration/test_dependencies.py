"""Kestra's ``dependencies``: a Python script and a notebook kernel run in a cached virtual environment holding them.

The package comes from a wheel this test builds (``UV_FIND_LINKS``) and uv runs offline
(``UV_OFFLINE``): ipykernel, which a notebook's environment needs too, comes from uv's cache,
filled by ``make install`` from the lock. Nothing is fetched from the network.
"""

from __future__ import annotations

import base64
import hashlib
import re
import zipfile
from pathlib import Path
from textwrap import dedent

import nbformat
import pytest

from engine.runtime.local import LocalRunner

PACKAGE = "lanner_dep_probe"


def _record_line(name: str, data: bytes) -> str:
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
    return f"{name},sha256={digest},{len(data)}"


def build_wheel(folder: Path, value: int) -> Path:
    """A pure-Python wheel of ``lanner-dep-probe`` 1.0 whose module holds ``VALUE = value``."""
    folder.mkdir(parents=True, exist_ok=True)
    dist = f"{PACKAGE}-1.0.dist-info"
    files = {
        f"{PACKAGE}/__init__.py": f"VALUE = {value}\n".encode(),
        f"{dist}/METADATA": b"Metadata-Version: 2.1\nName: lanner-dep-probe\nVersion: 1.0\n",
        f"{dist}/WHEEL": b"Wheel-Version: 1.0\nGenerator: lanner-tests\nRoot-Is-Purelib: true\nTag: py3-none-any\n",
    }
    record = "\n".join([*(_record_line(n, d) for n, d in files.items()), f"{dist}/RECORD,,"]) + "\n"
    path = folder / f"{PACKAGE}-1.0-py3-none-any.whl"
    with zipfile.ZipFile(path, "w") as zf:
        for name, data in files.items():
            zf.writestr(name, data)
        zf.writestr(f"{dist}/RECORD", record)
    return path


@pytest.fixture
def offline_index(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    links = tmp_path / "wheels"
    build_wheel(links, 42)
    monkeypatch.setenv("UV_FIND_LINKS", str(links))
    monkeypatch.setenv("UV_OFFLINE", "1")
    return links


def messages(runner: LocalRunner, summary: dict) -> str:
    return "\n".join(line["message"] for line in runner.logs(summary["id"]))


def test_scripts_share_one_cached_environment_holding_their_dependencies(runner: LocalRunner, lanner_home: Path,
                                                                          offline_index: Path) -> None:
    flow = dedent("""
        id: deps
        namespace: tests.deps
        tasks:
          - id: first
            type: io.kestra.plugin.scripts.python.Script
            dependencies: [lanner-dep-probe==1.0]
            script: |
              from lanner_dep_probe import VALUE
              print('::{"outputs": {"value": %d}}::' % VALUE)
          - id: second
            type: io.kestra.plugin.scripts.python.Commands
            dependencies: ["lanner-dep-probe==1.0"]
            commands:
              - python -c "import lanner_dep_probe, sys; print('from', lanner_dep_probe.VALUE, sys.prefix)"
          - id: third
            type: python
            dependencies: [lanner-dep-probe==1.0]
            script: |
              import sys
              print('::{"outputs": {"prefix": "%s"}}::' % sys.prefix)
          - id: plain
            type: python
            script: |
              import sys
              print('::{"outputs": {"prefix": "%s"}}::' % sys.prefix)
    """)
    summary = runner.run(flow, timeout=180)
    assert summary["state"] == "SUCCESS", messages(runner, summary)
    first = next(tr for tr in summary["taskRuns"] if tr["taskId"] == "first")
    assert first["outputs"]["vars"]["value"] == 42  # Kestra puts a script's ::{"outputs"}:: under vars
    # The environment's scripts fork from a server of their own (one per environment), not from Lanner's.
    servers = {}
    for task_id in ("first", "third", "plain"):
        started = [e["message"] for e in runner.logs(summary["id"], task_id=task_id) if e["message"].startswith("Running ")]
        found = re.search(r"forked by the fork server \(pid (\d+)\)", started[-1])
        assert found, started
        servers[task_id] = found.group(1)
    assert servers["first"] == servers["third"] != servers["plain"]
    prefixes = {t: next(tr for tr in summary["taskRuns"] if tr["taskId"] == t)["outputs"]["vars"]["prefix"] for t in ("third", "plain")}
    assert "venvs" in prefixes["third"] and prefixes["plain"] != prefixes["third"]
    venvs = [p for p in (lanner_home / "venvs").iterdir() if p.is_dir()]
    assert len(venvs) == 1, venvs  # one list, one environment, built once and reused by the second task
    assert f"from 42 {venvs[0]}" in messages(runner, summary)

    again = runner.run(flow, timeout=180)
    assert again["state"] == "SUCCESS"
    assert [p for p in (lanner_home / "venvs").iterdir() if p.is_dir()] == venvs


def test_a_notebook_kernel_runs_in_the_environment_of_its_dependencies(runner: LocalRunner, tmp_path: Path,
                                                                      offline_index: Path) -> None:
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell("import sys, lanner_dep_probe\nprint('kernel sees', lanner_dep_probe.VALUE, sys.prefix)")]
    path = tmp_path / "probe.ipynb"
    nbformat.write(nb, path)
    flow = dedent(f"""
        id: nb_deps
        namespace: tests.deps
        tasks:
          - id: nb
            type: notebook
            notebook: {path}
            dependencies: [lanner-dep-probe==1.0]
    """)
    summary = runner.run(flow, timeout=240)
    text = messages(runner, summary)
    assert summary["state"] == "SUCCESS", text
    assert "kernel sees 42" in text and "venvs" in text.split("kernel sees 42", 1)[1].splitlines()[0]


def test_a_dependency_that_cannot_be_installed_fails_with_the_installers_sentence(runner: LocalRunner,
                                                                                offline_index: Path) -> None:
    summary = runner.run(dedent("""
        id: deps_missing
        namespace: tests.deps
        tasks:
          - id: script
            type: python
            dependencies: [lanner-no-such-package==9.9]
            script: print("never")
    """), timeout=120)
    assert summary["state"] == "FAILED"
    text = messages(runner, summary)
    assert "lanner-no-such-package" in text and "never" not in text.split("\n")
    assert "Traceback" not in text
