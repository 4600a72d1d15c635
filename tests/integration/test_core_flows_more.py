"""More end-to-end runs: retry variants, subflow options, commands forms, afterExecution."""

from __future__ import annotations

import time
from textwrap import dedent


def run(runner, yaml_text, inputs=None, timeout=60):
    return runner.run(dedent(yaml_text), inputs or {}, timeout=timeout)


def task_runs(s, task_id):
    return [tr for tr in s["taskRuns"] if tr["taskId"] == task_id]


def test_random_retry_and_max_duration(runner):
    s = run(runner, """
        id: rnd
        namespace: test.more
        tasks:
          - id: r
            type: fail
            retry: {type: random, minInterval: PT0.01S, maxInterval: PT0.05S, maxAttempts: 4}
    """)
    assert s["state"] == "FAILED" and len(task_runs(s, "r")[0]["attempts"]) == 4
    started = time.monotonic()
    s = run(runner, """
        id: dur
        namespace: test.more
        tasks:
          - id: r
            type: fail
            retry: {type: constant, interval: PT0.3S, maxDuration: PT1S}
    """)
    attempts = task_runs(s, "r")[0]["attempts"]
    assert s["state"] == "FAILED"
    assert 2 <= len(attempts) <= 5, attempts
    assert time.monotonic() - started < 5


def test_subflow_no_wait_and_no_transmit(runner):
    runner.deploy(dedent("""
        id: failing-child
        namespace: test.more
        tasks:
          - {id: wait, type: sleep, duration: PT0.3S}
          - {id: boom, type: fail}
    """))
    s = run(runner, """
        id: fire-and-forget
        namespace: test.more
        tasks:
          - {id: call, type: subflow, namespace: test.more, flowId: failing-child, wait: false}
    """)
    assert s["state"] == "SUCCESS"
    child_id = task_runs(s, "call")[0]["outputs"]["executionId"]
    assert runner.wait(child_id, timeout=30)["state"] == "FAILED"
    s = run(runner, """
        id: tolerant
        namespace: test.more
        tasks:
          - {id: call, type: subflow, namespace: test.more, flowId: failing-child, transmitFailed: false}
          - {id: after, type: log, message: went on}
    """)
    assert s["state"] == "SUCCESS"
    assert task_runs(s, "call")[0]["outputs"]["state"] == "FAILED"


def test_for_each_over_previous_output(runner):
    s = run(runner, """
        id: dynamic
        namespace: test.more
        tasks:
          - id: list
            type: return
            format: "{{ ['x', 'y', 'z'] }}"
          - id: each
            type: for_each
            values: "{{ outputs.list.value }}"
            concurrencyLimit: 0
            tasks:
              - {id: up, type: return, format: "{{ taskrun.value | upper }}"}
    """)
    assert s["state"] == "SUCCESS"
    assert sorted(tr["outputs"]["value"] for tr in task_runs(s, "up")) == ["X", "Y", "Z"]


def test_commands_forms_env_before_commands_and_process_runner(runner):
    s = run(runner, """
        id: cmds
        namespace: test.more
        tasks:
          - id: py
            type: io.kestra.plugin.scripts.python.Commands
            taskRunner: {type: io.kestra.plugin.core.runner.Process}
            beforeCommands: ["export EXTRA=before"]
            env: {GREETING: "hi {{ flow.id }}"}
            inputFiles:
              main.py: |
                import os, json
                print("::" + json.dumps({"outputs": {"g": os.environ["GREETING"], "e": os.environ["EXTRA"]}}) + "::")
            commands: ["python main.py"]
          - id: bash
            type: io.kestra.core.tasks.scripts.Bash
            commands: ["echo to-stderr >&2"]
    """)
    assert s["state"] == "WARNING"  # warningOnStdErr is true by default, as in Kestra
    assert task_runs(s, "py")[0]["outputs"]["vars"] == {"g": "hi cmds", "e": "before"}
    assert task_runs(s, "bash")[0]["state"] == "WARNING"


def test_after_execution_sees_final_state(runner):
    s = run(runner, """
        id: after
        namespace: test.more
        tasks:
          - {id: a, type: log, message: main}
        afterExecution:
          - {id: notify, type: return, format: "{{ execution.state }}"}
    """)
    assert s["state"] == "SUCCESS"
    assert task_runs(s, "notify")[0]["outputs"]["value"] == "SUCCESS"


def test_pause_with_duration_resumes_by_itself(runner):
    started = time.monotonic()
    s = run(runner, """
        id: timed-pause
        namespace: test.more
        tasks:
          - {id: p, type: pause, pauseDuration: PT0.5S}
          - {id: after, type: log, message: resumed}
    """)
    assert s["state"] == "SUCCESS"
    assert 0.4 < time.monotonic() - started < 5
