"""The live view of ``lanner flow run``: task-run state changes and log lines, in the order they happened.

Each poll brings new log lines and a summary; what changed since the last poll
is printed merged by time, so a loop's children end before their parent and a
task's start comes before its logs. A log line names its task run as the state
lines do: ``w[alpha]`` inside a ``for_each``, not ``w``.
"""

from __future__ import annotations

from typing import Any

STATE_MARK = {"SUCCESS": "✔", "WARNING": "⚠", "FAILED": "✘", "KILLED": "✘", "SKIPPED": "↷", "RUNNING": "▶",
              "CREATED": "·", "RETRYING": "↻", "PAUSED": "⏸"}
TERMINAL = {"SUCCESS", "WARNING", "FAILED", "KILLED", "CANCELLED", "SKIPPED"}


def _label(task_id: str | None, run: dict[str, Any] | None) -> str:
    if not task_id:
        return "-"
    value = (run or {}).get("value")
    return f"{task_id}[{value}]" if value is not None else task_id


def _depth(run: dict[str, Any], runs: dict[str, dict[str, Any]]) -> int:
    depth, cur, seen = 0, run.get("parentTaskRunId"), set()
    while cur and cur in runs and cur not in seen:
        seen.add(cur)
        depth += 1
        cur = runs[cur].get("parentTaskRunId")
    return depth


class LiveView:
    """Remembers what was printed; :meth:`lines` gives what to print for one poll."""

    def __init__(self) -> None:
        self.seen: dict[str, str] = {}

    def lines(self, summary: dict[str, Any], logs: list[dict[str, Any]]) -> list[str]:
        """The lines for new ``logs`` and the state changes in ``summary``, oldest first.

        Read the logs before the summary: then every task run a log line names is in it.
        """
        runs = {tr["id"]: tr for tr in summary.get("taskRuns") or []}
        events: list[tuple[str, int, int, int, str]] = []
        for i, log in enumerate(logs):
            who = _label(log.get("taskId"), runs.get(log.get("taskRunId")))
            stamp = str(log.get("timestamp") or "")
            events.append((stamp, 1, 0, i, f"{stamp[11:23]} {log['level']:<5} {who}: {log['message']}"))
        for i, tr in enumerate(runs.values()):
            state = tr["state"]
            if self.seen.get(tr["id"]) == state:
                continue
            self.seen[tr["id"]] = state
            depth = _depth(tr, runs)
            line = f"{STATE_MARK.get(state, ' ')} {_label(tr['taskId'], tr)} {state}"
            if state in TERMINAL:  # after the logs of the same instant, children before parents
                events.append((str(tr.get("endDate") or ""), 2, -depth, i, line))
            else:  # before the logs of the same instant, parents before children
                events.append((str(tr.get("startDate") or ""), 0, depth, i, line))
        events.sort(key=lambda e: e[:4])
        return [e[4] for e in events]
