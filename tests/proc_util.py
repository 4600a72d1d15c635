"""Helpers for tests that watch real processes."""

from __future__ import annotations


def alive(pid: int) -> bool:
    """Whether ``pid`` runs and is not a zombie (zombies are dead, only not reaped yet)."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as fh:
            return fh.read().rsplit(b")", 1)[1].split()[0] not in (b"Z", b"X")
    except OSError:
        return False
