"""run_process / kill_tree against real processes: streaming, timeouts, kills, process trees."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
import tracemalloc
from pathlib import Path

import pytest

from engine.runtime.process import MAX_LINE_BYTES, kill_tree, parse_output_marker, run_process

PY = sys.executable
pytestmark = pytest.mark.timeout(60)


def alive(pid: int) -> bool:
    """True while ``pid`` runs (a zombie waiting to be reaped counts as dead)."""
    stat = Path(f"/proc/{pid}/stat")
    if Path("/proc").is_dir():
        try:
            text = stat.read_text()
        except (FileNotFoundError, ProcessLookupError):
            return False
        return text[text.rfind(")") + 2] not in "ZX"
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def wait_dead(pid: int, within: float = 1.0) -> bool:
    end = time.monotonic() + within
    while time.monotonic() < end:
        if not alive(pid):
            return True
        time.sleep(0.02)
    return not alive(pid)


class Lines:
    def __init__(self) -> None:
        self.items: list[tuple[str, str, float]] = []

    def __call__(self, stream: str, line: str) -> None:
        self.items.append((stream, line, time.monotonic()))

    def of(self, stream: str) -> list[str]:
        return [line for s, line, _ in self.items if s == stream]


def py(code: str) -> list[str]:
    return [PY, "-c", textwrap.dedent(code)]


def test_first_line_arrives_while_the_process_still_runs(tmp_path: Path) -> None:
    lines = Lines()
    start = time.monotonic()
    result = run_process(py("import time\nprint('first')\ntime.sleep(1)\nprint('second')"), cwd=tmp_path, on_line=lines)
    end = time.monotonic()
    assert [line for _, line, _ in lines.items] == ["first", "second"]
    first_at = lines.items[0][2]
    assert first_at - start < 0.8, "the first line must be delivered as it is printed, not at the end"
    assert end - first_at >= 0.8
    assert result.exit_code == 0 and not result.timed_out and not result.killed
    assert result.duration >= 1.0


def test_stdout_and_stderr_are_both_read_and_counted(tmp_path: Path) -> None:
    lines = Lines()
    result = run_process(
        ["sh", "-c", "echo out1; echo err1 >&2; echo out2; printf 'err2\\r\\nno-newline' >&2; exit 3"],
        cwd=tmp_path,
        on_line=lines,
    )
    assert lines.of("stdout") == ["out1", "out2"]
    assert lines.of("stderr") == ["err1", "err2", "no-newline"]
    assert result.stderr_lines == 3
    assert result.exit_code == 3


def test_env_is_merged_over_the_parent_environment_and_python_is_unbuffered(tmp_path: Path) -> None:
    lines = Lines()
    code = "import os\nfor k in ('LANNER_T', 'PYTHONUNBUFFERED'): print(k, os.environ.get(k))\nprint(bool(os.environ.get('PATH')))\nprint(os.getcwd())"
    run_process(py(code), cwd=tmp_path, env={"LANNER_T": "x y"}, on_line=lines)
    assert lines.of("stdout") == ["LANNER_T x y", "PYTHONUNBUFFERED 1", "True", str(tmp_path)]


def test_stdin_bytes_are_fed_to_the_process(tmp_path: Path) -> None:
    lines = Lines()
    result = run_process(["cat"], cwd=tmp_path, stdin=b"hello\nworld\n", on_line=lines)
    assert lines.of("stdout") == ["hello", "world"]
    assert result.exit_code == 0


def test_invalid_utf8_is_replaced_not_fatal(tmp_path: Path) -> None:
    lines = Lines()
    run_process(py("import sys\nsys.stdout.buffer.write(b'ab\\xff\\xfecd\\n\\xc3\\xa9t\\xc3\\xa9\\n')"), cwd=tmp_path, on_line=lines)
    assert lines.of("stdout") == ["ab\ufffd\ufffdcd", "été"]


def test_very_long_lines_are_split_into_bounded_pieces(tmp_path: Path) -> None:
    lines = Lines()
    code = f"""
        import sys
        w = sys.stdout.write
        w('x' * ({MAX_LINE_BYTES} * 2 + 10) + '\\n')
        w('y' * ({MAX_LINE_BYTES} * 2) + '\\n')
        w('end\\n')
    """
    run_process(py(code), cwd=tmp_path, on_line=lines)
    sizes = [(line[0], len(line)) for line in lines.of("stdout")]
    assert sizes == [
        ("x", MAX_LINE_BYTES),
        ("x", MAX_LINE_BYTES),
        ("x", 10),
        ("y", MAX_LINE_BYTES),
        ("y", MAX_LINE_BYTES),
        ("e", 3),
    ]


def test_many_lines_with_bounded_memory(tmp_path: Path) -> None:
    count = [0, ""]

    def on_line(_stream: str, line: str) -> None:
        count[0] += 1
        count[1] = line

    code = "import sys\nw = sys.stdout.write\nfor i in range(200000): w('%06d ' % i + 'z' * 60 + '\\n')"
    tracemalloc.start()
    try:
        result = run_process(py(code), cwd=tmp_path, on_line=on_line)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert result.exit_code == 0
    assert count[0] == 200000
    assert count[1].startswith("199999 ")
    # ~13 MB went through; the reader must not have kept it.
    assert peak < 3 * 1024 * 1024, f"peak traced memory {peak} bytes"


def test_timeout_stops_the_whole_process_group_quickly(tmp_path: Path) -> None:
    lines = Lines()
    start = time.monotonic()
    result = run_process(["sh", "-c", "sleep 30 & echo $!; echo $$; sleep 30"], cwd=tmp_path, timeout=1, on_line=lines,
                         grace=10)
    elapsed = time.monotonic() - start
    assert result.timed_out and not result.killed
    assert result.exit_code is None
    # Stopped at the timeout by SIGTERM: not after the 10 s grace, nor after the 30 s sleeps (bounds far apart, so a
    # loaded machine cannot fail it).
    assert 0.9 <= elapsed < 6
    background, shell = (int(x) for x in lines.of("stdout"))
    assert not alive(background), "the background sleep must not outlive the timeout"
    assert not alive(shell)


def test_kill_event_stops_the_process_and_is_reported_as_killed(tmp_path: Path) -> None:
    event = threading.Event()
    timer = threading.Timer(0.4, event.set)
    timer.start()
    start = time.monotonic()
    try:
        result = run_process(["sh", "-c", "sleep 30 & sleep 30"], cwd=tmp_path, kill_event=event, timeout=20, grace=10)
    finally:
        timer.cancel()
    assert result.killed and not result.timed_out
    assert result.exit_code is None
    assert time.monotonic() - start < 6, "stopped by SIGTERM when the event was set, not after the grace or the sleeps"


def test_a_process_ignoring_sigterm_is_killed_after_the_grace_period(tmp_path: Path) -> None:
    lines = Lines()
    code = """
        import signal, time
        signal.signal(signal.SIGTERM, lambda *a: print('got TERM', flush=True))
        print('ready', flush=True)
        time.sleep(30)
    """
    start = time.monotonic()
    result = run_process(py(code), cwd=tmp_path, timeout=0.5, grace=0.5, on_line=lines)
    elapsed = time.monotonic() - start
    assert result.timed_out
    assert result.signal == signal.SIGKILL
    assert lines.of("stdout") == ["ready", "got TERM"], "output printed while stopping is still delivered"
    assert 0.9 <= elapsed < 10, "SIGKILL after the timeout and the grace, not after the 30 s sleep"


def test_background_processes_do_not_outlive_a_normal_exit(tmp_path: Path) -> None:
    lines = Lines()
    start = time.monotonic()
    result = run_process(["sh", "-c", "sleep 30 & echo $!; sleep 30 >/dev/null 2>&1 & echo $!"], cwd=tmp_path, on_line=lines)
    assert result.exit_code == 0
    assert time.monotonic() - start < 10, "the task ended with its shell, not with the 30 s background sleeps"
    for pid in lines.of("stdout"):
        assert not alive(int(pid))


def test_a_chatty_background_job_does_not_keep_the_task_running(tmp_path: Path) -> None:
    lines = Lines()
    start = time.monotonic()
    result = run_process(["sh", "-c", "(while :; do echo spam; done) & echo started"], cwd=tmp_path, on_line=lines)
    assert time.monotonic() - start < 10, "the endless background job did not keep the task running"
    assert result.exit_code == 0 and not result.timed_out
    assert "started" in lines.of("stdout")


def test_the_child_dies_with_its_parent(tmp_path: Path) -> None:
    """PR_SET_PDEATHSIG: SIGKILL the process that called run_process; its child must die too."""
    if not sys.platform.startswith("linux"):
        pytest.skip("PR_SET_PDEATHSIG is Linux-only")
    code = """
        from pathlib import Path
        from engine.runtime.process import run_process
        run_process(['sh', '-c', 'echo $$; exec sleep 30'], cwd=Path('.'), on_line=lambda s, l: print(l, flush=True))
    """
    repo = Path(__file__).resolve().parents[2]
    parent = subprocess.Popen(py(code), cwd=repo, stdout=subprocess.PIPE, text=True, start_new_session=True)
    try:
        assert parent.stdout is not None
        child = int(parent.stdout.readline())
        assert alive(child)
        os.kill(parent.pid, signal.SIGKILL)  # only the parent: the child is in its own group
        parent.wait(5)
        assert wait_dead(child, 2.0), "the child must not outlive its worker"
    finally:
        if parent.poll() is None:
            parent.kill()
            parent.wait()


def test_an_exception_in_on_line_stops_the_process_and_propagates(tmp_path: Path) -> None:
    seen: list[str] = []

    def on_line(_s: str, line: str) -> None:
        seen.append(line)
        raise RuntimeError("sink broke")

    start = time.monotonic()
    with pytest.raises(RuntimeError, match="sink broke"):
        run_process(["sh", "-c", "echo $$; sleep 30"], cwd=tmp_path, on_line=on_line, grace=10)
    assert time.monotonic() - start < 6, "stopped by SIGTERM at once, not after the grace or the sleep"
    assert wait_dead(int(seen[0]))


def test_a_missing_program_raises_file_not_found(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        run_process(["lanner-no-such-program-xyz"], cwd=tmp_path)


def test_kill_tree_stops_a_group_and_its_background_jobs(tmp_path: Path) -> None:
    proc = subprocess.Popen(
        ["sh", "-c", "sleep 30 & echo $!; sleep 30"], cwd=tmp_path, stdout=subprocess.PIPE, text=True, start_new_session=True
    )
    assert proc.stdout is not None
    background = int(proc.stdout.readline())
    start = time.monotonic()
    kill_tree(proc.pid, grace=10)
    assert time.monotonic() - start < 5, "SIGTERM was enough: no need to wait for the grace period"
    proc.wait(2)
    proc.stdout.close()
    assert not alive(background)


def test_parse_output_marker() -> None:
    assert parse_output_marker('::{"outputs": {"a": 1}}::') == {"outputs": {"a": 1}}
    assert parse_output_marker('  ::{"outputs": {"b": [1, 2]}}::  ') == {"outputs": {"b": [1, 2]}}
    metrics = {"metrics": [{"name": "rows", "type": "counter", "value": 3}]}
    assert parse_output_marker('::{"metrics": [{"name": "rows", "type": "counter", "value": 3}]}::') == metrics
    for line in ("hello", "::{not json}::", '::{"outputs": 5}::', '::{"other": 1}::', '::["outputs"]::', 'x ::{"outputs": {}}::'):
        assert parse_output_marker(line) is None, line
