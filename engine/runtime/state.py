"""Execution and task-run states (Kestra's names) and the rules about them."""

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


TERMINAL = frozenset(
    {State.SUCCESS, State.WARNING, State.FAILED, State.KILLED, State.CANCELLED, State.SKIPPED}
)


def worst(states: list[State]) -> State:
    """The state a container ends in given its children's terminal states."""
    if any(s == State.KILLED for s in states):
        return State.KILLED
    if any(s in (State.FAILED, State.CANCELLED) for s in states):
        return State.FAILED
    if any(s == State.WARNING for s in states):
        return State.WARNING
    return State.SUCCESS
