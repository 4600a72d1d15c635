"""A SIGKILLed worker leaves no process behind: scripts, shells, their children, notebook kernels.

``lanner flow run`` runs a flow whose parallel tasks start long-running
processes: a Python script that starts a child of its own, a shell task with a
background job, and a notebook whose cell sleeps (papermill runner + kernel).
When every process is up, the ``lanner`` process is SIGKILLed; nothing can
clean up in that process, so what must stop the others is the kernel
(PR_SET_PDEATHSIG) and the watchdog of engine.runtime.process. Processes are
found by a unique marker in /proc/<pid>/cmdline, and by a marker environment
variable that every descendant inherits.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path
from textwrap import dedent

import pytest

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="PR_SET_PDEATHSIG and /proc are Linux-only")


def _processes_with(marker: str) -> dict[int, str]:
    """Live (non-zombie) processes whose command line or environment holds ``marker``."""
    found: dict[int, str] = {}
    needle = marker.encode()
    for name in os.listdir("/proc"):
        if not name.isdigit() or int(name) == os.getpid():
            continue
        try:
            with open(f"/proc/{name}/stat", "rb") as fh:
                stat = fh.read()
            if stat[stat.rfind(b")") + 2 :][:1] in (b"Z", b"X"):
                continue
            with open(f"/proc/{name}/cmdline", "rb") as fh:
                cmdline = fh.read()
            try:
                with open(f"/proc/{name}/environ", "rb") as fh:
                    environ = fh.read()
            except PermissionError:
                environ = b""
        except (FileNotFoundError, ProcessLookupError, PermissionError):
            continue
        if needle in cmdline or needle in environ:
            found[int(name)] = cmdline.replace(b"\0", b" ").decode(errors="replace")[:200]
    return found


def _notebook(path: Path) -> None:
    cell = {"cell_type": "code", "metadata": {}, "execution_count": None, "outputs": [],
            "source": ["import time\n", "print('kernel up', flush=True)\n", "time.sleep(300)\n"]}
    nb = {"cells": [cell], "metadata": {"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}},
          "nbformat": 4, "nbformat_minor": 5}
    path.write_text(json.dumps(nb))


def test_sigkilling_the_worker_leaves_no_orphan(tmp_path: Path, lanner_cmd: list[str], cli_env: dict[str, str]):
    marker = f"lanner-orphan-{uuid.uuid4().hex}"
    _notebook(tmp_path / "sleep.ipynb")
    sleeper = f"import time; time.sleep(300)  # {marker}"
    flow = tmp_path / "orphans.yaml"
    flow.write_text(dedent(f"""
        id: orphans
        namespace: sec.processes
        tasks:
          - id: all
            type: parallel
            tasks:
              - id: py
                type: python
                script: |
                  import subprocess, sys, time
                  subprocess.Popen([sys.executable, "-c", {json.dumps(sleeper)}, "{marker}-py-grandchild"])
                  print("python up", flush=True)
                  time.sleep(300)
              - id: sh
                type: shell
                commands:
                  - python -c 'import time; time.sleep(300)' {marker}-sh-background &
                  - python -c 'import time; time.sleep(300)' {marker}-sh-foreground
              - id: nb
                type: notebook
                notebook: sleep.ipynb
                report: false
    """))
    env = {**cli_env, "LANNER_TEST_MARKER": marker}
    proc = subprocess.Popen([*lanner_cmd, "flow", "run", str(flow)], cwd=tmp_path, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        expected = ("-py-grandchild", "-sh-background", "-sh-foreground", "notebook_runner --kernel")
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            running = _processes_with(marker)
            if all(any(e in cmd for cmd in running.values()) for e in expected):
                break
            assert proc.poll() is None, "lanner flow run ended before its tasks started"
            time.sleep(0.2)
        else:
            pytest.fail(f"not every task process started: {sorted(running.values())}")
        assert len(running) >= 6  # lanner, its script, grandchild, shell, 2 jobs, papermill runner, kernel
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(10)
        deadline = time.monotonic() + 10
        left = _processes_with(marker)
        while left and time.monotonic() < deadline:
            time.sleep(0.1)
            left = _processes_with(marker)
        assert not left, f"orphans after SIGKILL of the worker: {sorted(left.values())}"
    finally:
        for pid in _processes_with(marker):  # never leave them behind, even when the test fails
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        if proc.poll() is None:
            proc.kill()
            proc.wait(5)
