"""Python script tasks forked from a pre-started interpreter: isolated, faithful, and used only when allowed."""

from __future__ import annotations

import json
import os
import re
import sys
import textwrap
import time
from pathlib import Path

import pytest

from engine.runtime import forkserver
from engine.runtime.process import run_process
from engine.tasks.scripts import _plain_python_command
from tests.proc_util import alive

pytestmark = [
    pytest.mark.timeout(90),
    pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the fork server needs Linux"),
]

FORKED = re.compile(r"forked by the fork server \(pid (\d+)\)")


def _flow(flow_id: str, tasks: str) -> str:
    return f"id: {flow_id}\nnamespace: fs\ntasks:\n" + textwrap.indent(textwrap.dedent(tasks), "  ")


def _how(runner, summary: dict, task_id: str) -> str:
    """The start line of the task's debug log: which interpreter ran it."""
    lines = [e["message"] for e in runner.logs(summary["id"], task_id=task_id) if e["message"].startswith("Running ")]
    assert lines, f"no start line for {task_id}"
    return lines[-1]


def _outputs(summary: dict, task_id: str) -> dict:
    return next(t for t in summary["taskRuns"] if t["taskId"] == task_id)["outputs"]


def test_nothing_one_task_changes_reaches_the_next(runner) -> None:
    flow = _flow("isolation", """
        - id: spoil
          type: python
          script: |
            import json, os, signal, sys, threading, time
            json.spoiled = True
            sys.modules["json"].dumps = None
            os.environ["LEAKED"] = "yes"
            os.chdir("/")
            signal.signal(signal.SIGTERM, signal.SIG_IGN)
            def late():
                time.sleep(0.3)
                print('::{"outputs": {"thread": "joined"}}::', flush=True)
            threading.Thread(target=late).start()  # non-daemon: joined before the task ends
            print('::{"outputs": {"pid": %d, "cwd": "%s"}}::' % (os.getpid(), os.path.realpath(__file__)))
        - id: check
          type: python
          script: |
            import json, os, signal, sys, threading
            print(json.dumps({"outputs": {
                "spoiled": hasattr(json, "spoiled"),
                "leaked": "LEAKED" in os.environ,
                "cwd": os.getcwd(),
                "sigterm_default": signal.getsignal(signal.SIGTERM) is signal.SIG_DFL,
                "threads": threading.active_count(),
                "own_group": os.getpgid(0) == os.getpid(),
                "name": __name__,
                "file": __file__,
                "argv0": sys.argv[0],
                "path0": sys.path[0],
            }}).join(["::", "::"]))
    """)
    summary = runner.run(flow, timeout=60)
    assert summary["state"] == "SUCCESS", summary
    spoil, check = _outputs(summary, "spoil")["vars"], _outputs(summary, "check")["vars"]
    assert spoil["thread"] == "joined"
    assert check["spoiled"] is False and check["leaked"] is False
    assert check["sigterm_default"] is True and check["threads"] == 1 and check["own_group"] is True
    assert check["cwd"] != "/" and Path(check["cwd"]).name.startswith("lanner-check-")
    assert check["name"] == "__main__" and check["file"] == check["argv0"]
    assert Path(check["file"]).is_absolute() and check["path0"] == str(Path(check["file"]).resolve().parent)
    first, second = FORKED.search(_how(runner, summary, "spoil")), FORKED.search(_how(runner, summary, "check"))
    assert first and second and first.group(1) == second.group(1), "both forked by the same server"


def test_a_forked_script_ends_like_an_interpreter_would(runner) -> None:
    flow = _flow("parity", """
        - id: files
          type: python
          outputFiles: [unclosed.txt]
          script: |
            import atexit
            f = open("unclosed.txt", "w")
            f.write("flushed at exit")
            atexit.register(lambda: print('::{"outputs": {"atexit": "ran"}}::'))
        - id: legacy
          type: io.kestra.core.tasks.scripts.Python
          args: ["one", "two words"]
          inputFiles:
            main.py: |
              import sys
              print('::{"outputs": {"argv": %s}}::' % __import__("json").dumps(sys.argv[1:]))
        - id: commands
          type: io.kestra.plugin.scripts.python.Commands
          inputFiles:
            run.py: |
              import sys
              print('::{"outputs": {"arg": "%s"}}::' % sys.argv[1])
          commands:
            - python run.py --flag=1
        - id: exits
          type: python
          allowFailure: true
          script: |
            import sys
            sys.exit(3)
        - id: raises
          type: python
          allowFailure: true
          script: |
            def inner():
                raise ValueError("boom")
            inner()
    """)
    summary = runner.run(flow, timeout=60)
    assert summary["state"] == "WARNING", summary
    files = _outputs(summary, "files")
    assert files["vars"] == {"atexit": "ran"}
    stored = runner.storage.read_bytes(files["outputFiles"]["unclosed.txt"], namespace="fs")
    assert stored == b"flushed at exit", "a file the script never closed is flushed, as at interpreter exit"
    assert _outputs(summary, "legacy")["vars"] == {"argv": ["one", "two words"]}
    assert _outputs(summary, "commands")["vars"] == {"arg": "--flag=1"}
    assert FORKED.search(_how(runner, summary, "commands")), "one plain `python x.py` command is forked too"
    assert _outputs(summary, "exits")["exitCode"] == 3
    traceback = "\n".join(e["message"] for e in runner.logs(summary["id"], task_id="raises") if e["level"] == "WARN")
    assert "Traceback (most recent call last)" in traceback and "ValueError: boom" in traceback and "in inner" in traceback
    assert "forkserver" not in traceback, "the server's own frames are not part of the script's traceback"
    assert _outputs(summary, "raises")["exitCode"] == 1
    for task_id in ("files", "legacy", "exits", "raises"):
        assert FORKED.search(_how(runner, summary, task_id)), task_id


def test_objects_left_in_reference_cycles_are_finalized_at_the_end(runner) -> None:
    """The end of a forked script collects its garbage as an exiting interpreter does, young or old."""
    script = textwrap.dedent("""\
        import gc
        class Holder:
            def __del__(self):
                print('::{"outputs": {"finalized": true}}::', flush=True)
        holder = Holder()
        holder.itself = holder  # a cycle: only the garbage collector frees it
        %s
        del holder
    """)
    tasks = "".join(
        f"  - id: {task_id}\n    type: python\n    script: |\n" + textwrap.indent(script % extra, "      ")
        for task_id, extra in (("young", "pass"), ("old", "gc.collect(1); gc.collect(1)  # now in the oldest generation"))
    )
    summary = runner.run(f"id: cycles\nnamespace: fs\ntasks:\n{tasks}", timeout=60)
    assert summary["state"] == "SUCCESS", summary
    for task_id in ("young", "old"):
        assert _outputs(summary, task_id)["vars"] == {"finalized": True}, task_id
        assert FORKED.search(_how(runner, summary, task_id)), task_id


def test_timeout_stops_a_forked_script_and_its_children(runner) -> None:
    flow = _flow("slow", """
        - id: slow
          type: python
          timeout: PT1S
          script: |
            import subprocess, time
            child = subprocess.Popen(["sleep", "60"])
            print("child", child.pid, flush=True)
            time.sleep(60)
    """)
    started = time.monotonic()
    summary = runner.run(flow, timeout=60)
    assert time.monotonic() - started < 20
    run = summary["taskRuns"][0]
    assert run["state"] == "FAILED" and "Timed out" in run["attempts"][-1]["message"]
    logs = runner.logs(summary["id"])
    assert any(FORKED.search(e["message"]) for e in logs)
    child = int(next(e["message"].split()[1] for e in logs if e["message"].startswith("child ")))
    deadline = time.monotonic() + 5
    while alive(child) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not alive(child), "the script's own child was stopped with it"



def test_what_cannot_be_forked_runs_in_a_fresh_interpreter_and_says_why(runner, tmp_path: Path, monkeypatch) -> None:
    lib = tmp_path / "lib"
    lib.mkdir()
    (lib / "only_here.py").write_text("VALUE = 'from PYTHONPATH'\n")
    flow = _flow("fallbacks", f"""
        - id: before
          type: python
          beforeCommands: ["export X=1"]
          script: |
            print("before")
        - id: piped
          type: python
          commands: ["python -c 'print(1)' | cat"]
        - id: other_env
          type: python
          env:
            PYTHONPATH: "{lib}"
          script: |
            import only_here
            print('::{{"outputs": {{"v": "%s"}}}}::' % only_here.VALUE)
        - id: plain
          type: python
          script: print("plain")
    """)
    summary = runner.run(flow, timeout=60)
    assert summary["state"] == "SUCCESS", summary
    assert "in a fresh interpreter: beforeCommands and interpreter run through a shell" in _how(runner, summary, "before")
    assert "in a fresh interpreter: commands other than one plain" in _how(runner, summary, "piped")
    # A start-up variable of its own: a second server, started with that environment.
    assert _outputs(summary, "other_env")["vars"] == {"v": "from PYTHONPATH"}
    own, plain = FORKED.search(_how(runner, summary, "other_env")), FORKED.search(_how(runner, summary, "plain"))
    assert own and plain and own.group(1) != plain.group(1)

    monkeypatch.setenv("LANNER_FORK_SERVER", "0")
    summary = runner.run(flow.replace("id: fallbacks", "id: fallbacks_off"), timeout=60)
    assert "in a fresh interpreter: the fork server is off (LANNER_FORK_SERVER=0)" in _how(runner, summary, "plain")


def test_run_process_on_the_fork_server_passes_stdin_and_the_environment(tmp_path: Path) -> None:
    program = tmp_path / "echo.py"
    program.write_text("import os, sys\nprint(sys.stdin.read().upper(), os.environ['LANNER_T'])\n")
    lines: list[str] = []
    how: list[str] = []
    result = run_process([sys.executable, str(program)], cwd=tmp_path, env={"LANNER_T": "x y"}, stdin=b"hello",
                         on_line=lambda _s, line: lines.append(line), fork_server=True, on_start=how.append)
    assert result.exit_code == 0 and lines == ["HELLO x y"]
    assert how and how[0].startswith("forked by the fork server")


def test_a_forked_task_sees_exactly_its_own_environment(tmp_path: Path) -> None:
    """Variables of the server the task's environment lacks are gone, changed ones changed, new ones there."""
    program = tmp_path / "env.py"
    program.write_text("import json, os\nprint(json.dumps(dict(os.environ)))\n")
    env = {k: v for k, v in os.environ.items() if k != "HOME"}
    env.update({"PYTHONUNBUFFERED": "1", "PATH": f"{tmp_path}:{os.environ.get('PATH', '')}", "LANNER_ONLY_HERE": "1"})
    server = forkserver.server_for(sys.executable, env)
    assert server is not None and "HOME" in os.environ  # the server starts with Lanner's own HOME
    proc = server.spawn(str(program), [], tmp_path, env, stdin=False)
    assert proc.wait(10) == 0
    assert json.loads(proc.stdout.read()) == env


def test_a_server_found_dead_is_restarted_before_the_next_task(tmp_path: Path) -> None:
    program = tmp_path / "pid.py"
    program.write_text("import os\nprint(os.getppid())\n")
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    server = forkserver.server_for(sys.executable, env)
    assert server is not None
    first = server.spawn(str(program), [], tmp_path, env, stdin=False)
    assert first.wait(10) == 0 and server.pid == first.server_pid
    os.kill(first.server_pid, 9)
    deadline = time.monotonic() + 5
    while alive(first.server_pid) and time.monotonic() < deadline:
        time.sleep(0.02)
    second = server.spawn(str(program), [], tmp_path, env, stdin=False)
    assert second.wait(10) == 0
    assert second.server_pid != first.server_pid and server.pid == second.server_pid


def test_the_objects_the_server_started_with_become_immortal_while_it_idles(tmp_path: Path) -> None:
    """Children then never write their reference counts, so the pages holding them stay shared."""
    from engine.runtime.forkserver_main import Immortalizer

    if not (sys.implementation.name == "cpython" and sys.byteorder == "little" and not set(sys.abiflags) & {"d", "t"}):
        pytest.skip("immortalization is for default CPython builds")
    assert Immortalizer.works(), "the probe of a default CPython build agrees"
    program = tmp_path / "counts.py"
    program.write_text("import json, sys\nprint(sys.getrefcount(json.dumps), sys.getrefcount(json), sys.getrefcount([]))\n")
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    server = forkserver.server_for(sys.executable, env)
    assert server is not None
    deadline = time.monotonic() + 10
    while True:
        proc = server.spawn(str(program), [], tmp_path, env, stdin=False)
        assert proc.wait(10) == 0
        function, module, fresh = map(int, proc.stdout.read().split())
        if function >= 2**32 - 1 or time.monotonic() > deadline:
            break
        time.sleep(0.05)
    assert function >= 2**32 - 1 and module >= 2**32 - 1, (function, module)
    assert fresh < 100, "objects a task makes are ordinary ones"


@pytest.mark.parametrize(("command", "direct"), [
    ("python main.py", True),
    ("python3 main.py a --b=c", True),
    ("python main.py | tee x", False),
    ("python -u main.py", False),
    ("python main.py; echo done", False),
    ("python $SCRIPT", False),
    ("pip install x", False),
    ("python notes.txt", False),
])
def test_only_one_plain_python_command_is_run_without_a_shell(command: str, direct: bool) -> None:
    argv = _plain_python_command([command])
    assert (argv is not None) == direct
    if argv is not None:
        assert argv[0] == sys.executable and argv[1:] == command.split()[1:]
