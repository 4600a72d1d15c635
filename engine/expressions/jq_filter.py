"""Kestra's ``jq`` filter: the real jq (PyPI ``jq``), in a child process the time limit can kill.

``{{ outputs.api.body | jq('.items[].id') }}`` gives the list of every
result, as Kestra does (``| first`` for a single value). A text input is read
as JSON; anything else is converted to JSON first. The program runs in a
worker process (:mod:`engine.expressions.jq_worker`) that is reused between
calls; a program gets the CPU time its render has left (counted by the worker's
own CPU clock, so a busy machine does not shorten it), and when that is used
up the worker ends and the render fails with a clear error, so
``[range(1e9)]`` or ``def f: f; f`` cannot hold a worker thread. The input
is measured before it is sent and the result is refused past the output limit. Programs may not ``import``/``include`` jq
modules (files on the server).

On a busy 2-core machine a call to a warm worker took about 0.3 ms (two pipe
writes and jq itself); the first call of a process starts the worker (~70 ms).
"""

from __future__ import annotations

import math
import os
import re
import sys
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from jinja2 import pass_environment
from jinja2.runtime import Undefined

from engine.expressions import bounds, json_text
from engine.expressions.guard import WATCHDOG
from engine.expressions.limit_error import LimitError
from engine.expressions.limits import Limits

if TYPE_CHECKING:
    from engine.expressions.sandbox import LannerEnvironment

_WORKER = str(Path(__file__).with_name("jq_worker.py"))
_MODULES = re.compile(r"(^|[;\s])(import|include)\s+\"")
#: Idle workers kept per process.
KEEP_IDLE = 2


def wall_backstop(cpu_seconds: float) -> float:
    """How long to wait for a worker whose program may use ``cpu_seconds`` of CPU time.

    The worker stops itself when its CPU time is up; this only bounds a worker
    that stopped answering, generously enough for a machine busy enough to give
    it a tenth of a core.
    """
    return 10 * cpu_seconds + 5


class JqError(LimitError):
    """A jq program that does not compile, fails, or runs past the limits."""


class JqWorker:
    """One child process running jq programs, one at a time."""

    def __init__(self) -> None:
        import subprocess  # imported with the first worker: start-up stays fast
        import tempfile

        self.proc = subprocess.Popen(
            [sys.executable, "-I", _WORKER],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            env={},  # $ENV / env in a program see nothing of the server
            cwd=tempfile.gettempdir(),
            close_fds=True,
        )

    def alive(self) -> bool:
        return self.proc.poll() is None

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()
        for stream in (self.proc.stdin, self.proc.stdout):
            if stream is not None:
                stream.close()

    def ask(self, program: str, data: str, max_output: int, timeout: float) -> tuple[bool, str]:
        prog, body = program.encode("utf-8"), data.encode("utf-8")
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self.proc.stdin.write(b"%d %d %d %d\n" % (len(prog), len(body), max_output, math.ceil(timeout * 1000)) + prog + body)
        self.proc.stdin.flush()
        return self._reply(timeout)

    def _reply(self, timeout: float) -> tuple[bool, str]:
        """The worker's answer; TimeoutError when its program used up ``timeout`` CPU seconds."""
        import selectors

        fd = self.proc.stdout.fileno()  # type: ignore[union-attr]
        buf = b""
        need: int | None = None
        ok = False
        end = time.monotonic() + wall_backstop(timeout)
        with selectors.DefaultSelector() as sel:
            sel.register(fd, selectors.EVENT_READ)
            while need is None or len(buf) < need:
                left = end - time.monotonic()
                if left <= 0 or not sel.select(left):
                    raise TimeoutError
                chunk = os.read(fd, 1 << 20)
                if not chunk:
                    raise TimeoutError if self._ended_by_timer() else EOFError
                buf += chunk
                if need is None and b"\n" in buf:
                    header, _, buf = buf.partition(b"\n")
                    status, size = header.split()
                    ok, need = status == b"OK", int(size)
        return ok, buf.decode("utf-8")

    def _ended_by_timer(self) -> bool:
        """Whether the worker, having closed its output, was ended by its CPU timer (SIGPROF)."""
        import signal
        import subprocess

        try:
            return self.proc.wait(timeout=5) == -signal.SIGPROF
        except subprocess.TimeoutExpired:
            return False


class JqPool:
    """Reuses a few idle workers; a worker that timed out or died is never reused."""

    def __init__(self) -> None:
        self._idle: list[JqWorker] = []
        self._lock = threading.Lock()
        os.register_at_fork(after_in_child=self._forget)

    def _forget(self) -> None:
        self._idle = []  # the children belong to the parent process
        self._lock = threading.Lock()

    def run(self, program: str, data: str, max_output: int, timeout: float) -> tuple[bool, str]:
        with self._lock:
            worker = self._idle.pop() if self._idle else None
        if worker is None or not worker.alive():
            worker = JqWorker()
        try:
            answer = worker.ask(program, data, max_output, timeout)
        except BaseException:
            worker.kill()
            raise
        with self._lock:
            if len(self._idle) < KEEP_IDLE:
                self._idle.append(worker)
                return answer
        worker.kill()
        return answer


POOL = JqPool()


def run_jq(value: object, program: object, limits: Limits) -> list[Any] | None:
    """Every result of ``program`` on ``value`` (None for a null input), within ``limits``."""
    if isinstance(value, Undefined):
        value._fail_with_undefined_error()
    if value is None:
        return None
    if not isinstance(program, str) or not program.strip():
        raise JqError("jq needs a program, like jq('.items[0].id')")
    if _MODULES.search(program):
        raise JqError("jq programs may not import or include modules")
    data = value if isinstance(value, str) else bounds.to_json(value, limits)
    bounds.check_text(len(data), limits, "the jq input")
    short = program if len(program) <= 60 else program[:59] + "…"
    with WATCHDOG.outside_python(limits.timeout) as seconds:
        try:
            ok, text = POOL.run(program, data, limits.max_output, seconds)
        except TimeoutError:
            raise JqError(f"jq('{short}') did not finish within the {limits.timeout:g} s an expression may take") from None
        except (EOFError, BrokenPipeError, OSError):
            raise JqError(f"jq('{short}') stopped: it ran out of memory or crashed") from None
    if not ok:
        raise JqError(f"jq('{short}') failed: {text}")
    return json_text.parse_json(text, limits, f"the result of jq('{short}')")


@pass_environment
def jq_filter(env: LannerEnvironment, value: object, expression: object = None) -> list[Any] | None:
    """``value | jq('.a.b')``: the list of results."""
    return run_jq(value, expression, env.limits)
