"""Execution and task-run states (Kestra's names) and the rules about them.

This is the one definition of which states are final: the executor, the store's
queries, the scheduler, the CLI and the UIs all read :data:`TERMINAL` (or
:attr:`State.terminal`), never a list of their own.
"""

from __future__ import annotations

from enum import StrEnum


class State(StrEnum):
    CREATED = "CREATED"
    QUEUED = "QUEUED"
    RUNNING = "RUNNING"
    PAUSED = "PAUSED"
    SUCCESS = "SUCCESS"
    WARNING = "WARNING"
    FAILED = "FAILED"
    KILLING = "KILLING"
    KILLED = "KILLED"
    RETRYING = "RETRYING"
    RESTARTED = "RESTARTED"
    CANCELLED = "CANCELLED"
    SKIPPED = "SKIPPED"

    @property
    def terminal(self) -> bool:
        return self in TERMINAL

    @property
    def failed(self) -> bool:
        return self in (State.FAILED, State.KILLED, State.CANCELLED)

    @property
    def successful(self) -> bool:
        return self in (State.SUCCESS, State.WARNING, State.SKIPPED)


#: The states nothing leaves by itself (an execution or task run in one of them has ended).
#: A StrEnum hashes as its text, so ``"SUCCESS" in TERMINAL`` works on plain strings too.
TERMINAL: frozenset[State] = frozenset(
    {State.SUCCESS, State.WARNING, State.FAILED, State.KILLED, State.CANCELLED, State.SKIPPED}
)
#: :data:`TERMINAL` as plain text, sorted (for SQL ``IN`` lists and JSON).
TERMINAL_NAMES: tuple[str, ...] = tuple(sorted(s.value for s in TERMINAL))


def is_terminal(state: str | None) -> bool:
    """Whether a state given as text (a summary's ``"state"``) has ended."""
    return state in TERMINAL


def worst(states: list[State]) -> State:
    """The state a container ends in given its children's terminal states."""
    if any(s == State.KILLED for s in states):
        return State.KILLED
    if any(s in (State.FAILED, State.CANCELLED) for s in states):
        return State.FAILED
    if any(s == State.WARNING for s in states):
        return State.WARNING
    return State.SUCCESS
