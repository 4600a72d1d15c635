"""Python script tasks through a fork server: a pre-started interpreter that forks once per task.

Starting a fresh interpreter costs tens of milliseconds of CPU (``site``,
encodings, the imports every script does) before the first line of a task
runs. A fork server pays that once: it starts, imports the standard library
modules scripts commonly use, and from then on forks a child per task
(:mod:`engine.runtime.forkserver_main`). This is the design of
``multiprocessing``'s forkserver and of Airflow's task supervisor (a
pre-imported parent that forks the task process), not of Celery's prefork
pool or gunicorn's reused workers: a child runs exactly one task and ends, so
nothing a task does reaches the next one.

Each task still gets what :func:`engine.runtime.process.run_process` gives a
fresh process: its own process group (killed as a whole on timeout or kill,
and watched by :mod:`engine.runtime.watchdog` in case this process dies), its
own working directory, environment and stdin/stdout/stderr pipes.

A fork server is used only when its interpreter would behave like the fresh
one (:func:`why_not`): the task runs Lanner's interpreter on a program file,
without interpreter options, and every environment variable an interpreter
reads when it starts (``PYTHON*``, the locale, the dynamic loader's) is the
one the server started with. Anything else runs in a fresh interpreter, and
the task's debug log says which was used and why. There is one server per
interpreter and start-up environment (at most :data:`MAX_SERVERS`): the virtual
environment of a task's ``dependencies`` has a server of its own.

A server that dies (``kill -9``, out of memory) loses the tasks it was
running: their attempts fail with :data:`LOST_MESSAGE`, the task's ``retry``
decides what follows, as for a lost Dask worker, and the next task starts a
new server. A request the server never answered (it died before forking)
is simply run on a new server or, failing that, in a fresh interpreter.

``LANNER_FORK_SERVER=0`` turns it off; ``LANNER_FORK_SERVER_PRELOAD=numpy,pandas``
imports more modules in the server (they then see Lanner's environment at
import, not the task's).
"""

from __future__ import annotations

import atexit
import json
import os
import select
import signal
import socket
import struct
import subprocess
import sys
import threading
from collections.abc import Mapping
from pathlib import Path
from typing import IO

SERVER_PROGRAM = Path(__file__).with_name("forkserver_main.py")
LOST_MESSAGE = "worker lost: the fork server running this Python script died (counted as a failed attempt)"
#: Fork servers kept at once (one per interpreter and start-up environment).
MAX_SERVERS = 4
#: How long a request may wait for the server to fork (seconds) before the task runs elsewhere.
SPAWN_TIMEOUT = 30.0
_INT = struct.Struct("q")
#: Environment variables an interpreter or the C library reads once, at start-up.
_STARTUP_EXACT = frozenset({"LANG"})
_STARTUP_PREFIXES = ("PYTHON", "LC_", "LD_", "MALLOC_", "GLIBC_")


class ForkServerUnavailable(RuntimeError):
    """The server could not take the request; the task has not started."""


def enabled() -> bool:
    return sys.platform.startswith("linux") and os.environ.get("LANNER_FORK_SERVER", "1").lower() not in ("0", "false", "no", "off")


def _read_at_startup(name: str) -> bool:
    return name in _STARTUP_EXACT or name.startswith(_STARTUP_PREFIXES)


def _startup_env(env: Mapping[str, str]) -> tuple[tuple[str, str], ...]:
    exact, prefixes = _STARTUP_EXACT, _STARTUP_PREFIXES  # _read_at_startup inlined: this runs once per task
    return tuple(sorted([(k, v) for k, v in env.items() if k in exact or k.startswith(prefixes)]))


def _same_file(a: str, b: str) -> bool:
    try:
        return os.path.samefile(a, b)
    except OSError:
        return False


def why_not(argv: list[str], cwd: Path, env: Mapping[str, str]) -> str | None:
    """Why ``argv`` (with the complete environment ``env``) cannot run on a fork server, or None when it can."""
    if not enabled():
        return "the fork server is off (LANNER_FORK_SERVER=0)" if sys.platform.startswith("linux") else "the fork server needs Linux"
    if len(argv) < 2 or not (argv[0] == sys.executable or _same_file(argv[0], sys.executable) or _dependency_env(argv[0])):
        return f"{argv[0]} is neither Lanner's interpreter nor the one of a dependency environment"
    if argv[1].startswith("-"):
        return f"interpreter option {argv[1]}"
    if not os.path.isfile(argv[1] if os.path.isabs(argv[1]) else os.path.join(cwd, argv[1])):
        return f"{argv[1]} is not a file"
    return None


def _dependency_env(interpreter: str) -> bool:
    """The Python of a complete virtual environment of a task's ``dependencies`` (its own fork server)."""
    return (Path(interpreter).parent.parent / ".lanner-venv").is_file()


def _readable(sock: socket.socket, timeout: float) -> bool:
    """Whether ``sock`` has data (or end-of-file) within ``timeout`` seconds (poll: no FD_SETSIZE limit)."""
    poller = select.poll()
    poller.register(sock, select.POLLIN)
    return bool(poller.poll(max(0.0, timeout) * 1000))


class ForkedProcess:
    """A task process forked by a fork server, with the parts of ``subprocess.Popen`` run_process uses."""

    def __init__(self, pid: int, status: socket.socket, server_pid: int, stdin: IO[bytes] | None, stdout: IO[bytes],
                 stderr: IO[bytes]):
        self.pid = pid
        self.server_pid = server_pid
        self.stdin = stdin
        self.stdout = stdout
        self.stderr = stderr
        self.returncode: int | None = None
        #: The server died before it could report how the process ended.
        self.lost = False
        self._status = status

    def _take(self, timeout: float | None) -> int | None:
        if self.returncode is not None:
            return self.returncode
        if timeout is not None and not _readable(self._status, timeout):
            return None
        data = b""
        while len(data) < _INT.size:
            try:
                chunk = self._status.recv(_INT.size - len(data))
            except InterruptedError:  # pragma: no cover - PEP 475 retries
                continue
            except OSError:
                chunk = b""
            if not chunk:
                break
            data += chunk
        self._status.close()
        if len(data) == _INT.size:
            self.returncode = os.waitstatus_to_exitcode(_INT.unpack(data)[0])
        else:
            # The server is gone; PR_SET_PDEATHSIG has killed the process itself.
            self.lost = True
            self.returncode = -int(signal.SIGKILL)
        return self.returncode

    def poll(self) -> int | None:
        return self._take(0.0)

    def wait(self, timeout: float | None = None) -> int:
        code = self._take(timeout)
        if code is None:
            raise subprocess.TimeoutExpired([str(self.pid)], timeout or 0.0)
        return code


class ForkServer:
    """One fork server process for one interpreter and start-up environment."""

    def __init__(self, interpreter: str, env: Mapping[str, str], preload: str = ""):
        self.interpreter = interpreter
        self.env = dict(env)
        self.preload = preload
        self._lock = threading.Lock()
        self._proc: subprocess.Popen[bytes] | None = None
        self._ctl: socket.socket | None = None
        self.starts = 0

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc is not None else None

    def _alive(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def _start(self) -> None:
        self._stop()
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        try:
            self._proc = subprocess.Popen(
                [self.interpreter, str(SERVER_PROGRAM), str(theirs.fileno()), self.preload],
                pass_fds=[theirs.fileno()],
                env=self.env,
                cwd="/",
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                start_new_session=True,  # a Ctrl-C meant for Lanner reaches it through Lanner, not directly
                close_fds=True,
            )
        except BaseException:
            ours.close()
            raise
        finally:
            theirs.close()
        self._ctl = ours
        self.starts += 1

    def _stop(self) -> None:
        if self._ctl is not None:
            self._ctl.close()  # the server sees end-of-file, kills its children and exits
            self._ctl = None
        if self._proc is not None:
            try:
                self._proc.wait(timeout=2)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait()
            self._proc = None

    def close(self) -> None:
        with self._lock:
            self._stop()

    def spawn(self, program: str, args: list[str], cwd: Path, env: Mapping[str, str], stdin: bool) -> ForkedProcess:
        """Fork a child running ``program``; raises ForkServerUnavailable when nothing was started."""
        for attempt in range(2):  # a server found dead is restarted once
            with self._lock:
                if not self._alive():
                    try:
                        self._start()
                    except OSError as exc:
                        raise ForkServerUnavailable(f"the fork server could not start: {exc}") from exc
                ctl, server_pid = self._ctl, self.pid
            assert ctl is not None and server_pid is not None
            try:
                return self._request(ctl, server_pid, program, args, cwd, env, stdin)
            except ForkServerUnavailable:
                with self._lock:
                    if self._ctl is ctl:
                        self._stop()
                if attempt:
                    raise
        raise AssertionError("unreachable")  # pragma: no cover

    def _request(
        self, ctl: socket.socket, server_pid: int, program: str, args: list[str], cwd: Path, env: Mapping[str, str], stdin: bool
    ) -> ForkedProcess:
        out_r, out_w = os.pipe()
        err_r, err_w = os.pipe()
        in_r, in_w = os.pipe() if stdin else (_devnull(), -1)
        status, status_theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        ours = [out_r, err_r, in_w]
        try:
            base = self.env
            request = {
                "program": program,
                "args": args,
                "cwd": str(cwd),
                "setenv": {k: v for k, v in env.items() if base.get(k) != v},
                "unsetenv": [k for k in base if k not in env],
            }
            try:
                socket.send_fds(ctl, [json.dumps(request).encode()], [in_r, out_w, err_w, status_theirs.fileno()])
            except OSError as exc:
                raise ForkServerUnavailable(f"the fork server did not take the request: {exc}") from exc
            finally:
                for fd in (in_r, out_w, err_w) if stdin else (out_w, err_w):
                    os.close(fd)
                status_theirs.close()
            data = status.recv(_INT.size, socket.MSG_WAITALL) if _readable(status, SPAWN_TIMEOUT) else b""
            if len(data) != _INT.size:
                raise ForkServerUnavailable("the fork server did not start the task")
        except BaseException:
            status.close()
            for fd in ours:
                if fd >= 0:
                    os.close(fd)
            raise
        pid = _INT.unpack(data)[0]
        return ForkedProcess(
            pid,
            status,
            server_pid,
            stdin=os.fdopen(in_w, "wb") if stdin else None,
            stdout=os.fdopen(out_r, "rb", buffering=0),
            stderr=os.fdopen(err_r, "rb", buffering=0),
        )


_devnull_fd = -1


def _devnull() -> int:
    """One read-only /dev/null descriptor (close-on-exec) sent as every task's stdin, instead of one open per task."""
    global _devnull_fd
    if _devnull_fd < 0:
        with _servers_lock:
            if _devnull_fd < 0:
                _devnull_fd = os.open(os.devnull, os.O_RDONLY | os.O_CLOEXEC)
    return _devnull_fd


# --- the servers of this process ----------------------------------------------------------------

_servers: dict[tuple[str, tuple[tuple[str, str], ...]], ForkServer] = {}
_servers_lock = threading.Lock()
_owner = os.getpid()


def server_for(interpreter: str, env: Mapping[str, str]) -> ForkServer | None:
    """The fork server for this interpreter and start-up environment (started on first use), or None when full."""
    global _owner
    key = (interpreter, _startup_env(env))
    with _servers_lock:
        if _owner != os.getpid():  # a forked copy of this process: the servers are the parent's
            _servers.clear()
            _owner = os.getpid()
        server = _servers.get(key)
        if server is None:
            if len(_servers) >= MAX_SERVERS:
                return None
            # Lanner's own environment with the start-up variables of the key: never a task's
            # variables (they may hold secrets, and the next task must not see them).
            server_env = {k: v for k, v in os.environ.items() if not _read_at_startup(k)}
            server_env.update(key[1])
            server = ForkServer(interpreter, server_env, os.environ.get("LANNER_FORK_SERVER_PRELOAD", ""))
            _servers[key] = server
        return server


def launch(argv: list[str], cwd: Path, env: Mapping[str, str], *, stdin: bool) -> ForkedProcess | str:
    """Start ``argv`` on a fork server, or say why it runs in a fresh interpreter instead."""
    reason = why_not(argv, cwd, env)
    if reason is not None:
        return reason
    # A dependency environment's Python is a link to the same binary as Lanner's: told apart by its folder.
    server = server_for(argv[0] if argv[0] != sys.executable and _dependency_env(argv[0]) else sys.executable, env)
    if server is None:
        return f"{MAX_SERVERS} fork servers already run for other start-up environments"
    try:
        return server.spawn(argv[1], argv[2:], cwd, env, stdin)
    except ForkServerUnavailable as exc:
        return str(exc)


def shutdown() -> None:
    """Stop this process's fork servers (their running children are killed)."""
    with _servers_lock:
        servers = list(_servers.values()) if _owner == os.getpid() else []
        _servers.clear()
    for server in servers:
        server.close()


atexit.register(shutdown)
