"""The runner's loop is the only writer of execution rows: a replay and new labels included.

Every SQL statement that inserts an execution or changes one (its state, labels,
outputs) is recorded with the thread that sent it, by a listener on the real
store's SQLAlchemy engine. A replay and a change of labels asked from this thread
(as the API and the builder ask them) must reach the database from the loop thread,
with the replay's copied task runs in the same transaction as its execution.
"""

from __future__ import annotations

import itertools
import threading
from typing import Any

from sqlalchemy import event

from engine.runtime.local import LocalRunner

FLOW = """
id: loop-writes
namespace: tests.loop
tasks:
  - {id: a, type: return, format: one}
  - {id: b, type: return, format: two}
"""
LOOP_THREAD = "lanner-executor"


class Writes:
    """(thread, statement, parameters, transaction) of every write to the executions and task_runs tables."""

    def __init__(self, runner: LocalRunner):
        self.seen: list[tuple[str, str, Any, int]] = []
        self._transactions = itertools.count()
        event.listen(runner.store.engine, "begin", self._begin)
        event.listen(runner.store.engine, "before_cursor_execute", self._record)

    def _begin(self, conn: Any) -> None:
        conn.info["transaction"] = next(self._transactions)

    def _record(self, conn: Any, _cursor: Any, statement: str, parameters: Any, _context: Any, _many: bool) -> None:
        text = " ".join(statement.split()).upper()
        if text.startswith(("INSERT INTO EXECUTIONS", "INSERT INTO TASK_RUNS")) or (
                text.startswith("UPDATE EXECUTIONS") and "STATE=" in text.replace(" ", "")):
            self.seen.append((threading.current_thread().name, text, parameters, conn.info.get("transaction", -1)))

    def of(self, execution_id: str, start: str = "") -> list[tuple[str, str, int]]:
        return [(thread, text, tx) for thread, text, params, tx in self.seen
                if execution_id in repr(params) and text.startswith(start)]


def test_replay_and_labels_are_written_by_the_loop(lanner_home):
    with LocalRunner(lanner_home, workers=2) as runner:
        flow = runner.deploy(FLOW)
        original = runner.wait(runner.start_execution(flow.namespace, flow.id), timeout=30)
        b_run = next(tr for tr in original["taskRuns"] if tr["taskId"] == "b")
        writes = Writes(runner)

        replay_id = runner.replay(original["id"], b_run["id"])
        replayed = runner.wait(replay_id, timeout=30)
        runner.set_labels(original["id"], {"reviewed": "yes"})

    assert replayed["state"] == "SUCCESS"
    assert [tr["outputs"]["value"] for tr in replayed["taskRuns"]] == ["one", "two"]
    inserted = writes.of(replay_id, "INSERT INTO EXECUTIONS")
    assert len(inserted) == 1, writes.of(replay_id)
    # Every write of the new execution and of its task runs came from the loop, none from this thread.
    assert {thread for thread, _, _ in writes.of(replay_id)} == {LOOP_THREAD}
    # The copy of task run "a" went in with the execution, in the same transaction.
    copies = writes.of(replay_id, "INSERT INTO TASK_RUNS")
    assert copies and copies[0][2] == inserted[0][2]
    labelled = writes.of(original["id"], "UPDATE EXECUTIONS")
    assert labelled and {thread for thread, _, _ in labelled} == {LOOP_THREAD}
    assert threading.current_thread().name != LOOP_THREAD
