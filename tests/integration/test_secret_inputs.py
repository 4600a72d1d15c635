"""SECRET inputs (Kestra's ``type: SECRET``): tasks get the real value, nothing else shows it.

Real engines on a temporary LANNER_HOME: the summary's inputs read the mask (also
from a new engine on the same home, the way a restarted server reads them), log
lines of tasks printing the value are masked (also in an execution recovered by a
new engine), subflows receive the value, and ``lanner flow run --json`` prints it
masked. That the task itself had the real value shows in a digest it outputs.
"""

from __future__ import annotations

import json
import subprocess
import time
from collections.abc import Iterator
from hashlib import sha256
from pathlib import Path
from textwrap import dedent

import pytest

from engine.local_engine import LocalEngine
from engine.model.state import State
from engine.runtime.masking import MASK

PASSWORD = "s3cr3t-input-value-4711"
DIGEST = sha256(PASSWORD.encode()).hexdigest()

SCRIPT_FLOW = dedent("""
    id: login
    namespace: sec.inputs
    inputs:
      - {id: password, type: SECRET}
      - {id: user, type: STRING}
    tasks:
      - {id: say, type: log, message: "logging in {{ inputs.user }} with {{ inputs.password }}"}
      - id: script
        type: python
        script: |
          import hashlib
          secret = "{{ inputs.password }}"
          print("the script sees", secret)
          print('::{"outputs": {"sha": "' + hashlib.sha256(secret.encode()).hexdigest() + '"}}::')
""")


@pytest.fixture
def engine(lanner_home: Path) -> Iterator[LocalEngine]:
    e = LocalEngine(home=lanner_home, workers=2)
    yield e
    e.close()


def messages(engine: LocalEngine, execution_id: str) -> list[str]:
    return [line.message for line in engine.logs(execution_id)]


def test_a_script_gets_the_value_while_summary_and_logs_mask_it_also_after_a_restart(lanner_home: Path) -> None:
    first = LocalEngine(home=lanner_home, workers=2)
    try:
        first.deploy(SCRIPT_FLOW)
        done = first.wait(first.start("sec.inputs", "login", {"password": PASSWORD, "user": "ann"}), timeout=60)
        assert done.state == State.SUCCESS, messages(first, done.id)
        assert done.inputs == {"password": MASK, "user": "ann"}
        assert next(tr for tr in done.task_runs if tr.task_id == "script").outputs["vars"] == {"sha": DIGEST}
        lines = messages(first, done.id)
        assert f"logging in ann with {MASK}" in lines and f"the script sees {MASK}" in lines
        assert not any(PASSWORD in line for line in lines)
    finally:
        first.close()
    again = LocalEngine(home=lanner_home, workers=2)  # a new process's engine: nothing remembered in memory
    try:
        summary = again.summary(done.id)
        assert summary is not None and summary.inputs == {"password": MASK, "user": "ann"}
        assert again.search_executions(namespace="sec.inputs").results[0].inputs == {"password": MASK, "user": "ann"}
        assert PASSWORD not in json.dumps([summary.to_dict(), messages(again, done.id)])
    finally:
        again.close()


def test_an_execution_resumed_by_a_new_engine_masks_the_value_in_its_next_logs(lanner_home: Path) -> None:
    source = dedent("""
        id: approve
        namespace: sec.inputs
        inputs:
          - {id: password, type: SECRET}
        tasks:
          - {id: wait, type: pause}
          - {id: after, type: log, message: "resumed with {{ inputs.password }}"}
          - {id: digest, type: return, format: "{{ inputs.password | sha256 }}"}
    """)
    first = LocalEngine(home=lanner_home, workers=2)
    try:
        first.deploy(source)
        ex_id = first.start("sec.inputs", "approve", {"password": PASSWORD})
        deadline = time.monotonic() + 30
        while first.summary_of(ex_id).state != State.PAUSED:
            assert time.monotonic() < deadline, first.summary_of(ex_id).state
            time.sleep(0.05)
    finally:
        first.close()
    again = LocalEngine(home=lanner_home, workers=2)  # loads the paused execution from the store
    try:
        again.resume(ex_id)
        done = again.wait(ex_id, timeout=60)
        assert done.state == State.SUCCESS and done.inputs == {"password": MASK}
        assert f"resumed with {MASK}" in messages(again, ex_id)
        assert next(tr for tr in done.task_runs if tr.task_id == "digest").outputs == {"value": DIGEST}
    finally:
        again.close()


def test_a_restarted_execution_masks_the_value_again(engine: LocalEngine) -> None:
    engine.deploy(dedent("""
        id: gate
        namespace: sec.inputs
        inputs:
          - {id: password, type: SECRET}
        tasks:
          - {id: gate, type: fail, condition: "{{ kv('go', errorOnMissing=false) != 'ok' }}", message: not yet}
          - {id: after, type: log, message: "restarted with {{ inputs.password }}"}
    """))
    failed = engine.wait(engine.start("sec.inputs", "gate", {"password": PASSWORD}), timeout=60)
    assert failed.state == State.FAILED  # ended: its values are no longer held by the masker
    engine.kv_put("sec.inputs", "go", "ok")
    engine.restart(failed.id)
    done = engine.wait(failed.id, timeout=60)
    assert done.state == State.SUCCESS and done.inputs == {"password": MASK}
    assert f"restarted with {MASK}" in messages(engine, failed.id)


def test_a_subflow_receives_the_value_and_masks_it_when_it_declares_it_secret(engine: LocalEngine) -> None:
    for flow_id, kind in (("secret-child", "SECRET"), ("string-child", "STRING")):
        engine.deploy(dedent(f"""
            id: {flow_id}
            namespace: sec.inputs
            inputs:
              - {{id: token, type: {kind}}}
            tasks:
              - {{id: say, type: log, message: "child got {{{{ inputs.token }}}}"}}
              - {{id: digest, type: return, format: "{{{{ inputs.token | sha256 }}}}"}}
        """))
    engine.deploy(dedent("""
        id: parent
        namespace: sec.inputs
        inputs:
          - {id: password, type: SECRET}
        tasks:
          - {id: secret_child, type: subflow, namespace: sec.inputs, flowId: secret-child, inputs: {token: "{{ inputs.password }}"}}
          - {id: string_child, type: subflow, namespace: sec.inputs, flowId: string-child, inputs: {token: "{{ inputs.password }}"}}
    """))
    parent = engine.wait(engine.start("sec.inputs", "parent", {"password": PASSWORD}), timeout=60)
    assert parent.state == State.SUCCESS and parent.inputs == {"password": MASK}
    assert not any("masked" in line for line in messages(engine, parent.id))  # no "receives it masked" warning
    children = {tr.task_id: engine.summary_of(tr.outputs["executionId"]) for tr in parent.task_runs}
    for child in children.values():
        assert child.state == State.SUCCESS
        assert next(tr for tr in child.task_runs if tr.task_id == "digest").outputs == {"value": DIGEST}  # the real value
        assert messages(engine, child.id) == [f"child got {MASK}"]  # masked while the parent ran
    assert children["secret_child"].inputs == {"token": MASK}
    assert children["string_child"].inputs == {"token": PASSWORD}  # its own declaration says STRING: shown, as in Kestra


def test_flow_run_json_prints_the_summary_masked(lanner_cmd: list[str], cli_env: dict[str, str], tmp_path: Path) -> None:
    f = tmp_path / "login.yaml"
    f.write_text(SCRIPT_FLOW)
    res = subprocess.run([*lanner_cmd, "flow", "run", str(f), "--input", f"password={PASSWORD}", "--input", "user=bob", "--json"],
                         env=cli_env, capture_output=True, text=True, timeout=120)
    assert res.returncode == 0, res.stderr
    summary = json.loads(res.stdout)
    assert summary["inputs"] == {"password": MASK, "user": "bob"}
    assert next(tr for tr in summary["taskRuns"] if tr["taskId"] == "script")["outputs"]["vars"] == {"sha": DIGEST}
    assert f"logging in bob with {MASK}" in res.stderr and PASSWORD not in res.stdout + res.stderr
