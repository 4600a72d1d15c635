"""Several runner processes on one database: lease heartbeats and forwarded commands.

Each unfinished execution is run by the one process that holds its lease
(:mod:`engine.store.leases`). This module is what a runner does about it:

* a heartbeat thread renews this node's leases every ``ttl / 3`` seconds, takes
  the kill/resume commands other processes posted for what it holds
  (:mod:`engine.store.commands`), claims executions whose owner died when the
  runner recovers, and posts one :class:`~engine.runtime.events.LeaseTick` to the
  runner loop;
* on that tick, in the loop thread, the runner forgets executions another
  process has taken over (this one stalled past its lease), and notices child
  executions that ended without telling their parent (the child ran in another
  process, or the parent's process died before it heard): the parent gets the
  :class:`~engine.runtime.events.ChildEnded` it missed (the executor ignores
  duplicates);
* a kill or resume for an execution this process does not hold is written to the
  command table for its owner (:meth:`Cluster.forward`).

A claimed execution is recovered exactly like ``LocalRunner(recover=True)``
does: lost attempts are retried per the task's ``retry``. A node id that stays
the same across restarts (``LANNER_NODE_ID``, e.g. host and port of a server)
lets a restarted process reclaim its own executions at once, without waiting
for the lease to expire. Two live processes must never share a node id.

Worker results reach the owner because workers report to the process that
dispatched them (thread pool callbacks, Dask futures). Scheduler ticks fire once
in total through the unique firing row (``engine/store/triggers.py``).

Everything here talks to the runner through :class:`ClusterRunner`: it posts
events and asks which executions the runner holds; it never reaches into the
runner's state.
"""

from __future__ import annotations

import os
import threading
import uuid
from typing import TYPE_CHECKING, Protocol

from engine.runtime.events import ChildEnded, Event, Kill, LeaseTick, Recover, Resume
from engine.store import commands
from engine.store.leases import DEFAULT_TTL, LeaseStore

if TYPE_CHECKING:
    from engine.store.sql import SqlStore


class ClusterRunner(Protocol):
    """What the cluster logic needs from a runner (the ``held``/``forget``/``waiting`` calls run on its loop thread)."""

    def post(self, event: Event) -> None: ...

    def held_executions(self) -> list[str]: ...

    def forget(self, execution_id: str) -> None: ...

    def waiting_children(self) -> dict[str, tuple[str, str]]: ...


def default_node_id() -> str:
    """LANNER_NODE_ID when set (stable across restarts), else host, pid and a random suffix."""
    return os.environ.get("LANNER_NODE_ID") or f"{_hostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"


def _hostname() -> str:
    """The host's name; ``os.uname`` gives what ``socket.gethostname`` does without importing sockets."""
    if hasattr(os, "uname"):
        return os.uname().nodename
    import socket  # pragma: no cover - Windows

    return socket.gethostname()


def command_event(command: commands.Command) -> Kill | Resume:
    """The loop event a stored command stands for (what ``LocalRunner.kill``/``resume`` post)."""
    if command.kind == "resume":
        return Resume(command.execution_id, command.payload.get("taskRunId"), command.payload.get("inputs"))
    return Kill(command.execution_id)


class Cluster:
    """The lease heartbeat and command forwarding of one runner process."""

    def __init__(self, runner: ClusterRunner, store: SqlStore, node_id: str | None = None, ttl: float = DEFAULT_TTL):
        self.runner = runner
        self.store = store
        self.leases = LeaseStore(store, node_id or default_node_id(), ttl)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def owner(self) -> str:
        return self.leases.owner

    def owns(self, execution_id: str) -> bool:
        return self.leases.owns(execution_id)

    def claim_unfinished(self, *, steal: bool) -> list[str]:
        """At start: the unfinished executions this process should recover (every one when ``steal``,
        the embedded single-process mode; else those nobody holds and its own from before a restart)."""
        return self.leases.claim(steal=steal)

    # --- the heartbeat (its own thread) -----------------------------------------------------------

    def start(self, *, recover: bool, interval: float | None = None) -> None:
        """Beat every ``ttl/3`` s; claim executions whose owner died when ``recover``."""
        period = interval or max(0.2, self.leases.ttl / 3)

        def loop() -> None:
            while not self._stop.wait(period):
                try:
                    self.beat(recover=recover)
                except Exception as exc:  # noqa: BLE001 - database away: retry on the next beat
                    print(f"lanner: lease heartbeat failed, retrying: {type(exc).__name__}: {exc}".splitlines()[0], flush=True)

        self._thread = threading.Thread(target=loop, name="lanner-leases", daemon=True)
        self._thread.start()

    def beat(self, *, recover: bool) -> None:
        """One heartbeat: renew, take posted commands, claim orphans, tell the loop."""
        owned = self.leases.renew()
        posted = tuple(command_event(c) for c in commands.take(self.store, self.owner))
        if recover:
            for ex_id in self.leases.claim(mine=False):
                if ex_id in owned:
                    continue  # already ours and running here: recovering it would run it twice
                owned.add(ex_id)
                self.runner.post(Recover(ex_id))
        self.runner.post(LeaseTick(frozenset(owned), posted))

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def release(self) -> None:
        """Give up every lease (clean shutdown), so others take over at once."""
        self.leases.release()

    # --- in the runner's loop thread --------------------------------------------------------------

    def on_tick(self, tick: LeaseTick) -> None:
        """Hand over posted commands, forget what another process took over, wake parents of ended children."""
        for event in tick.commands:
            self.runner.post(event)
        candidates = [i for i in self.runner.held_executions() if i not in tick.owned]
        for ex_id in self.leases.foreign(candidates):
            self.runner.forget(ex_id)
        skipped = set(candidates)
        waiting = {child: parent for child, parent in self.runner.waiting_children().items() if parent[0] not in skipped}
        for child_id in self.store.ended_among(waiting):
            summary = self.store.summary(child_id)
            if summary is not None:
                parent_id, task_run_id = waiting[child_id]
                self.runner.post(ChildEnded(parent_id, task_run_id, summary))

    def forward(self, event: Kill | Resume) -> bool:
        """A kill/resume of an execution this process does not hold: queue it for the owner.

        Returns False (nothing queued) when the execution does not exist or has ended.
        """
        ex = self.store.get_execution(event.execution_id)
        if ex is None or ex.state.terminal:
            return False
        match event:
            case Resume(execution_id=ex_id, task_run_id=tr_id, inputs=inputs):
                commands.post(self.store, ex_id, "resume", {"taskRunId": tr_id, "inputs": inputs})
            case Kill(execution_id=ex_id):
                commands.post(self.store, ex_id, "kill")
        return True

    def take_over(self, execution_id: str) -> None:
        """Own an execution before it becomes unfinished again (a restart), so no other runner
        (or this one's heartbeat) recovers it while it runs here."""
        self.leases.take(execution_id)
