"""Execution and task-run states (Kestra's names) and the rules about them.

This is the one definition of which states are final: the executor, the store's
queries, the scheduler, the CLI and the UIs all read :data:`TERMINAL` (or
:attr:`State.terminal`), never a list of their own.
"""

from __future__ import annotations

from enum import StrEnum

_TERMINAL_NAMES = frozenset({"SUCCESS", "WARNING", "FAILED", "KILLED", "CANCELLED", "SKIPPED", "RETRIED"})


class State(StrEnum):
    #: Whether nothing leaves this state by itself (the run has ended).
    terminal: bool
    #: FAILED, KILLED, CANCELLED or RETRIED.
    failed: bool
    #: SUCCESS, WARNING or SKIPPED.
    successful: bool

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
    #: Ended by a retry with ``behavior: CREATE_NEW_EXECUTION``: a new execution runs the flow again.
    RETRIED = "RETRIED"
    CANCELLED = "CANCELLED"
    SKIPPED = "SKIPPED"

    def __init__(self, value: str) -> None:
        # Plain attributes set once per member, not properties: the executor reads them several
        # times for every task run.
        self.terminal = value in _TERMINAL_NAMES
        self.failed = value in ("FAILED", "KILLED", "CANCELLED", "RETRIED")
        self.successful = value in ("SUCCESS", "WARNING", "SKIPPED")


#: The states nothing leaves by itself (an execution or task run in one of them has ended).
#: A StrEnum hashes as its text, so ``"SUCCESS" in TERMINAL`` works on plain strings too.
TERMINAL: frozenset[State] = frozenset(s for s in State if s.terminal)
#: :data:`TERMINAL` as plain text, sorted (for SQL ``IN`` lists and JSON).
TERMINAL_NAMES: tuple[str, ...] = tuple(sorted(s.value for s in TERMINAL))


def is_terminal(state: str | None) -> bool:
    """Whether a state given as text (a summary's ``"state"``) has ended."""
    return state in TERMINAL


def worst(states: list[State]) -> State:
    """The state a container ends in given its children's terminal states."""
    found = set(states)
    if State.KILLED in found:
        return State.KILLED
    if State.FAILED in found or State.CANCELLED in found or State.RETRIED in found:
        return State.FAILED
    if State.WARNING in found:
        return State.WARNING
    return State.SUCCESS
