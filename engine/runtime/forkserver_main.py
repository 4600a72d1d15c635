"""The fork server program: a pre-started interpreter that forks once per Python script task.

Started by :mod:`engine.runtime.forkserver` as ``python forkserver_main.py FD
[MODULES]``; it imports only the standard library (plus the modules named in
MODULES), so what a task finds already imported is what a fresh interpreter
would import itself. Not ``threading``: its fork hook re-created its state in
every child, ~100 page faults (0.4 ms) a task; a script that starts threads
imports it itself. It never runs task code: every request is served by a
forked child, so no module state, working directory, environment variable,
signal handler or thread of one task can reach the next.

Requests come over the inherited ``AF_UNIX``/``SOCK_SEQPACKET`` socket FD, one
message each: a JSON object (program, args, cwd, and the task's environment as
its difference from the one the server started with: ``setenv``, ``unsetenv``) with four file
descriptors attached (stdin, stdout, stderr, and a status socket). On the
status socket the server writes the child's pid once forked, then its wait
status once it has ended (8-byte signed integers). When the server dies, the
status socket reaches end-of-file without a status: the client knows the task
was lost. When the client dies, the request socket reaches end-of-file: the
server kills its children's process groups and exits.

The child becomes what ``python PROGRAM ARGS...`` would be: its own process
group (set by both sides of the fork, like a shell does, so a kill can never
miss it), ``PR_SET_PDEATHSIG=SIGKILL`` towards the server, the signal
dispositions and mask the interpreter started with, the task's stdio,
directory, environment, ``sys.argv``, ``sys.path[0]`` and a fresh
``__main__`` module. At the end it does what interpreter shutdown does that a
script can observe (non-daemon threads joined, ``atexit`` functions run, the
script's globals released so unclosed files are flushed, stdio flushed) and
leaves with ``os._exit``: a full finalization would touch, and so copy, every
page shared with the server.

Differences from a fresh interpreter that a script may notice: modules the
server imported are already in ``sys.modules``, the string hash seed is the
server's (hash randomisation is per server, not per task), and
``sys.getrefcount`` shows the objects the server started with as immortal
(:class:`Immortalizer`).
"""

import _signal  # type: ignore[import-not-found]  # the C module: signal's wrappers make enums
import atexit
import builtins
import ctypes
import gc
import json
import os
import select
import signal
import socket
import struct
import sys
import time
import traceback
import types
from importlib.machinery import SourceFileLoader

#: Standard-library modules most scripts import and that read nothing from the environment at import.
#: Few on purpose: every preloaded page makes each fork and each exit a little dearer (measured:
#: ~30 modules cost ~1.5 ms more CPU per task than none), while a script that needs more imports them.
PRELOAD = ("collections", "datetime", "functools", "itertools", "json", "pathlib", "re", "typing")
_INT = struct.Struct("q")
_PR_SET_PDEATHSIG = 1
_SIGKILL = int(signal.SIGKILL)
_MAX_REQUEST = 1 << 20


def _prctl():
    try:
        prctl = ctypes.CDLL(None, use_errno=True).prctl
        prctl.argtypes = [ctypes.c_int, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong]
        prctl.restype = ctypes.c_int
        return prctl
    except (OSError, AttributeError):  # pragma: no cover - not Linux
        return None


class Server:
    def __init__(self, ctl_fd: int):
        self.ctl_fd = ctl_fd
        self.ctl = socket.socket(fileno=ctl_fd)
        self.children: dict[int, int] = {}  # pid -> status fd
        # What a fresh interpreter starts with, taken before anything here changes it.
        self.handlers = {}
        # Through _signal, the C module: signal's wrappers turn numbers into enums, which in a child
        # touched (and so copied) ~45 pages of the server's memory.
        for sig in _signal.valid_signals():
            try:
                self.handlers[int(sig)] = _signal.getsignal(sig)
            except (OSError, ValueError):  # pragma: no cover
                pass
        self.mask = _signal.pthread_sigmask(_signal.SIG_BLOCK, [])
        #: The handlers a child puts back (those the server changed), known once serve() has set its own.
        self.restore: list[tuple[int, object]] = []
        self.base_path = list(sys.path)
        self.tz = os.environ.get("TZ")
        self.prctl = _prctl()
        self.pid = os.getpid()
        self.wake_r, self.wake_w = os.pipe()
        os.set_blocking(self.wake_w, False)
        os.set_blocking(self.wake_r, False)
        self.immortalizer = Immortalizer([])

    def serve(self) -> None:
        signal.set_wakeup_fd(self.wake_w)
        signal.signal(signal.SIGCHLD, lambda *_: None)
        # Looked up once here: a getsignal() per signal in every child cost a quarter of a millisecond.
        self.restore = [(sig, h) for sig, h in self.handlers.items() if h is not None and _signal.getsignal(sig) != h]
        poller = select.poll()
        poller.register(self.ctl.fileno(), select.POLLIN)
        poller.register(self.wake_r, select.POLLIN)
        while True:
            ready = poller.poll(0 if self.immortalizer.pending else None)
            if not ready:
                self.immortalizer.step()  # idle: requests always come first
            for fd, _events in ready:
                if fd == self.wake_r:
                    self._drain_wakeups()
                    self._reap()
                elif not self._request():
                    self._shutdown()
                    return

    def _drain_wakeups(self) -> None:
        try:
            while os.read(self.wake_r, 4096):
                pass
        except BlockingIOError:
            pass

    def _reap(self) -> None:
        while self.children:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                return
            if pid == 0:
                return
            fd = self.children.pop(pid, None)
            if fd is not None:
                _write_int(fd, status)
                os.close(fd)

    def _request(self) -> bool:
        """Serve one request; False when the client is gone."""
        try:
            msg, fds, _flags, _addr = socket.recv_fds(self.ctl, _MAX_REQUEST, 4)
        except OSError:
            return False
        if not msg:
            for fd in fds:
                os.close(fd)
            return False
        if len(fds) != 4:
            for fd in fds:
                os.close(fd)
            return True
        try:
            request = json.loads(msg)
        except ValueError:
            for fd in fds:
                os.close(fd)
            return True
        status_fd = fds[3]
        pid = os.fork()
        if pid == 0:
            self._become_task(request, fds)  # never returns
        try:
            os.setpgid(pid, pid)
        except OSError:  # it already did (or already ended): either way the group is its own
            pass
        for fd in fds[:3]:
            os.close(fd)
        self.children[pid] = status_fd
        _write_int(status_fd, pid)
        return True

    def _shutdown(self) -> None:
        """The client is gone: nothing may outlive it."""
        for pid in list(self.children):
            try:
                os.killpg(pid, signal.SIGKILL)
            except OSError:
                pass

    # --- the child ---------------------------------------------------------------------------------

    def _become_task(self, request: dict, fds: list[int]) -> None:
        code = 1
        try:
            gc.callbacks.append(_note_collection)
            self._isolate(request, fds)
            code = _run_main(request["program"], request.get("args", []), self.base_path)
        except BaseException:  # noqa: BLE001 - set-up failed: say why, as an interpreter would
            try:
                traceback.print_exc()
            except BaseException:  # noqa: BLE001
                pass
        finally:
            os._exit(code)

    def _isolate(self, request: dict, fds: list[int]) -> None:
        _signal.set_wakeup_fd(-1)
        for sig, handler in self.restore:
            try:
                _signal.signal(sig, handler)
            except (OSError, ValueError, TypeError):
                pass
        _signal.pthread_sigmask(_signal.SIG_SETMASK, self.mask)
        try:
            os.setpgid(0, 0)
        except OSError:
            pass
        if self.prctl is not None:
            self.prctl(_PR_SET_PDEATHSIG, _SIGKILL, 0, 0, 0)
            if os.getppid() != self.pid:  # the server died before prctl: nobody would stop us
                os._exit(137)
        self.ctl.detach()
        for fd in (self.wake_r, self.wake_w, self.ctl_fd, fds[3], *self.children.values()):
            try:
                os.close(fd)
            except OSError:
                pass
        for target, fd in enumerate(fds[:3]):
            os.dup2(fd, target)
        for fd in set(fds[:3]):
            if fd > 2:
                os.close(fd)
        os.chdir(request["cwd"])
        # Only the difference from the server's environment travels: the task's is mostly Lanner's.
        environ = os.environ
        for name in request.get("unsetenv", ()):
            environ.pop(name, None)
        for name, value in request.get("setenv", {}).items():
            environ[name] = value
        if environ.get("TZ") != self.tz:
            time.tzset()


class Immortalizer:
    """Makes the objects the server started with immortal (PEP 683), a slice at a time while it is idle.

    A child shares the server's memory until either side writes to a page, and
    CPython writes to an object each time it takes or drops a reference to it
    (its reference count): a child's first use of a module, function or class
    copied the page holding it, ~4 µs a page, ~110 pages a task between the
    child and the server. The count of an immortal object is never written.
    The objects stay alive for good, as they would anyway in a server that
    lives as long as Lanner; ``sys.getrefcount`` shows them as immortal, as it
    does ``None`` or the interned strings of any interpreter. Done only where
    the object layout is the one this writes to, and checked on a probe first.
    """

    #: Objects per idle step (~1 ms).
    SLICE = 2000
    _COUNT = 0xFFFFFFFF  # the low 32 bits of ob_refcnt: negative as int32 means immortal (3.12 to 3.14)

    def __init__(self, objects: list[object]):
        self._todo = objects if objects and self.works() else []
        self._at = 0

    @classmethod
    def works(cls) -> bool:
        """A default CPython build whose objects begin with the reference count this writes, and a probe agrees."""
        if not (sys.implementation.name == "cpython" and (3, 12) <= sys.version_info[:2] <= (3, 14)
                and sys.byteorder == "little" and sys.maxsize > 2**32 and not set(sys.abiflags) & {"d", "t"}):
            return False
        probe = object()
        ctypes.c_uint32.from_address(id(probe)).value = cls._COUNT
        before = sys.getrefcount(probe)
        held = [probe, probe]
        return sys.getrefcount(held[0]) == before

    @property
    def pending(self) -> bool:
        return self._at < len(self._todo)

    def step(self) -> None:
        end = min(self._at + self.SLICE, len(self._todo))
        count, write, referents, tracked = self._COUNT, ctypes.c_uint32.from_address, gc.get_referents, gc.is_tracked
        for obj in self._todo[self._at:end]:
            write(id(obj)).value = count
            for ref in referents(obj):  # strings, numbers, code: not tracked by the collector, not listed
                if not tracked(ref):
                    write(id(ref)).value = count
        self._at = end
        if end == len(self._todo):
            self._todo, self._at = [], 0


def _replace_environ(env: dict[str, str]) -> None:
    """Make the process environment exactly ``env``, touching only the variables that differ."""
    current = os.environ
    for name in [k for k in current if k not in env]:
        del current[name]
    for name, value in env.items():
        if current.get(name) != value:
            current[name] = value


def _write_int(fd: int, value: int) -> None:
    try:
        os.write(fd, _INT.pack(value))
    except OSError:  # the client is gone
        pass


def _run_main(program: str, args: list[str], base_path: list[str]) -> int:
    """Run ``program`` as ``__main__`` like ``python program args...``; the exit code."""
    path = os.path.abspath(program)
    sys.argv = [program, *args]
    sys.orig_argv = [sys.executable, program, *args]
    sys.path[:] = [os.path.dirname(os.path.realpath(path)), *base_path]
    main = types.ModuleType("__main__")
    main.__dict__.update(
        __file__=path, __builtins__=builtins, __loader__=SourceFileLoader("__main__", path), __spec__=None, __cached__=None
    )
    sys.modules["__main__"] = main
    code = 0
    try:
        with open(path, "rb") as fh:
            source = fh.read()
        exec(compile(source, path, "exec", dont_inherit=True), main.__dict__)
    except SystemExit as exc:
        code = _exit_code(exc)
    except BaseException as exc:  # noqa: BLE001 - what the interpreter does with an uncaught exception
        tb = exc.__traceback__
        while tb is not None and tb.tb_frame.f_code.co_filename == __file__:
            tb = tb.tb_next  # our own frames are not the script's
        sys.excepthook(type(exc), exc.with_traceback(tb), tb)
        code = 130 if isinstance(exc, KeyboardInterrupt) else 1
    return _finish(main, code)


#: Set when a collection of generation 1 or 2 ran in this child (it may have moved the script's objects to the oldest).
_old_collections: list[int] = []


def _note_collection(phase: str, info: dict) -> None:
    if phase == "stop" and info.get("generation", 2) >= 1:
        _old_collections.append(1)


def _exit_code(exc: SystemExit) -> int:
    if exc.code is None:
        return 0
    if isinstance(exc.code, int):
        return exc.code & 0xFF
    try:
        print(exc.code, file=sys.stderr)
    except BaseException:  # noqa: BLE001
        pass
    return 1


def _finish(main: types.ModuleType, code: int) -> int:
    """What interpreter shutdown does that a script can see, without tearing the shared heap down."""
    threading = sys.modules.get("threading")  # imported by the script if it started threads
    if threading is not None:
        try:
            threading._shutdown()  # join non-daemon threads, as at exit
        except BaseException:  # noqa: BLE001
            pass
    try:
        atexit._run_exitfuncs()
    except BaseException:  # noqa: BLE001
        pass
    main.__dict__.clear()
    # The script's objects are young unless a collection of an older generation ran meanwhile: a young
    # collection then finds them all, and leaves alone the free lists a full one empties (touching, so
    # copying, pages shared with the server: 40 page faults, 0.15 ms a task).
    gc.collect(2 if _old_collections else 1)
    for stream in (sys.stdout, sys.stderr):
        try:
            if stream is not None:
                stream.flush()
        except BaseException:  # noqa: BLE001 - Python exits 120 when flushing stdout fails
            if stream is sys.stdout and code == 0:
                code = 120
    return code


def main() -> None:
    # This file's directory is not the task's: sys.path[0] is set per task.
    if sys.path and os.path.abspath(sys.path[0]) == os.path.dirname(os.path.abspath(__file__)):
        del sys.path[0]
    ctl_fd = int(sys.argv[1])
    modules = [m for m in (sys.argv[2] if len(sys.argv) > 2 else "").split(",") if m]
    server = Server(ctl_fd)
    started_with = dict(os.environ)
    for name in (*PRELOAD, *modules):
        try:
            __import__(name)
        except Exception as exc:  # noqa: BLE001 - a module that cannot load is only not preloaded
            print(f"lanner fork server: could not preload {name}: {exc}", file=sys.stderr)
    # A preloaded module may have set variables for itself: requests are differences from the start-up
    # environment, and a task importing that module in a fresh interpreter would set them itself.
    _replace_environ(started_with)
    # The first compile() of a process builds the ast module's ~120 node types (PyAST_Check): 2.5 ms
    # a task when each child did it; done once here, the children share them.
    exec(compile("pass", "<lanner warm-up>", "exec", dont_inherit=True), {})
    server.immortalizer = Immortalizer(gc.get_objects())  # before freeze(): frozen objects are not listed
    gc.freeze()  # children then leave the shared heap alone when they collect
    server.serve()


if __name__ == "__main__":
    main()
