"""``wait_ended`` for an execution another runner runs: answered from the store, no summary built.

The live view of ``lanner flow run`` waits between its own polls with it; a runner
that does not run the execution itself (a second server on the same store) polls
the execution's state, and says when it does not exist.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from engine.local_engine import LocalEngine
from engine.runtime.local import LocalRunner
from engine.service import NotFound

FLOW = """
id: napping
namespace: wait.ended
tasks:
  - {id: nap, type: sleep, duration: PT1S}
"""


def test_a_runner_answers_for_an_execution_another_runner_runs(tmp_path: Path) -> None:
    with LocalRunner(tmp_path) as running, LocalRunner(tmp_path) as watching:
        flow = running.deploy(FLOW)
        ex_id = running.start_execution(flow.namespace, flow.id)
        assert watching.wait_ended(ex_id, 0.2) is False  # still sleeping
        assert watching.wait_ended(ex_id, 30) is True
        assert running.wait(ex_id, timeout=5)["state"] == "SUCCESS"
        with pytest.raises(KeyError):
            watching.wait_ended("no-such-execution", 0.1)
    engine = LocalEngine(home=tmp_path)
    try:
        assert engine.wait_ended(ex_id, 0) is True  # ended before this engine opened the store
        with pytest.raises(NotFound):
            engine.wait_ended("no-such-execution", 0)
    finally:
        engine.close()
