"""Stop a worker's task process groups when the worker dies, even by SIGKILL.

PR_SET_PDEATHSIG kills only the *direct* child of the worker: a script's own
children (``subprocess.Popen``, a shell's ``cmd &``) are reparented to init and
would run on. Nothing inside a SIGKILLed process can clean up, so a tiny
watchdog process does it: the worker tells it, through a pipe, which process
groups it started and which ended; when the pipe reaches end-of-file (the
worker is gone, however it died) the watchdog SIGKILLs every group still
listed, and exits.

The watchdog is started on first use, one per worker process, in its own
session and deaf to SIGINT/SIGTERM/SIGHUP, so a Ctrl-C or a ``kill`` of the
worker's group does not take it down before it has done its job. Its pipe is
close-on-exec, so task processes never hold it open (a child made by a bare
``fork()`` without exec does, which delays the cleanup until it exits too).
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading

_SCRIPT = r"""
import os, signal, sys
for s in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
    signal.signal(s, signal.SIG_IGN)
groups = set()
for line in sys.stdin.buffer:
    try:
        op, pgid = line[:1], int(line[1:])
    except ValueError:
        continue
    if op == b"+":
        groups.add(pgid)
    elif op == b"-":
        groups.discard(pgid)
for pgid in groups:
    try:
        os.killpg(pgid, signal.SIGKILL)
    except OSError:
        pass
"""

_lock = threading.Lock()
_proc: subprocess.Popen[bytes] | None = None
_owner = 0  # pid of the process that started _proc (a fork must start its own)
_groups: set[int] = set()


def _send(line: str) -> None:
    global _proc, _owner
    for _ in range(2):
        try:
            if _proc is None or _owner != os.getpid() or _proc.poll() is not None:
                _proc = subprocess.Popen(
                    [sys.executable, "-c", _SCRIPT],
                    stdin=subprocess.PIPE,
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                    start_new_session=True,
                    close_fds=True,
                )
                _owner = os.getpid()
                if _groups:  # a restarted watchdog learns what the old one knew
                    assert _proc.stdin is not None
                    _proc.stdin.write("".join(f"+{g}\n" for g in _groups).encode())
            assert _proc.stdin is not None
            _proc.stdin.write(line.encode())
            _proc.stdin.flush()
            return
        except (BrokenPipeError, OSError, ValueError):  # cannot start or reach it: try once more
            _proc = None
    # Could not reach a watchdog: PR_SET_PDEATHSIG still covers the direct child.


def watch(pgid: int) -> None:
    """Kill process group ``pgid`` if this process dies before :func:`forget` is called."""
    if os.name != "posix":
        return
    with _lock:
        _groups.add(pgid)
        _send(f"+{pgid}\n")


def forget(pgid: int) -> None:
    """Group ``pgid`` has ended (or is someone else's now): never kill it."""
    with _lock:
        if pgid in _groups:
            _groups.discard(pgid)
            _send(f"-{pgid}\n")


def _after_fork() -> None:
    """A forked child starts afresh: its parent's groups are not its own, nor is the watchdog.

    This also runs in the child of every ``subprocess.Popen`` with a
    ``preexec_fn`` (run_process uses one), between fork and exec, while other
    threads of the parent may have held locks at the fork: so it touches no
    lock and no file object. The parent's watchdog handle is kept referenced
    (closing or collecting it would flush its buffer, which takes a lock).
    """
    global _lock, _proc, _groups
    _lock = threading.Lock()
    if _proc is not None:
        _inherited.append(_proc)
    _proc = None
    _groups = set()


#: Watchdog handles inherited through fork(): never closed in the child (see _after_fork).
_inherited: list[subprocess.Popen[bytes]] = []

if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork)
