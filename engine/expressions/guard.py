"""A processor-time budget for code running in the calling thread.

The budget counts the CPU time of the rendering thread (its own thread clock),
not the wall clock: on a busy machine (a CI runner with two cores running the
test suite with several workers, a server running many flows) a thread waits
for a core or for the GIL, and a legitimate template must not fail because of
what else the machine does. A runaway template burns CPU, so its clock runs
and it is stopped all the same. Waiting for runtime-supplied functions
(``secret()`` reading a vault, ``kv()`` asking the database) or for the jq
worker process costs the render no budget; jq's own CPU is bounded by the same
budget in its process (:mod:`.jq_worker`).

Why not a generator that checks the clock between output chunks? Because a
template can loop for hours without writing anything (nested ``for`` loops with
an empty body). Why not ``sys.settrace``? It slows every render several times.

Instead one daemon *watchdog* thread per process keeps the deadlines of the
renders in progress, reads the CPU clock of each rendering thread, and when a
render's budget is spent raises :class:`RenderTimeout` inside
the rendering thread with ``PyThreadState_SetAsyncExc``. The interpreter
delivers it at the next bytecode boundary, so pure-Python loops (which is all a
template can run: every C-level operation on large values is bounded by the
size limits) stop within one polling interval after the deadline.

Two details make this safe:

* ``RenderTimeout`` derives from ``BaseException`` so ``except Exception`` in
  filters or in Jinja does not swallow it;
* a deadline that fired is *cleared* under the watchdog's lock when the render
  finishes, so a late timeout can never escape into the caller's code. Calls
  into runtime-supplied functions (``secret()``, ``read()``) are marked
  external: the watchdog waits for them to return instead of interrupting
  them half-way, and the render stops right after;
* the watchdog reads a thread's CPU clock only under its lock while the
  render's deadline is active, and a render ends its deadline (under the same
  lock) before its thread can end, so the clock always belongs to a live thread.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import ParamSpec, TypeVar

from jinja2 import pass_context

from engine.expressions.lite import CONTEXT_MARK

_P = ParamSpec("_P")
_R = TypeVar("_R")

#: How often the watchdog looks at the deadlines (seconds).
POLL_INTERVAL = 0.02
#: Polls without a render after which the watchdog sleeps until the next one. While renders
#: keep coming (a runner rendering thousands of task runs) it keeps polling instead of being
#: woken, so a render does not pay for waking a thread.
IDLE_POLLS = 50
#: Whether another thread's CPU clock can be read (Linux, the BSDs); elsewhere (macOS) the
#: budget falls back to the wall clock, which a busy machine stretches.
PER_THREAD_CLOCK = hasattr(time, "pthread_getcpuclockid")
#: The clock a render's budget is counted on, read in the rendering thread itself.
_clock = time.thread_time if PER_THREAD_CLOCK else time.monotonic


class RenderTimeout(BaseException):  # noqa: N818 - raised asynchronously; not an error class callers catch
    """Raised inside a rendering thread whose deadline passed."""


def _async_raise(thread_id: int, exc: type[BaseException] | None) -> None:
    """Schedule ``exc`` in thread ``thread_id`` (``None`` clears a pending one)."""
    import ctypes  # only once a render overruns: most processes never need it

    ctypes.pythonapi.PyThreadState_SetAsyncExc(
        ctypes.c_ulong(thread_id), ctypes.py_object(exc) if exc is not None else None
    )


class Deadline:
    """One guarded run: which thread, until which reading of its CPU clock, and whether it was interrupted."""

    __slots__ = ("thread_id", "expires", "done", "fired", "external", "overdue", "clock")

    def __init__(self, thread_id: int, expires: float):
        self.thread_id = thread_id
        #: The reading of the thread's CPU clock (``time.thread_time()``) at which the budget is spent.
        self.expires = expires
        self.done = False
        self.fired = False
        self.external = 0  # > 0 while a runtime-supplied function runs
        #: Set by the watchdog when the budget is spent while a runtime-supplied function runs.
        self.overdue = False
        self.clock: int | None = None  # the thread's CPU clock id, looked up by the watchdog

    def enter_external(self) -> None:
        # Checked here too: calls in a tight loop leave the watchdog gaps
        # shorter than its polling interval, so it might never see one.
        if self.overdue:
            self.fired = True  # finish() clears a timeout the watchdog raced to send
            raise RenderTimeout
        self.external += 1

    def spent(self) -> bool:
        """Whether the thread's CPU clock passed the budget; only the watchdog calls it, under its lock."""
        if not PER_THREAD_CLOCK:
            return time.monotonic() >= self.expires
        try:
            if self.clock is None:
                self.clock = time.pthread_getcpuclockid(self.thread_id)
            return time.clock_gettime(self.clock) >= self.expires
        except OSError:  # cannot happen while the render runs (see above); never let it stop the watchdog
            return False


class Watchdog:
    """Raises :class:`RenderTimeout` in threads whose CPU-time budget is spent."""

    def __init__(self, poll: float = POLL_INTERVAL):
        self._poll = poll
        self._lock = threading.Lock()
        self._active: dict[int, Deadline] = {}
        self._by_thread: dict[int, Deadline] = {}
        self._wake = threading.Event()
        self._idle = False
        self._starts = 0  # renders started so far (the watchdog sleeps after IDLE_POLLS polls without one)
        self._thread: threading.Thread | None = None

    def start(self, timeout: float) -> Deadline:
        """Begin a guarded run of at most ``timeout`` seconds of CPU time in the calling thread."""
        deadline = Deadline(threading.get_ident(), _clock() + timeout)
        if self._thread is None:  # first use, or first in a forked child (_after_fork)
            self._spawn()
        with self._lock:
            self._active[id(deadline)] = deadline
            self._by_thread[deadline.thread_id] = deadline
            self._starts += 1
        if self._idle and not self._wake.is_set():
            # Woken once: until the watchdog thread gets the GIL, the renders that follow need not
            # set the event again (each set takes a lock and notifies).
            self._wake.set()
        return deadline

    def finish(self, deadline: Deadline) -> bool:
        """End a guarded run; True when its deadline fired.

        A pending ``RenderTimeout`` is either raised while this runs (the
        caller catches it like any other) or cleared here, never later.
        """
        with self._lock:
            deadline.done = True
            self._active.pop(id(deadline), None)
            if self._by_thread.get(deadline.thread_id) is deadline:
                del self._by_thread[deadline.thread_id]
            fired = deadline.fired
        if fired:
            _async_raise(deadline.thread_id, None)
        return fired

    @contextmanager
    def outside_python(self, default: float) -> Iterator[float]:
        """Run C code (jq, a regex) that the watchdog cannot interrupt; yields the CPU seconds left.

        The watchdog leaves the calling render alone meanwhile, so the C code
        itself must be bounded by the seconds yielded (``default`` outside a
        render). A render whose time is already up stops here.
        """
        deadline = self._by_thread.get(threading.get_ident())
        if deadline is None:
            yield default
            return
        left = deadline.expires - _clock()
        if left <= 0:
            deadline.fired = True
            raise RenderTimeout
        deadline.external += 1
        try:
            yield left
        finally:
            deadline.external -= 1

    @contextmanager
    def not_counted(self) -> Iterator[None]:
        """One-time work of a library (loading holiday calendars) that is not the template's cost.

        The watchdog leaves the render alone meanwhile and the render's
        deadline moves forward by the CPU time spent.
        """
        deadline = self._by_thread.get(threading.get_ident())
        if deadline is None:
            yield
            return
        start = _clock()
        deadline.external += 1
        try:
            yield
        finally:
            with self._lock:
                deadline.expires += _clock() - start
                deadline.overdue = False  # the watchdog looks again against the moved deadline
            deadline.external -= 1

    def shield(self, fn: Callable[_P, _R]) -> Callable[_P, _R]:
        """Wrap ``fn`` so the watchdog never interrupts it half-way (it waits for the call to return).

        The wrapper finds the calling thread's render when called, so one
        wrapper serves every render. It is a closure: templates see no
        attribute of ``fn`` (a ``functools.partial``'s ``func`` for example);
        only Jinja's ``pass_context`` mark is copied (or made from :func:`.lite.pass_context`'s).
        """
        by_thread = self._by_thread

        def call(*args: _P.args, **kwargs: _P.kwargs) -> _R:
            deadline = by_thread.get(threading.get_ident())
            if deadline is None:
                return fn(*args, **kwargs)
            deadline.enter_external()
            try:
                return fn(*args, **kwargs)
            finally:
                deadline.external -= 1

        mark = getattr(fn, "jinja_pass_arg", None)
        if mark is not None:
            call.jinja_pass_arg = mark  # type: ignore[attr-defined]
        elif getattr(fn, CONTEXT_MARK, False):  # marked without Jinja (lite.pass_context)
            pass_context(call)
        return call

    def _spawn(self) -> None:
        with self._lock:
            if self._thread is not None and self._thread.is_alive():
                return
            self._thread = threading.Thread(target=self._loop, name="lanner-expr-watchdog", daemon=True)
            self._thread.start()

    def _loop(self) -> None:
        quiet, seen = 0, self._starts
        while True:
            if self._active or self._starts != seen:
                quiet, seen = 0, self._starts
            elif (quiet := quiet + 1) >= IDLE_POLLS:
                self._idle = True
                if not self._active:  # re-check: start() may have run in between
                    self._wake.wait()
                self._wake.clear()
                self._idle = False
                quiet, seen = 0, self._starts
            time.sleep(self._poll)
            with self._lock:
                for deadline in list(self._active.values()):
                    if deadline.done or deadline.fired or not deadline.spent():
                        continue
                    if deadline.external:
                        deadline.overdue = True  # the render stops at its next runtime call or after this one
                        continue
                    deadline.fired = True
                    self._active.pop(id(deadline), None)
                    _async_raise(deadline.thread_id, RenderTimeout)

    def _after_fork(self) -> None:
        # The thread does not survive fork() and the lock may have been held.
        self._lock = threading.Lock()
        self._active = {}
        self._by_thread = {}
        self._wake = threading.Event()
        self._idle = False
        self._thread = None


#: The process-wide watchdog (one daemon thread, started on first use).
WATCHDOG = Watchdog()
os.register_at_fork(after_in_child=WATCHDOG._after_fork)
