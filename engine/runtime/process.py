"""Run one OS process for a task attempt: stream its lines, stop it cleanly, leave nothing behind.

Why this is more than ``subprocess.run``:

* The child leads its own session and process group, so a timeout or a kill
  stops the *whole tree* (a shell's background jobs included): SIGTERM to the
  group, then SIGKILL after ``grace`` seconds if anything is still alive.
* On Linux the child also gets ``PR_SET_PDEATHSIG=SIGKILL``, so it dies with
  the worker even when the worker is SIGKILLed. The kernel ties that signal to
  the *thread* that forked, which is the thread calling :func:`run_process`
  (it blocks until the process ends, so the tie holds for the process's life).
  The child's own children are not covered by that signal: the group is also
  handed to :mod:`engine.runtime.watchdog`, which kills it if the worker dies
  (a process forked by a fork server is its server's to kill: see
  :mod:`engine.runtime.forkserver`).
* stdout and stderr are read concurrently with one ``select`` loop, line by
  line as they arrive, without ever keeping more than one (bounded) line in
  memory: a process can print millions of lines. ``on_line`` is always called
  from the calling thread, so callers need no locking.
* Processes of the group that outlive the main process (``cmd &``) are stopped
  when it exits: a task's processes never outlive the task. Only processes that
  left the group on purpose (``setsid``) escape.
"""

from __future__ import annotations

import codecs
import ctypes
import json
import os
import re
import selectors
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import IO, TYPE_CHECKING

from engine.runtime import forkserver, watchdog

if TYPE_CHECKING:
    from engine.runtime.context import RunContext

#: Lines longer than this many bytes are delivered in pieces of this size.
MAX_LINE_BYTES = 1024 * 1024
#: Bytes read from a pipe at a time.
_CHUNK = 64 * 1024
#: How often (seconds) the loop looks at the kill event, the deadline and the process.
_POLL = 0.05

_MARKER = re.compile(r"^\s*::(\{.*\})::\s*$", re.DOTALL)

_PR_SET_PDEATHSIG = 1


@dataclass
class ProcessResult:
    """How the process ended."""

    exit_code: int | None  # None when killed before exiting normally
    timed_out: bool
    killed: bool  # kill_event was set (user kill) — distinct from timeout
    duration: float  # seconds
    stderr_lines: int  # how many lines came on stderr
    #: The signal number that ended the process, when a signal did (ours or another's, e.g. SIGSEGV).
    signal: int | None = None
    #: The fork server that ran the process died while it ran: how it ended is unknown.
    lost: bool = False


def parse_output_marker(line: str) -> dict | None:
    """Parse Kestra's ``::{"outputs": {...}}::`` / ``::{"metrics": [...]}::`` / ``::{"logs": [...]}::`` line, else None.

    Ordinary lines, malformed JSON, and JSON objects that carry none of
    ``outputs`` (a mapping), ``metrics`` or ``logs`` (lists) return None, so they are
    logged like any other line instead of silently disappearing.
    """
    if "::" not in line:
        return None
    m = _MARKER.match(line)
    if not m:
        return None
    try:
        data = json.loads(m.group(1))
    except ValueError:
        return None
    if not isinstance(data, dict):
        return None
    has_outputs = isinstance(data.get("outputs"), dict)
    has_metrics = isinstance(data.get("metrics"), list)
    has_logs = isinstance(data.get("logs"), list)
    if not (has_outputs or has_metrics or has_logs):
        return None
    if "outputs" in data and not has_outputs or "metrics" in data and not has_metrics or "logs" in data and not has_logs:
        return None
    return data


_LOG_LEVELS = {"TRACE": "debug", "DEBUG": "debug", "INFO": "info", "WARN": "warn", "WARNING": "warn", "ERROR": "error"}


def apply_output_marker(ctx: RunContext, marker: dict, captured: dict) -> None:
    """What a parsed ``::{...}::`` line asks for: ``outputs`` merged into ``captured``, ``metrics``
    published on the task run (``ctx.metric``), ``logs`` logged at their level (Kestra's Python helper)."""
    outputs = marker.get("outputs")
    if isinstance(outputs, dict):
        captured.update(outputs)
        ctx.logger.debug(f"Captured outputs: {', '.join(map(str, outputs))}")
    for metric in marker.get("metrics") or []:
        if isinstance(metric, dict) and metric.get("type") in ("counter", "timer", "gauge") and isinstance(metric.get("value"), int | float):
            tags = metric.get("tags") if isinstance(metric.get("tags"), dict) else None
            ctx.metric(metric["type"], str(metric.get("name")), metric["value"], tags)
    for line in marker.get("logs") or []:
        if isinstance(line, dict):
            getattr(ctx.logger, _LOG_LEVELS.get(str(line.get("level", "INFO")).upper(), "info"))(str(line.get("message", "")))


# --- process groups -----------------------------------------------------------------------------


def _group_alive(pgid: int) -> bool:
    """Whether the process group still has a live (non-zombie) member.

    Zombies are ignored: they are already dead and only wait for their parent
    (or init) to reap them, yet ``kill(pid, 0)`` still succeeds on them. A group
    with no member at all, the usual case, is answered without reading ``/proc``.
    """
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # pragma: no cover - someone else's group
        return True
    proc = Path("/proc")
    if sys.platform.startswith("linux") and proc.is_dir():
        try:
            entries = os.listdir(proc)
        except OSError:  # pragma: no cover - /proc unreadable
            entries = []
        else:
            for name in entries:
                if not name.isdigit():
                    continue
                try:
                    with open(f"/proc/{name}/stat", "rb") as fh:
                        stat = fh.read()
                except OSError:
                    continue
                # Fields after the command name (which may contain spaces and parentheses).
                fields = stat[stat.rfind(b")") + 2 :].split()
                if len(fields) > 2 and int(fields[2]) == pgid and fields[0] not in (b"Z", b"X"):
                    return True
            return False
    return True


def _signal_group(pgid: int, sig: int, *, lone: bool = False) -> None:
    """Send ``sig`` to the group; with ``lone``, to the process itself when it leads no group.

    :func:`run_process` never uses ``lone``: once its child is reaped the pid may
    belong to someone else, while a group id stays reserved as long as the group has members.
    """
    try:
        os.killpg(pgid, sig)
    except ProcessLookupError:
        if lone:
            try:
                os.kill(pgid, sig)
            except (ProcessLookupError, PermissionError):
                pass
    except PermissionError:  # pragma: no cover
        pass


def _wait_group(pgid: int, until: float) -> bool:
    """Wait until the group has no live member or ``until`` (monotonic) passes; True when gone."""
    while True:
        if not _group_alive(pgid):
            return True
        if time.monotonic() >= until:
            return False
        time.sleep(_POLL)


def kill_tree(pid: int, *, grace: float = 2.0) -> None:
    """SIGTERM the process group led by ``pid``, then SIGKILL whatever is left after ``grace`` seconds.

    ``pid`` must lead its group (every process :func:`run_process` starts does);
    the group of an arbitrary pid is never looked up, so a wrong pid can never
    take down the caller's own group.
    """
    _signal_group(pid, signal.SIGTERM, lone=True)
    if not _wait_group(pid, time.monotonic() + grace):
        _signal_group(pid, signal.SIGKILL, lone=True)
        _wait_group(pid, time.monotonic() + 1.0)


# --- the child's setup --------------------------------------------------------------------------


def _make_preexec() -> Callable[[], None] | None:
    """A preexec_fn that sets PR_SET_PDEATHSIG=SIGKILL, or None off Linux.

    Everything is looked up before fork: in the child only one foreign call and
    two syscalls run, which keeps preexec_fn safe enough in a threaded worker.
    """
    if not sys.platform.startswith("linux"):
        return None
    try:
        prctl = ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):  # pragma: no cover - no libc prctl
        return None
    parent = os.getpid()
    sigkill = int(signal.SIGKILL)

    def preexec() -> None:
        prctl(_PR_SET_PDEATHSIG, sigkill, 0, 0, 0)
        # The parent may have died between fork and prctl: then nobody will signal us.
        if os.getppid() != parent:
            os._exit(137)

    return preexec


#: (a copy of os.environ's raw data, what _inherited_env made of it): decoding ~40 variables per task cost ~40 µs.
_env_cache: tuple[dict[bytes, bytes], dict[str, str]] | None = None


def _inherited_env() -> dict[str, str]:
    """Lanner's environment without its secrets, as a new dict (recomputed only when os.environ changed)."""
    global _env_cache
    raw = getattr(os.environ, "_data", None)  # CPython's encoded mapping behind os.environ
    cached = _env_cache
    if cached is not None and cached[0] == raw:
        return dict(cached[1])
    # Namespace-scoped secrets stay in the server: a task of team.a must not find team.b's in its environment.
    inherited = {k: v for k, v in os.environ.items() if not k.startswith("LANNER_SECRET_")}
    if isinstance(raw, dict):
        _env_cache = (dict(raw), inherited)
    return dict(inherited)


def _child_env(env: Mapping[str, str] | None) -> dict[str, str]:
    merged = _inherited_env()
    merged["PYTHONUNBUFFERED"] = "1"
    if env:
        merged.update({str(k): str(v) for k, v in env.items()})
    return merged


# --- line splitting -----------------------------------------------------------------------------


class _Lines:
    """Turns the byte chunks of one stream into decoded lines, holding at most one bounded line."""

    def __init__(self, stream: str, emit: Callable[[str, str], None]):
        self.stream = stream
        self.emit = emit
        self.buf = bytearray()
        self.decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        self.continued = False  # the last piece emitted was part of a line longer than the limit
        self.count = 0

    def _out(self, text: str) -> None:
        self.count += 1
        self.emit(self.stream, text)

    def _line(self, raw: bytes | bytearray) -> None:
        if raw.endswith(b"\r"):
            raw = raw[:-1]
        if not raw and self.continued:  # the newline that ends an already split line
            self.continued = False
            return
        while len(raw) > MAX_LINE_BYTES:
            self._out(self.decoder.decode(bytes(raw[:MAX_LINE_BYTES])))
            raw = raw[MAX_LINE_BYTES:]
        self.continued = False
        self._out(self.decoder.decode(bytes(raw), final=True))

    def feed(self, data: bytes) -> None:
        buf = self.buf
        buf += data
        start = 0
        while True:
            nl = buf.find(b"\n", start)
            if nl < 0:
                break
            self._line(buf[start:nl])
            start = nl + 1
        if start:
            del buf[:start]
        while len(buf) >= MAX_LINE_BYTES:
            piece = bytes(buf[:MAX_LINE_BYTES])
            del buf[:MAX_LINE_BYTES]
            self._out(self.decoder.decode(piece))
            self.continued = True

    def close(self) -> None:
        if self.buf:
            self._line(self.buf)
            self.buf = bytearray()
        else:
            tail = self.decoder.decode(b"", final=True)
            if tail:
                self._out(tail)


# --- running ------------------------------------------------------------------------------------


def _write_stdin(pipe: IO[bytes], data: bytes) -> None:
    try:
        pipe.write(data)
    except (BrokenPipeError, OSError, ValueError):
        pass
    finally:
        try:
            pipe.close()
        except (BrokenPipeError, OSError):
            pass


def run_process(
    argv: list[str],
    *,
    cwd: Path,
    env: Mapping[str, str] | None = None,
    timeout: float | None = None,
    kill_event: threading.Event | None = None,
    on_line: Callable[[str, str], None] | None = None,
    grace: float = 2.0,
    stdin: bytes | None = None,
    fork_server: bool = False,
    on_start: Callable[[str], None] | None = None,
) -> ProcessResult:
    """Run ``argv`` in ``cwd`` until it ends, times out or ``kill_event`` is set.

    ``env`` is merged over a copy of ``os.environ`` (plus ``PYTHONUNBUFFERED=1``).
    ``on_line(stream, line)`` gets every line of stdout/stderr as it arrives,
    without its newline, decoded as UTF-8 with replacement characters.
    If ``on_line`` raises, the process tree is stopped and the error re-raised.
    A program that cannot be started raises ``OSError`` (e.g. FileNotFoundError).

    With ``fork_server``, ``argv`` (``[python, program, *args]``) is forked from
    a pre-started interpreter when :mod:`engine.runtime.forkserver` allows it,
    else started as usual; ``on_start`` is told which, in a few words.
    """
    start = time.monotonic()
    deadline = start + timeout if timeout is not None else None
    emit = on_line or (lambda _s, _l: None)
    proc = _start(argv, cwd, _child_env(env), stdin is not None, fork_server, on_start)
    pgid = proc.pid
    # PDEATHSIG covers the child only; the watchdog covers its descendants. A fork server's child needs
    # none: the server kills its children's groups when this process goes (its request socket closes).
    watched = not isinstance(proc, forkserver.ForkedProcess)
    if watched:
        watchdog.watch(pgid)
    writer: threading.Thread | None = None
    if stdin is not None:
        writer = threading.Thread(target=_write_stdin, args=(proc.stdin, stdin), name=f"stdin-{pgid}", daemon=True)
        writer.start()

    assert proc.stdout is not None and proc.stderr is not None
    readers = {proc.stdout.fileno(): _Lines("stdout", emit), proc.stderr.fileno(): _Lines("stderr", emit)}
    sel = selectors.DefaultSelector()
    for fd in readers:
        sel.register(fd, selectors.EVENT_READ)
    open_fds = set(readers)

    timed_out = killed = False
    stop_at: float | None = None  # when SIGKILL follows the SIGTERM already sent
    sigkilled = False
    drain_until: float | None = None  # stop reading pipes held only by processes outside the group
    exit_code: int | None = None
    finished = False

    def stop(now: float) -> None:
        nonlocal stop_at
        if stop_at is None:
            _signal_group(pgid, signal.SIGTERM)
            stop_at = now + grace

    try:
        while True:
            now = time.monotonic()
            if stop_at is None and exit_code is None:
                if kill_event is not None and kill_event.is_set():
                    killed = True
                    stop(now)
                elif deadline is not None and now >= deadline:
                    timed_out = True
                    stop(now)
            if stop_at is not None and not sigkilled and now >= stop_at:
                _signal_group(pgid, signal.SIGKILL)
                sigkilled = True

            wait = _POLL
            if deadline is not None and stop_at is None:
                wait = max(0.0, min(wait, deadline - now))
            events = sel.select(wait) if open_fds else []
            if not open_fds and exit_code is None:
                try:
                    proc.wait(wait)
                except subprocess.TimeoutExpired:
                    pass
            for key, _mask in events:
                fd = key.fd
                try:
                    data = os.read(fd, _CHUNK)
                except BlockingIOError:  # pragma: no cover - spurious wakeup
                    continue
                except OSError:
                    data = b""
                if data:
                    readers[fd].feed(data)
                else:
                    sel.unregister(fd)
                    open_fds.discard(fd)
                    readers[fd].close()

            if exit_code is None:
                exit_code = proc.poll()
            if exit_code is not None:
                if not open_fds:
                    break
                # The main process is gone but its pipes are open: something it started holds them.
                group_alive = _group_alive(pgid)
                if group_alive and stop_at is None:
                    stop(now)  # background jobs do not outlive the task
                elif not group_alive:
                    # Only processes that left the group (setsid) hold the pipes:
                    # take what is already there, then stop listening. "Already there"
                    # is looked at now: the group may have written its last lines and
                    # exited after this round's select returned nothing.
                    if not (events or sel.select(0)) or (drain_until is not None and now >= drain_until):
                        break
                    if drain_until is None:
                        drain_until = now + 1.0
        # Members of the group that closed their pipes but still run (`cmd > file &`).
        if _group_alive(pgid):
            if stop_at is None:
                _signal_group(pgid, signal.SIGTERM)
                stop_at = time.monotonic() + grace
            if not _wait_group(pgid, stop_at):
                _signal_group(pgid, signal.SIGKILL)
                _wait_group(pgid, time.monotonic() + 1.0)
        finished = True
    finally:
        if not finished:  # on_line raised, or KeyboardInterrupt: never leave the tree running
            if proc.returncode is None or _group_alive(pgid):
                _signal_group(pgid, signal.SIGKILL)
            proc.wait()
        sel.close()
        for f in (proc.stdout, proc.stderr):
            try:
                f.close()
            except OSError:  # pragma: no cover
                pass
        if writer is not None:
            writer.join(timeout=1.0)
        if watched:
            watchdog.forget(pgid)

    for fd in list(open_fds):
        readers[fd].close()
    returncode = proc.wait()
    sig = -returncode if returncode < 0 else None
    return ProcessResult(
        exit_code=None if sig is not None else returncode,
        timed_out=timed_out,
        killed=killed,
        duration=time.monotonic() - start,
        stderr_lines=sum(r.count for r in readers.values() if r.stream == "stderr"),
        signal=sig,
        lost=getattr(proc, "lost", False),
    )


def _start(
    argv: list[str], cwd: Path, env: dict[str, str], stdin: bool, fork_server: bool, on_start: Callable[[str], None] | None
) -> subprocess.Popen[bytes] | forkserver.ForkedProcess:
    """The running process: forked by a fork server when asked and allowed, else a fresh one."""
    why = "not a Python script"
    if fork_server:
        forked = forkserver.launch(argv, cwd, env, stdin=stdin)
        if isinstance(forked, forkserver.ForkedProcess):
            if on_start is not None:
                on_start(f"forked by the fork server (pid {forked.server_pid})")
            return forked
        why = forked
    proc = subprocess.Popen(
        argv,
        cwd=str(cwd),
        env=env,
        stdin=subprocess.PIPE if stdin else subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        start_new_session=True,
        preexec_fn=_make_preexec(),  # see _make_preexec for why this is safe enough
        close_fds=True,
    )
    if on_start is not None:
        on_start(f"in a fresh interpreter: {why}" if fork_server else "in a fresh process")
    return proc
